//! A catalog of 1,000,000 SKUs: import time, database size and daemon memory, then barcode
//! lookups (p50/p99), beside the same data written to plain sled and to SQLite.
//!
//! Run with `cargo bench -p edge-daemon --bench catalog`. Prints two markdown tables.
//!
//! - **edge-daemon**: the real binary on a fresh data directory on the real disk. The
//!   catalog goes in as a snapshot in parts of `BENCH_PART` SKUs (default 1,000: about 150 KB
//!   of JSON, where a document may have 240 KiB) over HTTP, each part one durable, journaled,
//!   validated write (`POST /v1/pos/catalog`). Memory is the
//!   daemon's resident set from `/proc` (peak `VmHWM` and `VmRSS` after). Lookups are
//!   `GET /v1/pos/items?barcode=…` from one client over loopback (item, price, stock), and
//!   the same lookup in process through the store's reader after the daemon stopped.
//! - **plain sled**: the same items, barcodes and prices as postcard values in one sled tree,
//!   one batch and one flush per part: no journal, no checks, no HTTP. The floor.
//! - **SQLite**: tables `item` and `barcode` (indexed) and `price`, one transaction per part,
//!   WAL with `synchronous=FULL`; lookups are one prepared join.
//!
//! Environment: `BENCH_SKUS` (default 1,000,000), `BENCH_PART`, `BENCH_LOOKUPS` (default
//! 20,000), `BENCH_DIR` (default: the workspace's `target/`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

mod common;
use common::{bench_base, client, micros, new_hist, post, start_daemon};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.trim().replace('_', "").parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// The GTIN-13 of SKU number `n`: prefix 2 (in-store numbers), the number, a check digit.
fn gtin(n: usize) -> String {
    let body = format!("2{n:011}");
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

fn sku(n: usize) -> String {
    format!("SKU-{n:07}")
}

fn price(n: usize) -> i64 {
    99 + (n as i64 * 37) % 20_000
}

fn product(n: usize) -> Value {
    json!({"id": format!("P-{n:07}"), "name": format!("Product {n} of the big catalog"),
        "category": "general", "tax_class": "standard",
        "variants": [{"sku": sku(n), "barcodes": [gtin(n)]}]})
}

/// Part `part` of the snapshot: the header with the first products, or a chunk.
fn part_json(part: usize, part_size: usize, skus: usize) -> String {
    let range = part * part_size..((part + 1) * part_size).min(skus);
    let products: Vec<Value> = range.clone().map(product).collect();
    let prices: BTreeMap<String, i64> = range.map(|n| (sku(n), price(n))).collect();
    let doc = if part == 0 {
        json!({"version": 1000, "currency": "USD",
            "tax": {"inclusive": false, "classes": {"standard": [
                {"jurisdiction": "state", "rate_ppm": 60000}]}},
            "categories": [{"id": "general", "name": "General"}],
            "products": products,
            "price_books": [{"id": "base", "prices": prices}]})
    } else {
        json!({"version": 1000, "products": products, "prices": {"base": prices}})
    };
    doc.to_string()
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(path).expect("read dir").flatten() {
        let meta = entry.metadata().expect("metadata");
        total += if meta.is_dir() {
            dir_size(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

/// `VmHWM` and `VmRSS` of `pid`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

struct Import {
    what: &'static str,
    secs: f64,
    bytes: u64,
    peak_kib: Option<u64>,
    after_kib: Option<u64>,
}

struct Lookups {
    what: &'static str,
    hist: Histogram<u64>,
    n: usize,
}

/// Random SKU numbers, the same for every row.
fn sample(skus: usize, n: usize) -> Vec<usize> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % skus as u64) as usize
        })
        .collect()
}

fn barcode_key(n: usize) -> String {
    edge_daemon::domain::barcode::Barcode::parse(&gtin(n))
        .expect("a valid GTIN")
        .key()
}

/// The daemon's import and its lookups, over HTTP and then in process.
fn daemon_rows(
    base: &Path,
    skus: usize,
    part_size: usize,
    picks: &[usize],
) -> (Import, [Lookups; 2]) {
    let (mut daemon, token) = start_daemon(base, "technician");
    let pid = daemon.child.id();
    let http = client();
    let parts = skus.div_ceil(part_size);
    let (_, idle_kib) = memory_kib(pid);
    let start = Instant::now();
    for part in 0..parts {
        let body = json!({"kind": "snapshot", "json": part_json(part, part_size, skus),
            "part": part, "parts": parts});
        let url = format!("{}/v1/pos/catalog", daemon.base);
        let answer = post(&http, &url, &token, &format!("part-{part}"), body);
        assert_eq!(answer["in_effect"], part + 1 == parts, "{answer}");
    }
    let secs = start.elapsed().as_secs_f64();
    let (peak, after) = memory_kib(pid);
    eprintln!("daemon RSS before the import: {idle_kib} KiB");
    let mut hist = new_hist();
    for n in picks {
        let t = Instant::now();
        let resp = http
            .get(format!("{}/v1/pos/items?barcode={}", daemon.base, gtin(*n)))
            .bearer_auth(&token)
            .send()
            .expect("lookup");
        let items: Value = resp.json().expect("JSON");
        hist.saturating_record(micros(t.elapsed()));
        assert_eq!(items[0]["sku"], sku(*n), "{items}");
        assert_eq!(items[0]["price_minor"], price(*n), "{items}");
    }
    let over_http = Lookups {
        what: "edge-daemon: GET /v1/pos/items?barcode= (HTTP, item + price + stock)",
        hist,
        n: picks.len(),
    };
    // The same lookups in process, through the store the daemon wrote.
    let _ = daemon.child.kill();
    let _ = daemon.child.wait();
    let data = daemon.dir.path().join("data");
    let bytes = dir_size(&data);
    let store = edge_daemon::store::Store::open_existing(&data, &Default::default())
        .expect("open the daemon's store");
    // Every part is in the journal and decodes (a journal the cloud link and verify can read).
    let mut journaled = 0;
    let mut from = 0;
    loop {
        let page = store.journal_after(from, 1_000).expect("journal decodes");
        let Some(last) = page.last() else { break };
        from = last.seq;
        journaled += page
            .iter()
            .filter(|e| e.event.kind() == "catalog_part_loaded")
            .count();
    }
    assert_eq!(journaled, parts, "every part journaled once");
    let reader = store.reader();
    let catalog = reader.catalog().expect("catalog").expect("loaded");
    let at = protocol::Timestamp(0);
    let keys: Vec<String> = picks.iter().map(|n| barcode_key(*n)).collect();
    let mut hist = new_hist();
    for (n, key) in picks.iter().zip(&keys) {
        let t = Instant::now();
        let item = reader.item_by_barcode(key).expect("lookup").expect("found");
        let p = reader.price_of(&catalog, &item.sku, at).expect("price");
        hist.saturating_record(micros(t.elapsed()));
        assert_eq!(p.map(|m| m.minor), Some(price(*n)));
    }
    let import = Import {
        what: "edge-daemon: parts over HTTP, journaled and checked",
        secs,
        bytes,
        peak_kib: Some(peak),
        after_kib: Some(after),
    };
    let in_process = Lookups {
        what: "edge-daemon store, in process (item + price)",
        hist,
        n: picks.len(),
    };
    (import, [over_http, in_process])
}

/// The floor: the same values in one sled tree, a batch per part, no journal, no checks.
fn sled_rows(base: &Path, skus: usize, part_size: usize, picks: &[usize]) -> (Import, Lookups) {
    let dir = tempfile::tempdir_in(base).expect("sled directory");
    let db = sled::Config::new()
        .path(dir.path().join("sled"))
        .cache_capacity(64 * 1024 * 1024)
        .flush_every_ms(None)
        .open()
        .expect("open sled");
    let start = Instant::now();
    for part in 0..skus.div_ceil(part_size) {
        let mut batch = sled::Batch::default();
        for n in part * part_size..((part + 1) * part_size).min(skus) {
            let item = (
                sku(n),
                format!("P-{n:07}"),
                format!("Product {n} of the big catalog"),
            );
            batch.insert(
                format!("i/{}", sku(n)).as_bytes(),
                postcard::to_stdvec(&item).unwrap(),
            );
            batch.insert(
                format!("b/{}", barcode_key(n)).as_bytes(),
                sku(n).as_bytes(),
            );
            let prices = BTreeMap::from([("base".to_owned(), price(n))]);
            batch.insert(
                format!("$/{}", sku(n)).as_bytes(),
                postcard::to_stdvec(&prices).unwrap(),
            );
        }
        db.apply_batch(batch).expect("batch");
        // Durable per part, as the daemon's parts are (sled also keeps every dirty page in
        // memory until a flush).
        db.flush().expect("flush");
    }
    let secs = start.elapsed().as_secs_f64();
    let keys: Vec<String> = picks.iter().map(|n| barcode_key(*n)).collect();
    let mut hist = new_hist();
    for (n, key) in picks.iter().zip(&keys) {
        let t = Instant::now();
        let sku_b = db.get(format!("b/{key}")).expect("get").expect("barcode");
        let item = db
            .get([b"i/", sku_b.as_ref()].concat())
            .expect("get")
            .expect("item");
        let prices = db
            .get([b"$/", sku_b.as_ref()].concat())
            .expect("get")
            .expect("prices");
        let prices: BTreeMap<String, i64> = postcard::from_bytes(&prices).expect("prices");
        hist.saturating_record(micros(t.elapsed()));
        assert!(!item.is_empty());
        assert_eq!(prices["base"], price(*n));
    }
    drop(db);
    let import = Import {
        what: "plain sled: a batch and a flush per part",
        secs,
        bytes: dir_size(dir.path()),
        peak_kib: None,
        after_kib: None,
    };
    let lookups = Lookups {
        what: "plain sled, in process (3 gets)",
        hist,
        n: picks.len(),
    };
    (import, lookups)
}

/// SQLite: three tables, a transaction per part, WAL, `synchronous=FULL`.
fn sqlite_rows(base: &Path, skus: usize, part_size: usize, picks: &[usize]) -> (Import, Lookups) {
    let dir = tempfile::tempdir_in(base).expect("SQLite directory");
    let path = dir.path().join("catalog.sqlite");
    let mut db = rusqlite::Connection::open(&path).expect("open SQLite");
    db.pragma_update(None, "journal_mode", "WAL").expect("WAL");
    db.pragma_update(None, "synchronous", "FULL").expect("FULL");
    db.execute_batch(
        "CREATE TABLE item (sku TEXT PRIMARY KEY, product TEXT NOT NULL, name TEXT NOT NULL,
             category TEXT NOT NULL, tax_class TEXT NOT NULL);
         CREATE TABLE barcode (code TEXT PRIMARY KEY, sku TEXT NOT NULL);
         CREATE TABLE price (sku TEXT NOT NULL, book TEXT NOT NULL, minor INTEGER NOT NULL,
             PRIMARY KEY (sku, book));",
    )
    .expect("schema");
    let start = Instant::now();
    for part in 0..skus.div_ceil(part_size) {
        let tx = db.transaction().expect("begin");
        {
            let mut item = tx
                .prepare("INSERT INTO item VALUES (?1, ?2, ?3, 'general', 'standard')")
                .expect("prepare");
            let mut code = tx
                .prepare("INSERT INTO barcode VALUES (?1, ?2)")
                .expect("prepare");
            let mut cost = tx
                .prepare("INSERT INTO price VALUES (?1, 'base', ?2)")
                .expect("prepare");
            for n in part * part_size..((part + 1) * part_size).min(skus) {
                let name = format!("Product {n} of the big catalog");
                item.execute((sku(n), format!("P-{n:07}"), name))
                    .expect("item");
                code.execute((barcode_key(n), sku(n))).expect("barcode");
                cost.execute((sku(n), price(n))).expect("price");
            }
        }
        tx.commit().expect("commit");
    }
    let secs = start.elapsed().as_secs_f64();
    let keys: Vec<String> = picks.iter().map(|n| barcode_key(*n)).collect();
    let mut hist = new_hist();
    {
        let mut q = db
            .prepare(
                "SELECT item.sku, item.name, price.minor FROM barcode \
                 JOIN item ON item.sku = barcode.sku \
                 JOIN price ON price.sku = item.sku AND price.book = 'base' \
                 WHERE barcode.code = ?1",
            )
            .expect("prepare");
        for (n, key) in picks.iter().zip(&keys) {
            let t = Instant::now();
            let minor: i64 = q.query_row([key], |r| r.get(2)).expect("lookup");
            hist.saturating_record(micros(t.elapsed()));
            assert_eq!(minor, price(*n));
        }
    }
    db.pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .expect("checkpoint");
    drop(db);
    let import = Import {
        what: "SQLite: a transaction per part, WAL, synchronous=FULL",
        secs,
        bytes: dir_size(dir.path()),
        peak_kib: None,
        after_kib: None,
    };
    let lookups = Lookups {
        what: "SQLite, in process (one prepared join)",
        hist,
        n: picks.len(),
    };
    (import, lookups)
}

fn main() {
    let skus = env_usize("BENCH_SKUS", 1_000_000);
    let part_size = env_usize("BENCH_PART", 1_000);
    let picks = sample(skus, env_usize("BENCH_LOOKUPS", 20_000));
    let base = bench_base();
    std::fs::create_dir_all(&base).expect("bench directory");
    let (sled_import, sled_lookups) = sled_rows(&base, skus, part_size, &picks);
    let (daemon_import, [http, in_process]) = daemon_rows(&base, skus, part_size, &picks);
    let (sqlite_import, sqlite_lookups) = sqlite_rows(&base, skus, part_size, &picks);
    let floor = sled_import.secs;
    println!("{skus} SKUs in parts of {part_size}\n");
    println!(
        "| import | secs | SKUs/s | × plain sled time | on disk MiB | peak RSS MiB \
         | RSS after MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mib =
        |kib: Option<u64>| kib.map_or("–".to_owned(), |k| format!("{:.0}", k as f64 / 1024.0));
    for r in [&sled_import, &daemon_import, &sqlite_import] {
        println!(
            "| {} | {:.1} | {:.0} | {:.2} | {:.0} | {} | {} |",
            r.what,
            r.secs,
            skus as f64 / r.secs,
            r.secs / floor,
            r.bytes as f64 / (1024.0 * 1024.0),
            mib(r.peak_kib),
            mib(r.after_kib),
        );
    }
    let floor = sled_lookups.hist.value_at_quantile(0.5) as f64;
    println!("\n| barcode lookup | lookups | p50 µs | p99 µs | max µs | p50 × plain sled |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in [&sled_lookups, &in_process, &sqlite_lookups, &http] {
        let p50 = r.hist.value_at_quantile(0.5);
        println!(
            "| {} | {} | {} | {} | {} | {:.1} |",
            r.what,
            r.n,
            p50,
            r.hist.value_at_quantile(0.99),
            r.hist.max(),
            p50 as f64 / floor,
        );
    }
}
