//! The catalog: products with variants (each variant one SKU), barcodes, categories, tax
//! classes, price books with effective dates, the tax configuration and the promotions.
//!
//! A catalog arrives as a versioned JSON document: a full snapshot
//! ([`apply_catalog_snapshot`]) or a delta on top of a known version ([`apply_catalog_delta`]).
//! Both validate the result as a whole; a delta whose base is not the current version is
//! refused with [`CatalogError::WrongBase`], and the caller asks for a full snapshot.
//!
//! # Prices
//! A SKU's price at time `t` comes from the price books in effect at `t`
//! (`starts_at ≤ t < ends_at`, either bound optional) that list it: the highest `priority`
//! wins, then the latest `starts_at`, then the smallest book id. Prices are minor units of the
//! catalog's one currency, never negative.

use std::collections::{BTreeMap, BTreeSet};

use protocol::pos::{LineItem, PriceBasis};
use protocol::{Currency, Money, Timestamp};
use serde::{Deserialize, Serialize};

use super::barcode::{Barcode, BarcodeError};
use super::promo::{Promotion, PromotionError};
use super::tax::{TaxConfig, TaxError};

/// A department or sub-department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub parent: Option<String>,
}

/// One sellable variant of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub sku: String,
    /// Appended to the product's name, e.g. "Red / M".
    #[serde(default)]
    pub name: Option<String>,
    /// GTIN-8/12/13/14 or store codes, as printed.
    #[serde(default)]
    pub barcodes: Vec<String>,
}

/// A product and its variants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub category: String,
    pub tax_class: String,
    pub variants: Vec<Variant>,
}

/// Prices of some SKUs, in effect for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceBook {
    pub id: String,
    #[serde(default)]
    pub priority: i32,
    /// Milliseconds since the epoch; absent means always.
    #[serde(default)]
    pub starts_at: Option<Timestamp>,
    #[serde(default)]
    pub ends_at: Option<Timestamp>,
    /// SKU → price in minor units.
    pub prices: BTreeMap<String, i64>,
}

impl PriceBook {
    fn in_effect(&self, at: Timestamp) -> bool {
        self.starts_at.is_none_or(|s| s <= at) && self.ends_at.is_none_or(|e| at < e)
    }
}

/// The store's selling policy, shipped with the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Days after a sale during which an associate may return it; absent means no limit.
    /// A manager may accept a return outside the window.
    #[serde(default)]
    pub return_days: Option<u32>,
    /// Returns without a receipt; absent means the store takes none.
    #[serde(default)]
    pub no_receipt: Option<NoReceiptPolicy>,
}

/// How a return without a receipt is priced and refunded. Only a manager accepts one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoReceiptPolicy {
    /// The unit price refunded: the price now, or the lowest in any price book.
    pub basis: PriceBasis,
    /// The tender the refund is given in.
    pub refund: NoReceiptRefund,
    /// The most one return without a receipt refunds, in minor units, tax included.
    pub limit: i64,
}

/// The tender of a refund without a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoReceiptRefund {
    /// A credit note for the next purchase.
    StoreCredit,
    Cash,
}

/// A whole catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub version: u64,
    pub currency: Currency,
    pub tax: TaxConfig,
    #[serde(default)]
    pub categories: Vec<Category>,
    pub products: Vec<Product>,
    #[serde(default)]
    pub price_books: Vec<PriceBook>,
    #[serde(default)]
    pub promotions: Vec<Promotion>,
    #[serde(default)]
    pub policy: Policy,
}

/// Changes on top of catalog version `base_version`, giving version `version`. Upserts
/// replace by id; removals name ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogDelta {
    pub version: u64,
    pub base_version: u64,
    #[serde(default)]
    pub tax: Option<TaxConfig>,
    #[serde(default)]
    pub policy: Option<Policy>,
    #[serde(default)]
    pub upsert_categories: Vec<Category>,
    #[serde(default)]
    pub remove_categories: Vec<String>,
    #[serde(default)]
    pub upsert_products: Vec<Product>,
    #[serde(default)]
    pub remove_products: Vec<String>,
    #[serde(default)]
    pub upsert_price_books: Vec<PriceBook>,
    #[serde(default)]
    pub remove_price_books: Vec<String>,
    #[serde(default)]
    pub upsert_promotions: Vec<Promotion>,
    #[serde(default)]
    pub remove_promotions: Vec<String>,
}

/// A part of a snapshot after the first (which is a [`Catalog`] document with the header and
/// the first products): more products, and prices of the price books the first part declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogChunk {
    pub version: u64,
    #[serde(default)]
    pub products: Vec<Product>,
    /// Price book id → SKU → price in minor units.
    #[serde(default)]
    pub prices: BTreeMap<String, BTreeMap<String, i64>>,
}

/// Why a catalog document is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("the document is not a catalog: {0}")]
    Json(String),
    #[error("delta is based on version {base}, but the store has version {current:?}")]
    WrongBase { base: u64, current: Option<u64> },
    #[error("part {part} of snapshot version {version} ({parts} parts): {reason}")]
    Part {
        version: u64,
        part: u32,
        parts: u32,
        reason: String,
    },
    #[error("version {version} is not newer than the store's version {current}")]
    Stale { version: u64, current: u64 },
    #[error("{what} id {id:?} appears twice")]
    Duplicate { what: &'static str, id: String },
    #[error("{what} id {id:?} is empty or longer than {MAX_ID} bytes")]
    BadId { what: &'static str, id: String },
    #[error("product {product:?} refers to unknown {what} {id:?}")]
    Unknown {
        product: String,
        what: &'static str,
        id: String,
    },
    #[error("product {product:?} has no variants")]
    NoVariants { product: String },
    #[error("barcode {code:?} is used by SKUs {first:?} and {second:?}")]
    BarcodeClash {
        code: String,
        first: String,
        second: String,
    },
    #[error("SKU {sku:?}: {source}")]
    Barcode { sku: String, source: BarcodeError },
    #[error("price book {book:?}: {reason}")]
    Price { book: String, reason: String },
    #[error("policy: {0}")]
    Policy(String),
    #[error(transparent)]
    Tax(#[from] TaxError),
    #[error(transparent)]
    Promotion(#[from] PromotionError),
}

/// The longest id (product, SKU, category, price book, promotion).
pub const MAX_ID: usize = 64;

fn check_id(what: &'static str, id: &str) -> Result<(), CatalogError> {
    if id.is_empty() || id.len() > MAX_ID {
        return Err(CatalogError::BadId {
            what,
            id: id.to_owned(),
        });
    }
    Ok(())
}

/// A sellable item: one variant with its product's attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub sku: String,
    pub product: String,
    pub name: String,
    pub category: String,
    pub tax_class: String,
    /// Lookup keys of its barcodes ([`Barcode::key`]).
    pub barcodes: Vec<String>,
}

impl Item {
    /// The cart line for this item at `unit_price`.
    pub fn line_item(&self, unit_price: Money) -> LineItem {
        LineItem {
            sku: self.sku.clone(),
            name: self.name.clone(),
            category: self.category.clone(),
            tax_class: self.tax_class.clone(),
            unit_price,
        }
    }
}

impl Catalog {
    /// Checks the catalog as a whole and returns its items in SKU order.
    pub fn validate(&self) -> Result<Vec<Item>, CatalogError> {
        let cats = self.validate_head()?;
        let mut products = BTreeSet::new();
        let mut items: BTreeMap<String, Item> = BTreeMap::new();
        let mut barcodes: BTreeMap<String, String> = BTreeMap::new();
        for p in &self.products {
            if !products.insert(p.id.as_str()) {
                return Err(CatalogError::Duplicate {
                    what: "product",
                    id: p.id.clone(),
                });
            }
            for item in self.check_product(&cats, p)? {
                for key in &item.barcodes {
                    if let Some(first) = barcodes.insert(key.clone(), item.sku.clone()) {
                        return Err(CatalogError::BarcodeClash {
                            code: key.clone(),
                            first,
                            second: item.sku.clone(),
                        });
                    }
                }
                let sku = item.sku.clone();
                if items.insert(sku.clone(), item).is_some() {
                    return Err(CatalogError::Duplicate {
                        what: "SKU",
                        id: sku,
                    });
                }
            }
        }
        for b in &self.price_books {
            for (sku, price) in &b.prices {
                check_price(&b.id, sku, *price, items.contains_key(sku))?;
            }
        }
        self.check_promotions(&cats, &|sku| items.contains_key(sku))?;
        Ok(items.into_values().collect())
    }

    /// The checks that need no products: tax, categories, price book headers, promotion ids,
    /// policy. Returns the category ids.
    pub fn validate_head(&self) -> Result<BTreeSet<&str>, CatalogError> {
        self.tax.validate()?;
        let mut cats = BTreeSet::new();
        for c in &self.categories {
            check_id("category", &c.id)?;
            if !cats.insert(c.id.as_str()) {
                return Err(CatalogError::Duplicate {
                    what: "category",
                    id: c.id.clone(),
                });
            }
        }
        let mut books = BTreeSet::new();
        for b in &self.price_books {
            check_id("price book", &b.id)?;
            if !books.insert(b.id.as_str()) {
                return Err(CatalogError::Duplicate {
                    what: "price book",
                    id: b.id.clone(),
                });
            }
            if let (Some(s), Some(e)) = (b.starts_at, b.ends_at) {
                if e <= s {
                    return Err(CatalogError::Price {
                        book: b.id.clone(),
                        reason: "ends_at is not after starts_at".into(),
                    });
                }
            }
        }
        let mut promos = BTreeSet::new();
        for p in &self.promotions {
            check_id("promotion", &p.id)?;
            if !promos.insert(p.id.as_str()) {
                return Err(CatalogError::Duplicate {
                    what: "promotion",
                    id: p.id.clone(),
                });
            }
        }
        if let Some(n) = &self.policy.no_receipt {
            if n.limit < 0 {
                return Err(CatalogError::Policy(
                    "no_receipt.limit cannot be negative".into(),
                ));
            }
        }
        Ok(cats)
    }

    /// Checks every promotion against the categories and the SKUs the store knows.
    pub fn check_promotions(
        &self,
        cats: &BTreeSet<&str>,
        sku_known: &dyn Fn(&str) -> bool,
    ) -> Result<(), CatalogError> {
        for p in &self.promotions {
            p.validate(cats, sku_known)?;
        }
        Ok(())
    }

    /// Checks one product on its own (ids, category, tax class, variants, barcodes) and returns
    /// its items. Clashes with other products are the caller's to find.
    pub fn check_product(
        &self,
        cats: &BTreeSet<&str>,
        p: &Product,
    ) -> Result<Vec<Item>, CatalogError> {
        check_id("product", &p.id)?;
        let unknown = |what, id: &str| CatalogError::Unknown {
            product: p.id.clone(),
            what,
            id: id.to_owned(),
        };
        if !cats.contains(p.category.as_str()) {
            return Err(unknown("category", &p.category));
        }
        if !self.tax.classes.contains_key(&p.tax_class) {
            return Err(unknown("tax class", &p.tax_class));
        }
        if p.variants.is_empty() {
            return Err(CatalogError::NoVariants {
                product: p.id.clone(),
            });
        }
        let mut items = Vec::with_capacity(p.variants.len());
        for v in &p.variants {
            check_id("SKU", &v.sku)?;
            let mut keys = Vec::with_capacity(v.barcodes.len());
            for raw in &v.barcodes {
                let key = Barcode::parse(raw)
                    .map_err(|source| CatalogError::Barcode {
                        sku: v.sku.clone(),
                        source,
                    })?
                    .key();
                keys.push(key);
            }
            let name = match &v.name {
                Some(n) => format!("{} {n}", p.name),
                None => p.name.clone(),
            };
            items.push(Item {
                sku: v.sku.clone(),
                product: p.id.clone(),
                name,
                category: p.category.clone(),
                tax_class: p.tax_class.clone(),
                barcodes: keys,
            });
        }
        Ok(items)
    }

    /// This catalog without its products and without the prices of its price books: what the
    /// store keeps as one value, next to the items and prices it keeps per SKU.
    pub fn head(&self) -> Catalog {
        Catalog {
            products: Vec::new(),
            price_books: self
                .price_books
                .iter()
                .map(|b| PriceBook {
                    prices: BTreeMap::new(),
                    ..b.clone()
                })
                .collect(),
            ..self.clone()
        }
    }

    /// The price among `prices` (price book id to minor units, one SKU's prices) that is in
    /// effect at `at` under this catalog's price books (module docs).
    pub fn price_among(&self, prices: &BTreeMap<String, i64>, at: Timestamp) -> Option<Money> {
        self.price_books
            .iter()
            .filter(|b| b.in_effect(at))
            .filter_map(|b| prices.get(&b.id).map(|p| (b, *p)))
            .max_by(|(a, _), (b, _)| {
                (a.priority, a.starts_at)
                    .cmp(&(b.priority, b.starts_at))
                    .then_with(|| b.id.cmp(&a.id))
            })
            .map(|(_, p)| Money::new(p, self.currency))
    }

    /// The lowest of `prices` (one SKU's prices by book) that belongs to one of this catalog's
    /// price books, in effect or not.
    pub fn lowest_among(&self, prices: &BTreeMap<String, i64>) -> Option<Money> {
        self.price_books
            .iter()
            .filter_map(|b| prices.get(&b.id))
            .min()
            .map(|p| Money::new(*p, self.currency))
    }

    /// `sku`'s prices by book, from this document's price books.
    fn prices_in_document(&self, sku: &str) -> BTreeMap<String, i64> {
        self.price_books
            .iter()
            .filter_map(|b| b.prices.get(sku).map(|p| (b.id.clone(), *p)))
            .collect()
    }

    /// The lowest price of `sku` in any of this document's price books, in effect or not.
    pub fn lowest_price_of(&self, sku: &str) -> Option<Money> {
        self.lowest_among(&self.prices_in_document(sku))
    }

    /// The price of `sku` at `at` (module docs), if a price book of this document lists it.
    pub fn price_of(&self, sku: &str, at: Timestamp) -> Option<Money> {
        self.price_among(&self.prices_in_document(sku), at)
    }
}

/// Checks one price of price book `book`.
pub fn check_price(book: &str, sku: &str, price: i64, sku_known: bool) -> Result<(), CatalogError> {
    let reason = if !sku_known {
        format!("unknown SKU {sku:?}")
    } else if price < 0 {
        format!("negative price for {sku:?}")
    } else {
        return Ok(());
    };
    Err(CatalogError::Price {
        book: book.to_owned(),
        reason,
    })
}

fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, CatalogError> {
    serde_json::from_str(json).map_err(|e| CatalogError::Json(e.to_string()))
}

/// Reads and validates a full snapshot; it must be newer than `current` if there is one.
pub fn apply_catalog_snapshot(
    current: Option<&Catalog>,
    json: &str,
) -> Result<Catalog, CatalogError> {
    let next: Catalog = parse(json)?;
    if let Some(cur) = current {
        if next.version <= cur.version {
            return Err(CatalogError::Stale {
                version: next.version,
                current: cur.version,
            });
        }
    }
    next.validate()?;
    Ok(next)
}

/// Replaces the elements of `list` with the ids of `new`, appending those it lacks.
pub(crate) fn upsert<T: Clone>(list: &mut Vec<T>, new: &[T], id: impl Fn(&T) -> &str) {
    for n in new {
        match list.iter_mut().find(|x| id(x) == id(n)) {
            Some(slot) => *slot = n.clone(),
            None => list.push(n.clone()),
        }
    }
}

/// Drops the elements of `list` whose id is in `ids`.
pub(crate) fn remove<T>(list: &mut Vec<T>, ids: &[String], id: impl Fn(&T) -> &str) {
    list.retain(|x| !ids.iter().any(|r| r == id(x)));
}

/// Applies a delta to `current`; refuses a delta whose base is not `current`'s version.
pub fn apply_catalog_delta(current: Option<&Catalog>, json: &str) -> Result<Catalog, CatalogError> {
    let d: CatalogDelta = parse(json)?;
    let cur = match current {
        Some(c) if c.version == d.base_version => c,
        other => {
            return Err(CatalogError::WrongBase {
                base: d.base_version,
                current: other.map(|c| c.version),
            })
        }
    };
    if d.version <= cur.version {
        return Err(CatalogError::Stale {
            version: d.version,
            current: cur.version,
        });
    }
    let mut next = cur.clone();
    next.version = d.version;
    if let Some(tax) = &d.tax {
        next.tax = tax.clone();
    }
    if let Some(policy) = &d.policy {
        next.policy = policy.clone();
    }
    remove(&mut next.categories, &d.remove_categories, |c| &c.id);
    upsert(&mut next.categories, &d.upsert_categories, |c| &c.id);
    remove(&mut next.products, &d.remove_products, |p| &p.id);
    upsert(&mut next.products, &d.upsert_products, |p| &p.id);
    remove(&mut next.price_books, &d.remove_price_books, |b| &b.id);
    upsert(&mut next.price_books, &d.upsert_price_books, |b| &b.id);
    remove(&mut next.promotions, &d.remove_promotions, |p| &p.id);
    upsert(&mut next.promotions, &d.upsert_promotions, |p| &p.id);
    // A removed product may leave prices behind; they go with it.
    let skus: BTreeSet<String> = next
        .products
        .iter()
        .flat_map(|p| p.variants.iter().map(|v| v.sku.clone()))
        .collect();
    for b in &mut next.price_books {
        b.prices.retain(|sku, _| skus.contains(sku));
    }
    next.validate()?;
    Ok(next)
}

/// Whether `item`'s name or SKU contains every one of `words` (lower case).
pub fn matches(item: &Item, words: &[String]) -> bool {
    let hay = format!("{} {}", item.name, item.sku).to_lowercase();
    words.iter().all(|w| hay.contains(w.as_str()))
}

/// Items whose name or SKU contains every word of `query`, case-insensitively, in the order
/// given, at most `limit`.
pub fn search<'a>(
    items: impl IntoIterator<Item = &'a Item>,
    query: &str,
    limit: usize,
) -> Vec<Item> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    items
        .into_iter()
        .filter(|i| matches(i, &words))
        .take(limit)
        .cloned()
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The sample catalog shipped with the daemon.
    pub(crate) const SAMPLE: &str = include_str!("../../sample/catalog.json");

    pub(crate) fn sample() -> Catalog {
        apply_catalog_snapshot(None, SAMPLE).expect("the sample catalog is valid")
    }

    #[test]
    fn the_sample_catalog_is_valid_and_priced() {
        let c = sample();
        let items = c.validate().unwrap();
        assert!(items.len() >= 10, "{}", items.len());
        for i in &items {
            assert!(
                c.price_of(&i.sku, Timestamp(0)).is_some(),
                "{} has no base price",
                i.sku
            );
        }
    }

    #[test]
    fn price_books_follow_effective_dates_and_priority() {
        let mut c = sample();
        let sku = c.products[0].variants[0].sku.clone();
        let base = c.price_of(&sku, Timestamp(0)).unwrap();
        c.price_books.push(PriceBook {
            id: "sale".into(),
            priority: 10,
            starts_at: Some(Timestamp(1_000)),
            ends_at: Some(Timestamp(2_000)),
            prices: BTreeMap::from([(sku.clone(), 1)]),
        });
        c.validate().unwrap();
        assert_eq!(c.price_of(&sku, Timestamp(999)), Some(base));
        assert_eq!(c.price_of(&sku, Timestamp(1_000)).unwrap().minor, 1);
        assert_eq!(c.price_of(&sku, Timestamp(1_999)).unwrap().minor, 1);
        assert_eq!(c.price_of(&sku, Timestamp(2_000)), Some(base));
        assert_eq!(c.price_of("no-such-sku", Timestamp(0)), None);
    }

    #[test]
    fn invalid_catalogs_are_refused_with_the_reason() {
        let mut c = sample();
        c.products[1].variants[0].sku = c.products[0].variants[0].sku.clone();
        assert!(matches!(c.validate(), Err(CatalogError::Duplicate { .. })));

        let mut c = sample();
        c.products[0].category = "nope".into();
        assert!(matches!(c.validate(), Err(CatalogError::Unknown { .. })));

        let mut c = sample();
        c.products[0].variants[0].barcodes = vec!["5901234123458".into()];
        assert!(matches!(c.validate(), Err(CatalogError::Barcode { .. })));

        let mut c = sample();
        let code = c.products[0].variants[0].barcodes[0].clone();
        c.products[1].variants[0].barcodes.push(code);
        assert!(matches!(
            c.validate(),
            Err(CatalogError::BarcodeClash { .. })
        ));

        let mut c = sample();
        c.price_books[0].prices.insert("ghost".into(), 100);
        assert!(matches!(c.validate(), Err(CatalogError::Price { .. })));
    }

    #[test]
    fn deltas_apply_on_their_base_only() {
        let c = sample();
        let v = c.version;
        let sku = c.products[0].variants[0].sku.clone();
        let delta = serde_json::json!({
            "version": v + 1,
            "base_version": v,
            "upsert_price_books": [{"id": "promo-week", "priority": 5,
                "prices": {sku.clone(): 7}}],
            "remove_products": [c.products.last().unwrap().id.clone()],
        })
        .to_string();
        let next = apply_catalog_delta(Some(&c), &delta).unwrap();
        assert_eq!(next.version, v + 1);
        assert_eq!(next.price_of(&sku, Timestamp(0)).unwrap().minor, 7);
        assert_eq!(next.products.len(), c.products.len() - 1);

        // The same delta against the new version has the wrong base.
        assert_eq!(
            apply_catalog_delta(Some(&next), &delta),
            Err(CatalogError::WrongBase {
                base: v,
                current: Some(v + 1)
            })
        );
        assert!(matches!(
            apply_catalog_delta(None, &delta),
            Err(CatalogError::WrongBase { current: None, .. })
        ));
        // A snapshot must be newer.
        assert!(matches!(
            apply_catalog_snapshot(Some(&next), SAMPLE),
            Err(CatalogError::Stale { .. })
        ));
    }

    #[test]
    fn search_matches_every_word() {
        let c = sample();
        let items = c.validate().unwrap();
        let first = &items[0];
        let word = first.name.split_whitespace().next().unwrap().to_uppercase();
        let found = search(&items, &word, 100);
        assert!(found.iter().any(|i| i.sku == first.sku));
        assert!(search(&items, "zzzz-no-match", 10).is_empty());
    }
}
