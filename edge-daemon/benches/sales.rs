//! Durable completed sales per second through the LAN API, beside the disk's raw fdatasync
//! rate and the same sales written to SQLite (WAL, `synchronous=FULL`).
//!
//! Run with `cargo bench -p edge-daemon --bench sales`. Prints a markdown table.
//!
//! - **edge-daemon**: the real `edge-daemon` binary (this build's), started on a fresh data
//!   directory on the real disk with the sample catalog and simulated devices off. `N` client
//!   threads each sell over HTTP on loopback, one sale after the other: open a sale, add a line,
//!   take a card tender, complete. Each of the four requests carries its own idempotency key and
//!   is answered only once it is on disk, so a sale is four durable commits.
//! - **SQLite**: the same four steps, each one `BEGIN IMMEDIATE … COMMIT` transaction on a
//!   connection per client thread (WAL, `synchronous=FULL`, a busy timeout for the writers'
//!   queue): create the sale, insert the line and price it, insert the tender, complete it and
//!   take the stock. No HTTP in front of it: this is the embedded store a POS would otherwise
//!   use, on its own.
//! - **raw fdatasync**: 512-byte appends each followed by `fdatasync`, before and after the rest;
//!   the ratio column divides by the mean of the two, because the disk is shared.
//!
//! Environment: `BENCH_SECS` (seconds per row, default 5), `BENCH_DIR` (default: the workspace's
//! `target/`, on the real disk).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

mod common;
use common::{bench_base, client, micros, new_hist, post, start_daemon};
use serde_json::json;

const CLIENTS: [usize; 3] = [1, 8, 64];

/// One measured row.
struct Row {
    what: String,
    clients: usize,
    sales: u64,
    commits_per_sale: u64,
    secs: f64,
    /// Per-sale latency in µs (per append for the raw rows, whose `sales` count appends).
    hist: Histogram<u64>,
}

fn secs_from_env() -> Duration {
    let secs = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(5.0);
    Duration::from_secs_f64(secs)
}

fn raw_fdatasync(dir: &Path, dur: Duration, when: &str) -> Row {
    let path = dir.join("sales-fdatasync.bin");
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("create the fdatasync file");
    let mut hist = new_hist();
    let mut n = 0u64;
    let start = Instant::now();
    while start.elapsed() < dur {
        let t = Instant::now();
        file.write_all(&[0xA5; 512]).expect("append");
        file.sync_data().expect("fdatasync");
        hist.saturating_record(micros(t.elapsed()));
        n += 1;
    }
    let _ = std::fs::remove_file(&path);
    Row {
        what: format!("raw fdatasync, 512 B append ({when})"),
        clients: 1,
        sales: n,
        commits_per_sale: 1,
        secs: start.elapsed().as_secs_f64(),
        hist,
    }
}

/// One sale over the API: open, a line, a card tender for the total, complete.
fn api_sale(http: &reqwest::blocking::Client, base: &str, token: &str, key: &str) {
    let sale = post(
        http,
        &format!("{base}/v1/pos/sales"),
        token,
        &format!("{key}-o"),
        json!({}),
    );
    let s = format!(
        "{base}/v1/pos/sales/{}",
        sale["id"].as_str().expect("sale id")
    );
    let cart = post(
        http,
        &format!("{s}/lines"),
        token,
        &format!("{key}-l"),
        json!({"sku": "MUG-1"}),
    );
    let card = json!({"kind": "card", "amount": cart["total"], "reference": "AUTH-1"});
    post(
        http,
        &format!("{s}/tenders"),
        token,
        &format!("{key}-t"),
        card,
    );
    let done = post(
        http,
        &format!("{s}/complete"),
        token,
        &format!("{key}-c"),
        json!(null),
    );
    assert_eq!(done["state"], "completed", "{done}");
}

/// `clients` threads selling through one daemon for `dur`.
fn daemon_row(base_dir: &Path, clients: usize, dur: Duration) -> Row {
    let (daemon, token) = start_daemon(base_dir, "associate");
    let (sales, hist, secs) = run_clients(clients, dur, |c| {
        let (http, base, token) = (client(), daemon.base.clone(), token.clone());
        move |n| api_sale(&http, &base, &token, &format!("bench-{c}-{n}"))
    });
    Row {
        what: "edge-daemon, LAN API (4 requests per sale)".to_owned(),
        clients,
        sales,
        commits_per_sale: 4,
        secs,
        hist,
    }
}

/// `clients` threads, each calling its seller (made by `seller(client number)`) with the sale
/// number until `dur` has passed, all starting together. Returns the sales, their latencies and
/// the wall time from the common start until the last thread stopped.
fn run_clients<F>(
    clients: usize,
    dur: Duration,
    seller: impl Fn(usize) -> F,
) -> (u64, Histogram<u64>, f64)
where
    F: FnMut(u64) + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (mut sell, barrier) = (seller(c), barrier.clone());
            std::thread::spawn(move || {
                let mut hist = new_hist();
                let mut n = 0u64;
                barrier.wait();
                let start = Instant::now();
                while start.elapsed() < dur {
                    let t = Instant::now();
                    sell(n);
                    hist.saturating_record(micros(t.elapsed()));
                    n += 1;
                }
                (n, hist)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut hist = new_hist();
    let mut sales = 0;
    for t in threads {
        let (n, h) = t.join().expect("client thread");
        sales += n;
        hist.add(h).expect("same histogram bounds");
    }
    (sales, hist, start.elapsed().as_secs_f64())
}

fn sqlite_open(path: &Path) -> rusqlite::Connection {
    let db = rusqlite::Connection::open(path).expect("open SQLite");
    db.busy_timeout(Duration::from_secs(60))
        .expect("busy timeout");
    db.pragma_update(None, "journal_mode", "WAL").expect("WAL");
    db.pragma_update(None, "synchronous", "FULL")
        .expect("synchronous=FULL");
    db
}

/// The same four steps as a sale over the API, each its own durable transaction.
fn sqlite_sale(db: &mut rusqlite::Connection, id: &str) {
    let step = |db: &mut rusqlite::Connection, sql: &[(&str, &[&dyn rusqlite::ToSql])]| {
        let tx = db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .expect("begin");
        for (q, params) in sql {
            tx.execute(q, *params).expect("statement");
        }
        tx.commit().expect("commit");
    };
    step(
        db,
        &[(
            "INSERT INTO sale (id, state, total) VALUES (?1, 'open', 0)",
            &[&id],
        )],
    );
    step(
        db,
        &[
            (
                "INSERT INTO line (sale, line, sku, quantity, unit_price) \
                 VALUES (?1, 1, 'MUG-1', 1, 1450)",
                &[&id],
            ),
            ("UPDATE sale SET total = 1421 WHERE id = ?1", &[&id]),
        ],
    );
    step(
        db,
        &[(
            "INSERT INTO tender (sale, kind, amount, reference) \
             VALUES (?1, 'card', 1421, 'AUTH-1')",
            &[&id],
        )],
    );
    step(
        db,
        &[
            ("UPDATE sale SET state = 'completed' WHERE id = ?1", &[&id]),
            (
                "UPDATE stock SET on_hand = on_hand - 1 WHERE sku = 'MUG-1'",
                &[],
            ),
        ],
    );
}

fn sqlite_row(base_dir: &Path, clients: usize, dur: Duration) -> Row {
    let dir = tempfile::tempdir_in(base_dir).expect("SQLite directory");
    let path = dir.path().join("pos.sqlite");
    sqlite_open(&path)
        .execute_batch(
            "CREATE TABLE sale (id TEXT PRIMARY KEY, state TEXT NOT NULL, total INTEGER NOT NULL);
             CREATE TABLE line (sale TEXT NOT NULL, line INTEGER NOT NULL, sku TEXT NOT NULL,
                 quantity INTEGER NOT NULL, unit_price INTEGER NOT NULL,
                 PRIMARY KEY (sale, line));
             CREATE TABLE tender (sale TEXT NOT NULL, kind TEXT NOT NULL,
                 amount INTEGER NOT NULL, reference TEXT);
             CREATE TABLE stock (sku TEXT PRIMARY KEY, on_hand INTEGER NOT NULL);
             INSERT INTO stock VALUES ('MUG-1', 0);",
        )
        .expect("schema");
    let (sales, hist, secs) = run_clients(clients, dur, |c| {
        let mut db = sqlite_open(&path);
        move |n| sqlite_sale(&mut db, &format!("sale-{c}-{n}"))
    });
    let done: i64 = sqlite_open(&path)
        .query_row(
            "SELECT count(*) FROM sale WHERE state = 'completed'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(done as u64, sales, "every SQLite sale completed");
    Row {
        what: "SQLite, WAL, synchronous=FULL (4 transactions per sale)".to_owned(),
        clients,
        sales,
        commits_per_sale: 4,
        secs,
        hist,
    }
}

fn main() {
    let dur = secs_from_env();
    let base = bench_base();
    std::fs::create_dir_all(&base).expect("bench directory");
    let mut rows = vec![raw_fdatasync(&base, Duration::from_secs(3), "before")];
    for clients in CLIENTS {
        rows.push(daemon_row(&base, clients, dur));
        rows.push(sqlite_row(&base, clients, dur));
    }
    rows.push(raw_fdatasync(&base, Duration::from_secs(3), "after"));
    let raw = (rows[0].sales as f64 / rows[0].secs
        + rows[rows.len() - 1].sales as f64 / rows[rows.len() - 1].secs)
        / 2.0;
    println!(
        "| what | clients | sales | secs | sales/s | durable commits/s | × raw fdatasync \
         | p50 ms | p99 ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let per_sec = r.sales as f64 / r.secs;
        let commits = per_sec * r.commits_per_sale as f64;
        let ms = |q: f64| r.hist.value_at_quantile(q) as f64 / 1000.0;
        let (sales, sales_per_sec) = if r.what.starts_with("raw") {
            ("–".to_owned(), "–".to_owned())
        } else {
            (r.sales.to_string(), format!("{per_sec:.0}"))
        };
        println!(
            "| {} | {} | {sales} | {:.1} | {sales_per_sec} | {:.0} | {:.2} | {:.2} | {:.2} |",
            r.what,
            r.clients,
            r.secs,
            commits,
            commits / raw,
            ms(0.5),
            ms(0.99)
        );
    }
}
