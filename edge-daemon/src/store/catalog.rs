//! The catalog's projection: one small head value, and the items, barcodes and prices kept per
//! SKU in a *generation*, so that a catalog of a million SKUs is neither one value nor one
//! transaction.
//!
//! | key (tree `pos`) | value |
//! |---|---|
//! | `catalog` | [`CatalogHead`], JSON: the catalog without products and prices, its generation |
//! | `catalog_gen` | the head's generation, `u32` big-endian (lookups read this, not the head) |
//! | `catalog_stage` | [`Stage`], JSON: a snapshot arriving in parts, not yet in effect |
//! | `#<gen>i/<sku>` | [`Item`], postcard |
//! | `#<gen>b/<barcode key>` | the SKU |
//! | `#<gen>p/<product id>` | the [`Product`] as loaded, postcard (deltas remove by product) |
//! | `#<gen>$/<sku>` | the SKU's prices, price book id → minor units, postcard |
//! | `#<gen>k/<book>\0<sku>` | empty: which SKUs a price book prices (deltas drop books) |
//!
//! `<gen>` is a `u32`, big-endian. A snapshot, in one document or in parts, fills a new
//! generation; its last part switches the head to it in one small write. A delta changes the
//! head's generation in place. Generations other than the head's and the stage's are dead:
//! [`super::Store::sweep_catalog`] deletes them in batches outside the journal, and `verify`
//! leaves them out of its comparison ([`is_dead`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::projection::{encode as enc, ApplyError, Proj, View};
use crate::domain::catalog::{
    check_price, remove, upsert, Catalog, CatalogChunk, CatalogDelta, CatalogError, Item,
    PriceBook, Product,
};

pub(crate) const HEAD: &[u8] = b"catalog";
pub(crate) const GEN: &[u8] = b"catalog_gen";
pub(crate) const STAGE: &[u8] = b"catalog_stage";
/// First byte of every generation key.
pub(crate) const GEN_PREFIX: u8 = b'#';

/// The loaded catalog as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogHead {
    pub gen: u32,
    pub products: u64,
    pub skus: u64,
    /// The catalog without products; its price books without prices ([`Catalog::head`]).
    pub catalog: Catalog,
}

/// A snapshot whose parts are still arriving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub gen: u32,
    pub version: u64,
    pub parts: u32,
    /// The next part expected.
    pub next: u32,
    pub products: u64,
    pub skus: u64,
    pub catalog: Catalog,
}

/// Why a catalog document does not apply.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Store(#[from] ApplyError),
}

/// A key of generation `gen`: `#`, the generation, `kind`, `/`, `rest`.
pub(crate) fn gkey(gen: u32, kind: u8, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(7 + rest.len());
    k.push(GEN_PREFIX);
    k.extend_from_slice(&gen.to_be_bytes());
    k.push(kind);
    k.push(b'/');
    k.extend_from_slice(rest);
    k
}

/// The generation of a generation key.
pub(crate) fn gen_of(key: &[u8]) -> Option<u32> {
    match key {
        [GEN_PREFIX, a, b, c, d, ..] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// Whether `key` belongs to a generation that is not in `live`.
pub(crate) fn is_dead(key: &[u8], live: &[u32]) -> bool {
    gen_of(key).is_some_and(|g| !live.contains(&g))
}

fn json_err(what: &'static str, e: impl ToString) -> ApplyError {
    ApplyError::Decode {
        what,
        detail: e.to_string(),
    }
}

fn get_json<T: serde::de::DeserializeOwned>(
    v: &impl View,
    key: &[u8],
    what: &'static str,
) -> Result<Option<T>, ApplyError> {
    v.get(Proj::Pos, key)?
        .map(|raw| serde_json::from_slice(&raw).map_err(|e| json_err(what, e)))
        .transpose()
}

fn put_json<T: Serialize>(v: &mut impl View, key: &[u8], value: &T) -> Result<(), ApplyError> {
    let raw = serde_json::to_vec(value).map_err(|e| json_err("catalog", e))?;
    v.put(Proj::Pos, key, raw)
}

fn get_pc<T: serde::de::DeserializeOwned>(
    v: &impl View,
    key: &[u8],
    what: &'static str,
) -> Result<Option<T>, ApplyError> {
    super::projection::load(v, Proj::Pos, key).map_err(|e| match e {
        ApplyError::Decode { detail, .. } => ApplyError::Decode { what, detail },
        other => other,
    })
}

/// The loaded catalog's head.
pub fn head(v: &impl View) -> Result<Option<CatalogHead>, ApplyError> {
    get_json(v, HEAD, "catalog head")
}

/// The snapshot in progress, if any.
pub fn stage(v: &impl View) -> Result<Option<Stage>, ApplyError> {
    get_json(v, STAGE, "catalog stage")
}

/// The generations in use: the head's and the stage's.
pub fn live_gens(v: &impl View) -> Result<Vec<u32>, ApplyError> {
    let mut live = Vec::new();
    if let Some(h) = head(v)? {
        live.push(h.gen);
    }
    if let Some(s) = stage(v)? {
        live.push(s.gen);
    }
    Ok(live)
}

fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, CatalogError> {
    serde_json::from_str(json).map_err(|e| CatalogError::Json(e.to_string()))
}

/// Applies a whole document: a snapshot (`base` `None`, one part) or a delta.
pub fn apply_load(
    v: &mut impl View,
    version: u64,
    base: Option<u64>,
    json: &str,
) -> Result<(), LoadError> {
    match base {
        None => apply_part(v, version, 0, 1, json),
        Some(_) => apply_delta(v, json),
    }
}

/// Applies part `part` of `parts` of snapshot `version`. Part 0 is a [`Catalog`] document and
/// starts a new generation (dropping any other snapshot in progress); later parts are
/// [`CatalogChunk`]s and must come in order; the last one puts the snapshot in effect.
pub fn apply_part(
    v: &mut impl View,
    version: u64,
    part: u32,
    parts: u32,
    json: &str,
) -> Result<(), LoadError> {
    let part_err = |reason: String| CatalogError::Part {
        version,
        part,
        parts,
        reason,
    };
    if parts == 0 || part >= parts {
        return Err(part_err("the part number must be below the number of parts".into()).into());
    }
    let current = head(v)?;
    let newer_than_current = |version: u64| match &current {
        Some(h) if version <= h.catalog.version => Err(CatalogError::Stale {
            version,
            current: h.catalog.version,
        }),
        _ => Ok(()),
    };
    newer_than_current(version)?;
    let (mut st, products, prices) = if part == 0 {
        let doc: Catalog = parse(json)?;
        if doc.version != version {
            return Err(part_err(format!("the document says version {}", doc.version)).into());
        }
        doc.validate_head()?;
        let gen = [current.as_ref().map(|h| h.gen), stage(v)?.map(|s| s.gen)]
            .into_iter()
            .flatten()
            .max()
            .map_or(1, |g| g.wrapping_add(1).max(1));
        let prices = doc
            .price_books
            .iter()
            .map(|b| (b.id.clone(), b.prices.clone()))
            .collect();
        let st = Stage {
            gen,
            version,
            parts,
            next: 0,
            products: 0,
            skus: 0,
            catalog: doc.head(),
        };
        (st, doc.products, prices)
    } else {
        let st = stage(v)?
            .filter(|s| s.version == version && s.parts == parts)
            .ok_or_else(|| part_err("no snapshot with this version and size is arriving".into()))?;
        if st.next != part {
            return Err(part_err(format!("part {} comes next", st.next)).into());
        }
        let chunk: CatalogChunk = parse(json)?;
        if chunk.version != version {
            return Err(part_err(format!("the document says version {}", chunk.version)).into());
        }
        (st, chunk.products, chunk.prices)
    };
    let cats = st.catalog.validate_head()?;
    for p in &products {
        add_product(v, st.gen, &st.catalog, &cats, p)?;
        st.products += 1;
        st.skus += p.variants.len() as u64;
    }
    for (book, prices) in &prices {
        add_prices(v, st.gen, &st.catalog, book, prices)?;
    }
    st.next = part + 1;
    if st.next < parts {
        put_json(v, STAGE, &st)?;
        return Ok(());
    }
    check_promotions(v, st.gen, &st.catalog)?;
    if v.get(Proj::Pos, STAGE)?.is_some() {
        v.del(Proj::Pos, STAGE)?;
    }
    let head = CatalogHead {
        gen: st.gen,
        products: st.products,
        skus: st.skus,
        catalog: st.catalog,
    };
    put_json(v, HEAD, &head)?;
    v.put(Proj::Pos, GEN, head.gen.to_be_bytes().to_vec())?;
    Ok(())
}

fn check_promotions(v: &impl View, gen: u32, c: &Catalog) -> Result<(), LoadError> {
    let cats = c.validate_head()?;
    let failed = std::cell::RefCell::new(None);
    let known = |sku: &str| match v.get(Proj::Pos, &gkey(gen, b'i', sku.as_bytes())) {
        Ok(found) => found.is_some(),
        Err(e) => {
            failed.borrow_mut().get_or_insert(e);
            false
        }
    };
    let checked = c.check_promotions(&cats, &known);
    if let Some(e) = failed.into_inner() {
        return Err(e.into());
    }
    Ok(checked?)
}

/// Writes a product's items and barcodes into `gen`; refuses SKUs and barcodes it already has.
fn add_product(
    v: &mut impl View,
    gen: u32,
    c: &Catalog,
    cats: &BTreeSet<&str>,
    p: &Product,
) -> Result<(), LoadError> {
    let items = c.check_product(cats, p)?;
    let pkey = gkey(gen, b'p', p.id.as_bytes());
    if v.get(Proj::Pos, &pkey)?.is_some() {
        return Err(CatalogError::Duplicate {
            what: "product",
            id: p.id.clone(),
        }
        .into());
    }
    for item in &items {
        let ikey = gkey(gen, b'i', item.sku.as_bytes());
        if v.get(Proj::Pos, &ikey)?.is_some() {
            return Err(CatalogError::Duplicate {
                what: "SKU",
                id: item.sku.clone(),
            }
            .into());
        }
        for code in &item.barcodes {
            let bkey = gkey(gen, b'b', code.as_bytes());
            if let Some(first) = v.get(Proj::Pos, &bkey)? {
                return Err(CatalogError::BarcodeClash {
                    code: code.clone(),
                    first: String::from_utf8_lossy(&first).into_owned(),
                    second: item.sku.clone(),
                }
                .into());
            }
            v.put(Proj::Pos, &bkey, item.sku.clone().into_bytes())?;
        }
        v.put(Proj::Pos, &ikey, enc(item))?;
    }
    v.put(Proj::Pos, &pkey, enc(p))?;
    Ok(())
}

fn book_key(gen: u32, book: &str, sku: &str) -> Vec<u8> {
    let mut rest = book.as_bytes().to_vec();
    rest.push(0);
    rest.extend_from_slice(sku.as_bytes());
    gkey(gen, b'k', &rest)
}

fn prices_of(v: &impl View, gen: u32, sku: &str) -> Result<BTreeMap<String, i64>, ApplyError> {
    Ok(get_pc(v, &gkey(gen, b'$', sku.as_bytes()), "prices")?.unwrap_or_default())
}

fn put_prices(
    v: &mut impl View,
    gen: u32,
    sku: &str,
    prices: &BTreeMap<String, i64>,
) -> Result<(), ApplyError> {
    let key = gkey(gen, b'$', sku.as_bytes());
    if prices.is_empty() {
        v.del(Proj::Pos, &key)
    } else {
        v.put(Proj::Pos, &key, enc(prices))
    }
}

/// Sets prices of `book`, which `c` must declare, for SKUs `gen` holds.
fn add_prices(
    v: &mut impl View,
    gen: u32,
    c: &Catalog,
    book: &str,
    prices: &BTreeMap<String, i64>,
) -> Result<(), LoadError> {
    if !c.price_books.iter().any(|b| b.id == book) {
        return Err(CatalogError::Price {
            book: book.to_owned(),
            reason: "the catalog declares no such price book".into(),
        }
        .into());
    }
    for (sku, price) in prices {
        let known = v
            .get(Proj::Pos, &gkey(gen, b'i', sku.as_bytes()))?
            .is_some();
        check_price(book, sku, *price, known)?;
        let mut all = prices_of(v, gen, sku)?;
        all.insert(book.to_owned(), *price);
        put_prices(v, gen, sku, &all)?;
        v.put(Proj::Pos, &book_key(gen, book, sku), Vec::new())?;
    }
    Ok(())
}

fn book_prefix(gen: u32, book: &str) -> Vec<u8> {
    let mut rest = book.as_bytes().to_vec();
    rest.push(0);
    gkey(gen, b'k', &rest)
}

/// Removes every price of `book` in `gen`.
fn drop_book(v: &mut impl View, gen: u32, book: &str) -> Result<(), ApplyError> {
    let prefix = book_prefix(gen, book);
    for key in v.pos_keys_with_prefix(&prefix)? {
        let sku = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
        let mut all = prices_of(v, gen, &sku)?;
        all.remove(book);
        put_prices(v, gen, &sku, &all)?;
        v.del(Proj::Pos, &key)?;
    }
    Ok(())
}

/// Removes product `id`'s items and barcodes from `gen`, and the prices of those of its SKUs
/// that `keep` does not hold. Returns how many SKUs it had, or `None` if there is no such
/// product.
fn remove_product(
    v: &mut impl View,
    gen: u32,
    id: &str,
    keep: &BTreeSet<&str>,
) -> Result<Option<u64>, ApplyError> {
    let pkey = gkey(gen, b'p', id.as_bytes());
    let Some(old) = get_pc::<Product>(v, &pkey, "product")? else {
        return Ok(None);
    };
    for variant in &old.variants {
        let ikey = gkey(gen, b'i', variant.sku.as_bytes());
        if let Some(item) = get_pc::<Item>(v, &ikey, "item")? {
            for code in &item.barcodes {
                v.del(Proj::Pos, &gkey(gen, b'b', code.as_bytes()))?;
            }
        }
        v.del(Proj::Pos, &ikey)?;
        if !keep.contains(variant.sku.as_str()) {
            for book in prices_of(v, gen, &variant.sku)?.keys() {
                v.del(Proj::Pos, &book_key(gen, book, &variant.sku))?;
            }
            put_prices(v, gen, &variant.sku, &BTreeMap::new())?;
        }
    }
    v.del(Proj::Pos, &pkey)?;
    Ok(Some(old.variants.len() as u64))
}

/// Applies a [`CatalogDelta`] to the head's generation in place. Upserts replace by id;
/// removals name ids (unknown ids are ignored); a removed product takes its prices with it.
pub fn apply_delta(v: &mut impl View, json: &str) -> Result<(), LoadError> {
    let d: CatalogDelta = parse(json)?;
    let Some(mut h) = head(v)?.filter(|h| h.catalog.version == d.base_version) else {
        return Err(CatalogError::WrongBase {
            base: d.base_version,
            current: head(v)?.map(|h| h.catalog.version),
        }
        .into());
    };
    if d.version <= h.catalog.version {
        return Err(CatalogError::Stale {
            version: d.version,
            current: h.catalog.version,
        }
        .into());
    }
    let gen = h.gen;
    let mut c = h.catalog.clone();
    c.version = d.version;
    let refs_changed = d.tax.is_some() || !d.remove_categories.is_empty();
    if let Some(tax) = &d.tax {
        c.tax = tax.clone();
    }
    if let Some(policy) = &d.policy {
        c.policy = policy.clone();
    }
    remove(&mut c.categories, &d.remove_categories, |x| &x.id);
    upsert(&mut c.categories, &d.upsert_categories, |x| &x.id);
    remove(&mut c.promotions, &d.remove_promotions, |x| &x.id);
    upsert(&mut c.promotions, &d.upsert_promotions, |x| &x.id);
    let headers: Vec<PriceBook> = d
        .upsert_price_books
        .iter()
        .map(|b| PriceBook {
            prices: BTreeMap::new(),
            ..b.clone()
        })
        .collect();
    remove(&mut c.price_books, &d.remove_price_books, |x| &x.id);
    upsert(&mut c.price_books, &headers, |x| &x.id);
    let cats = c.validate_head()?;
    for id in &d.remove_products {
        if let Some(skus) = remove_product(v, gen, id, &BTreeSet::new())? {
            h.products -= 1;
            h.skus -= skus;
        }
    }
    for p in &d.upsert_products {
        let keep: BTreeSet<&str> = p.variants.iter().map(|x| x.sku.as_str()).collect();
        if let Some(skus) = remove_product(v, gen, &p.id, &keep)? {
            h.products -= 1;
            h.skus -= skus;
        }
        add_product(v, gen, &c, &cats, p)?;
        h.products += 1;
        h.skus += p.variants.len() as u64;
    }
    if refs_changed {
        check_item_refs(v, gen, &c, &cats)?;
    }
    for book in d
        .remove_price_books
        .iter()
        .chain(d.upsert_price_books.iter().map(|b| &b.id))
    {
        drop_book(v, gen, book)?;
    }
    for b in &d.upsert_price_books {
        add_prices(v, gen, &c, &b.id, &b.prices)?;
    }
    check_promotions(v, gen, &c)?;
    h.catalog = c;
    put_json(v, HEAD, &h)?;
    Ok(())
}

/// After the tax classes or categories changed: every item must still refer to known ones.
fn check_item_refs(
    v: &impl View,
    gen: u32,
    c: &Catalog,
    cats: &BTreeSet<&str>,
) -> Result<(), LoadError> {
    for key in v.pos_keys_with_prefix(&gkey(gen, b'p', b""))? {
        let Some(p) = get_pc::<Product>(v, &key, "product")? else {
            continue;
        };
        c.check_product(cats, &p)?;
    }
    Ok(())
}

/// The prefixes of `pos` that applying `event` will scan (a sled transaction cannot): the
/// price books a delta drops or replaces, and every product when its tax classes or categories
/// change. Read from the committed tree before the commit's transaction.
pub(crate) fn scan_prefixes(
    event: &protocol::Event,
    pos: &sled::Tree,
) -> Result<Vec<Vec<u8>>, super::StoreError> {
    let protocol::Event::CatalogLoaded {
        base_version: Some(_),
        json,
        ..
    } = event
    else {
        return Ok(Vec::new());
    };
    let (Ok(d), Ok(Some(h))) = (
        serde_json::from_str::<CatalogDelta>(json),
        head(&super::projection::PosOverlay::new(pos)),
    ) else {
        // Either fails the apply itself, with its own reason.
        return Ok(Vec::new());
    };
    let mut prefixes = Vec::new();
    for book in d
        .remove_price_books
        .iter()
        .chain(d.upsert_price_books.iter().map(|b| &b.id))
    {
        prefixes.push(book_prefix(h.gen, book));
    }
    if d.tax.is_some() || !d.remove_categories.is_empty() {
        prefixes.push(gkey(h.gen, b'p', b""));
    }
    Ok(prefixes)
}

/// Keys deleted per batch by [`super::Store::sweep_catalog`]; the writer lock is released
/// between batches so that sales do not wait behind a sweep.
const SWEEP_BATCH: usize = 5_000;

impl super::Store {
    /// Deletes the keys of dead catalog generations (module docs), in batches. Returns how many
    /// keys went. Cheap when there are none: it visits one key per generation.
    pub fn sweep_catalog(&self) -> Result<u64, super::StoreError> {
        let pos = &self.inner.trees.pos;
        let mut removed = 0u64;
        loop {
            let _guard = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            let live = live_gens(&super::projection::PosOverlay::new(pos)).map_err(|e| {
                super::StoreError::Corrupt {
                    what: "catalog",
                    detail: e.to_string(),
                }
            })?;
            let mut from = vec![GEN_PREFIX, 0, 0, 0, 0];
            let mut batch = sled::Batch::default();
            let mut n = 0;
            'gens: while let Some((k, _)) = pos.range(from.clone()..).next().transpose()? {
                let Some(gen) = gen_of(&k) else { break };
                let gen_end = gkey(gen.wrapping_add(1), 0, b"")[..5].to_vec();
                if live.contains(&gen) {
                    if gen == u32::MAX {
                        break;
                    }
                    from = gen_end;
                    continue;
                }
                for key in pos.range(k.to_vec()..gen_end.clone()).keys() {
                    batch.remove(key?);
                    n += 1;
                    if n == SWEEP_BATCH {
                        break 'gens;
                    }
                }
                if gen == u32::MAX {
                    break;
                }
                from = gen_end;
            }
            if n == 0 {
                break;
            }
            pos.apply_batch(batch)?;
            removed += n as u64;
        }
        if removed > 0 {
            self.flush()?;
            tracing::info!(keys = removed, "swept dead catalog generations");
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests;
