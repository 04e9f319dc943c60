//! The catalog projection against the in-memory model in [`crate::domain::catalog`], snapshots
//! in parts, dead generations and their sweep.

use protocol::event::Actor;
use protocol::{Event, StoreId, Timestamp};
use serde_json::json;

use super::*;
use crate::domain::catalog::{apply_catalog_delta, apply_catalog_snapshot};
use crate::store::pos::SAMPLE_CATALOG;
use crate::store::{Planned, Store, StoreError, StoreSettings, WriteError};

fn open(dir: &std::path::Path) -> Store {
    let id = StoreId::new("catalog-test").unwrap();
    Store::open(dir, &id, &StoreSettings::default()).unwrap()
}

/// Journals `event` if the store's own dry run accepts it; returns the refusal otherwise.
fn load(store: &Store, event: Event) -> Result<(), CatalogError> {
    let out = store.write(None, |r| {
        let checked = match &event {
            Event::CatalogLoaded {
                base_version, json, ..
            } => r.catalog_load(base_version.is_some(), json, Actor::Admin)?,
            Event::CatalogPartLoaded {
                version,
                part,
                parts,
                json,
                ..
            } => r.catalog_part(*version, *part, *parts, json, Actor::Admin)?,
            _ => unreachable!("catalog events only"),
        };
        match checked {
            Ok((event, _)) => Ok(Planned {
                events: vec![event],
                ..Default::default()
            }),
            Err(e) => Err(StoreError::Corrupt {
                what: "refused",
                detail: serde_json::to_string(&e.to_string()).unwrap(),
            }),
        }
    });
    match out {
        Ok(_) => Ok(()),
        Err(WriteError::Rejected(StoreError::Corrupt { detail, .. })) => {
            Err(CatalogError::Json(serde_json::from_str(&detail).unwrap()))
        }
        Err(e) => panic!("{e:?}"),
    }
}

fn snapshot(json: &str) -> Event {
    Event::CatalogLoaded {
        version: serde_json::from_str::<serde_json::Value>(json).unwrap()["version"]
            .as_u64()
            .unwrap(),
        base_version: None,
        json: json.to_owned(),
        by: Actor::Admin,
    }
}

fn delta(json: &serde_json::Value) -> Event {
    Event::CatalogLoaded {
        version: json["version"].as_u64().unwrap(),
        base_version: json["base_version"].as_u64(),
        json: json.to_string(),
        by: Actor::Admin,
    }
}

fn part(version: u64, part: u32, parts: u32, json: &serde_json::Value) -> Event {
    Event::CatalogPartLoaded {
        version,
        part,
        parts,
        json: json.to_string(),
        by: Actor::Admin,
    }
}

/// Every SKU of `model` reads back from the store with the same item and the same prices, and
/// the store has no other.
fn assert_matches_model(store: &Store, model: &Catalog) {
    let r = store.reader();
    let head = r.catalog_head().unwrap().unwrap();
    assert_eq!(head.catalog, model.head());
    let items = model.validate().unwrap();
    assert_eq!(head.skus, items.len() as u64);
    assert_eq!(head.products, model.products.len() as u64);
    for item in &items {
        assert_eq!(
            r.item(&item.sku).unwrap().as_ref(),
            Some(item),
            "{}",
            item.sku
        );
        for code in &item.barcodes {
            assert_eq!(r.item_by_barcode(code).unwrap().as_ref(), Some(item));
        }
        for at in [0, 1_500, 10_000_000_000_000] {
            let at = Timestamp(at);
            assert_eq!(
                r.price_of(&head.catalog, &item.sku, at).unwrap(),
                model.price_of(&item.sku, at),
                "{} at {at:?}",
                item.sku
            );
        }
        assert_eq!(
            r.prices(&item.sku).unwrap().len(),
            model
                .price_books
                .iter()
                .filter(|b| b.prices.contains_key(&item.sku))
                .count()
        );
    }
    assert_eq!(r.search_items("", usize::MAX).unwrap(), items);
    let report = store.verify().unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}

#[test]
fn deltas_give_what_the_model_gives() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    load(&store, snapshot(SAMPLE_CATALOG)).unwrap();
    let mut model = apply_catalog_snapshot(None, SAMPLE_CATALOG).unwrap();
    assert_matches_model(&store, &model);
    let first = model.products[0].clone();
    let sku0 = first.variants[0].sku.clone();
    let last = model.products.last().unwrap().id.clone();
    let base_book = model.price_books[0].id.clone();
    let deltas = [
        // A new book with dates, and a product gone (its prices go with it).
        json!({"version": 2, "base_version": 1,
            "upsert_price_books": [{"id": "promo", "priority": 5, "starts_at": 1000,
                "ends_at": 2000, "prices": {sku0.clone(): 7}}],
            "remove_products": [last]}),
        // A product changes its variants: the kept SKU keeps its prices, a new one has none.
        json!({"version": 3, "base_version": 2,
            "upsert_products": [{"id": first.id, "name": "Renamed", "category": first.category,
                "tax_class": first.tax_class, "variants": [
                    {"sku": sku0.clone(), "barcodes": ["76123450"]},
                    {"sku": "NEW-1"}]}]}),
        // The base book replaced by a smaller one; the promo book dropped.
        json!({"version": 4, "base_version": 3,
            "upsert_price_books": [{"id": base_book, "prices": {sku0.clone(): 900, "NEW-1": 5}}],
            "remove_price_books": ["promo"]}),
    ];
    for d in &deltas {
        load(&store, delta(d)).unwrap();
        model = apply_catalog_delta(Some(&model), &d.to_string()).unwrap();
        assert_matches_model(&store, &model);
    }
    // Refusals change nothing.
    let refused = [
        json!({"version": 9, "base_version": 3}),
        json!({"version": 4, "base_version": 4}),
        json!({"version": 5, "base_version": 4, "remove_categories": [first.category]}),
        json!({"version": 5, "base_version": 4,
            "tax": {"inclusive": false, "classes": {}}}),
        json!({"version": 5, "base_version": 4,
            "upsert_price_books": [{"id": "x", "prices": {"GHOST": 1}}]}),
        json!({"version": 5, "base_version": 4,
            "upsert_products": [{"id": "dup", "name": "Dup", "category": first.category,
                "tax_class": first.tax_class, "variants": [{"sku": "NEW-1"}]}]}),
    ];
    for d in &refused {
        let before = store.journal_after(0, usize::MAX).unwrap().len();
        assert!(load(&store, delta(d)).is_err(), "{d}");
        assert_eq!(store.journal_after(0, usize::MAX).unwrap().len(), before);
        // The model drops prices of unknown SKUs silently; the store refuses them.
        if !d.to_string().contains("GHOST") {
            assert!(
                apply_catalog_delta(Some(&model), &d.to_string()).is_err(),
                "model: {d}"
            );
        }
    }
    assert_matches_model(&store, &model);
}

fn chunk(version: u64, from: usize, to: usize) -> serde_json::Value {
    let products: Vec<_> = (from..to)
        .map(|n| {
            json!({"id": format!("p{n}"), "name": format!("Bulk {n}"), "category": "home",
                "tax_class": "standard", "variants": [{"sku": format!("B-{n}")}]})
        })
        .collect();
    let prices: serde_json::Map<String, serde_json::Value> = (from..to)
        .map(|n| (format!("B-{n}"), json!(100 + n)))
        .collect();
    json!({"version": version, "products": products, "prices": {"base": prices}})
}

#[test]
fn a_snapshot_in_parts_takes_effect_with_its_last_part_and_the_old_generation_is_swept() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    load(&store, snapshot(SAMPLE_CATALOG)).unwrap();
    let mut first: serde_json::Value = serde_json::from_str(SAMPLE_CATALOG).unwrap();
    first["version"] = json!(7);
    let r = store.reader();

    load(&store, part(7, 0, 3, &first)).unwrap();
    // Out of order, wrong size, wrong version: refused, and the stage stays where it was.
    assert!(load(&store, part(7, 2, 3, &chunk(7, 10, 20))).is_err());
    assert!(load(&store, part(7, 1, 4, &chunk(7, 0, 10))).is_err());
    assert!(load(&store, part(8, 1, 3, &chunk(8, 0, 10))).is_err());
    load(&store, part(7, 1, 3, &chunk(7, 0, 10))).unwrap();
    // A SKU twice across parts is refused.
    assert!(load(&store, part(7, 2, 3, &chunk(7, 5, 20))).is_err());
    // Until the last part the box sells from version 1.
    assert_eq!(r.catalog().unwrap().unwrap().version, 1);
    assert!(r.item("B-3").unwrap().is_none());
    assert_eq!(r.catalog_stage().unwrap().unwrap().next, 2);
    assert!(store.verify().unwrap().ok());

    load(&store, part(7, 2, 3, &chunk(7, 10, 20))).unwrap();
    let head = r.catalog_head().unwrap().unwrap();
    assert_eq!(head.catalog.version, 7);
    assert!(r.catalog_stage().unwrap().is_none());
    let sample_skus = apply_catalog_snapshot(None, SAMPLE_CATALOG)
        .unwrap()
        .validate()
        .unwrap()
        .len() as u64;
    assert_eq!(head.skus, sample_skus + 20);
    let c = r.catalog().unwrap().unwrap();
    assert_eq!(
        r.price_of(&c, "B-13", Timestamp(0)).unwrap().unwrap().minor,
        113
    );
    // The sample's own SKUs came again in part 0, so they are still there.
    assert!(r.item("MUG-1").unwrap().is_some());

    // Generation 1 is dead: verify leaves it out, the sweep deletes it.
    let pos = &r.trees().pos;
    let dead = |pos: &sled::Tree| {
        pos.scan_prefix([GEN_PREFIX])
            .keys()
            .filter(|k| gen_of(k.as_ref().unwrap()) != Some(head.gen))
            .count()
    };
    let before = dead(pos);
    assert!(before > 0);
    assert!(store.verify().unwrap().ok());
    assert_eq!(store.sweep_catalog().unwrap(), before as u64);
    assert_eq!(dead(pos), 0);
    let report = store.verify().unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(store.sweep_catalog().unwrap(), 0, "nothing left to sweep");
    // A stale snapshot is refused.
    assert!(load(&store, snapshot(SAMPLE_CATALOG)).is_err());
}

#[test]
fn layout_2_is_rebuilt_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.load_sample_catalog().unwrap();
        // What layout 2 kept: the whole catalog as one JSON value and `item/` keys.
        let pos = &store.reader().trees().pos;
        pos.clear().unwrap();
        let whole = apply_catalog_snapshot(None, SAMPLE_CATALOG).unwrap();
        pos.insert(HEAD, serde_json::to_vec(&whole).unwrap())
            .unwrap();
        pos.insert(b"item/MUG-1", b"old".to_vec()).unwrap();
        let meta = store.inner.meta.clone();
        meta.insert(b"layout_version", &2u32.to_be_bytes()).unwrap();
        store.flush().unwrap();
    }
    let store = open(dir.path());
    let r = store.reader();
    assert_eq!(r.catalog().unwrap().unwrap().version, 1);
    assert!(r.item("MUG-1").unwrap().is_some());
    assert!(r.trees().pos.get(b"item/MUG-1").unwrap().is_none());
    let report = store.verify().unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}
