//! Durable journal commits against the disk's raw fdatasync rate.
//!
//! Run with `cargo bench -p edge-daemon --bench journal`. Prints a markdown table:
//!
//! 1. the raw rate of `fdatasync` after a 512-byte append, on the same file system as the store;
//! 2. [`Store::write`] with 1, 8 and 64 writer threads, one fresh store per row, each commit one
//!    `TokenIssued` event under its own idempotency key. Every commit is durable when it returns,
//!    so commits/s against the raw fdatasync rate shows what group commit buys.
//!
//! The raw rate is measured before and after the store rows, and the ratio column is against
//! the mean of the two, because the disk may be shared with other work.
//!
//! Environment:
//! - `BENCH_SECS`: seconds per measurement (default 3 for the raw row, 5 for each store row);
//! - `BENCH_DIR`: where the temporary files go (default: the workspace's `target/`, which is on
//!   the real disk; `/tmp` may be tmpfs on other machines, where fdatasync costs nothing).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edge_daemon::store::{IdemRequest, Planned, Store, StoreSettings, WriteOutcome};
use hdrhistogram::Histogram;

mod common;
use common::{bench_base, micros, new_hist};
use metrics::{Counter, Gauge, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use protocol::event::Actor;
use protocol::{Event, Role, StoreId, TokenId};
use sha2::{Digest, Sha256};

/// Writer thread counts, one store row each.
const WRITERS: [usize; 3] = [1, 8, 64];
const RECORD_LEN: usize = 512;

/// Counts the store's `journal_flush_seconds` records: one per shared flush (sled flush plus
/// fdatasync), so commits ÷ flushes is the mean group size.
static FLUSHES: AtomicU64 = AtomicU64::new(0);

#[derive(Debug)]
struct FlushCounter;

impl HistogramFn for FlushCounter {
    fn record(&self, _value: f64) {
        FLUSHES.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct CountFlushes;

impl Recorder for CountFlushes {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        if key.name() == "journal_flush_seconds" {
            metrics::Histogram::from_arc(Arc::new(FlushCounter))
        } else {
            metrics::Histogram::noop()
        }
    }
}

/// One line of the table.
#[derive(Debug)]
struct Row {
    what: String,
    ops: u64,
    secs: f64,
    hist: Histogram<u64>,
    /// Shared flushes, for store rows.
    flushes: Option<u64>,
    /// CPU seconds the process used during the row (user + system).
    cpu_secs: f64,
}

impl Row {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.secs
    }
}

/// User plus system CPU time of this process so far, from `/proc/self/stat` (USER_HZ = 100).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line; `rest` starts at field 3.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

fn secs_from_env(default: f64) -> Duration {
    let secs = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(default);
    Duration::from_secs_f64(secs)
}

/// 512-byte appends, each followed by `fdatasync`, for `dur`.
fn raw_fdatasync(dir: &Path, dur: Duration, when: &str) -> Row {
    let path = dir.join("fdatasync.bin");
    let mut file: File = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("create fdatasync test file");
    let record = [0xA5u8; RECORD_LEN];
    let mut hist = new_hist();
    let mut ops = 0u64;
    let cpu_before = cpu_secs();
    let start = Instant::now();
    let deadline = start + dur;
    while Instant::now() < deadline {
        let t = Instant::now();
        file.write_all(&record).expect("append");
        file.sync_data().expect("fdatasync");
        hist.saturating_record(micros(t.elapsed()));
        ops += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    Row {
        what: format!("raw fdatasync, {RECORD_LEN} B append ({when})"),
        ops,
        secs,
        hist,
        flushes: None,
        cpu_secs: cpu_secs() - cpu_before,
    }
}

fn token_event(key: &str) -> Event {
    Event::TokenIssued {
        token: TokenId::random(),
        role: Role::Associate,
        label: key.to_owned(),
        token_hash: Sha256::digest(key.as_bytes()).into(),
        by: Actor::Admin,
    }
}

/// `writers` threads, each calling `Store::write` in a loop for `dur`, on a fresh store.
fn store_row(base: &Path, writers: usize, dur: Duration) -> Row {
    let dir = tempfile::tempdir_in(base).expect("temp dir for the store");
    let store_id = StoreId::new("bench").expect("store id");
    let store = Store::open(dir.path(), &store_id, &StoreSettings::default()).expect("open store");
    let barrier = Arc::new(Barrier::new(writers + 1));
    let handles: Vec<_> = (0..writers)
        .map(|t| {
            let store = store.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut hist = new_hist();
                let mut n = 0u64;
                barrier.wait();
                let deadline = Instant::now() + dur;
                while Instant::now() < deadline {
                    let key = format!("w{t}-{n}");
                    let idem = IdemRequest {
                        scope: "bench".to_owned(),
                        fingerprint: IdemRequest::fingerprint_of("POST", "/bench", key.as_bytes()),
                        key,
                    };
                    let began = Instant::now();
                    let outcome = store
                        .write(Some(&idem), |_reader| {
                            Ok::<_, ()>(Planned {
                                events: vec![token_event(&idem.key)],
                                response: idem.key.as_bytes().to_vec(),
                                ..Planned::default()
                            })
                        })
                        .expect("store write");
                    hist.saturating_record(micros(began.elapsed()));
                    assert!(matches!(outcome, WriteOutcome::Committed { .. }));
                    n += 1;
                }
                (n, hist)
            })
        })
        .collect();
    let flushes_before = FLUSHES.load(Ordering::Relaxed);
    let cpu_before = cpu_secs();
    barrier.wait();
    let start = Instant::now();
    let mut hist = new_hist();
    let mut ops = 0;
    for h in handles {
        let (n, th) = h.join().expect("writer thread");
        ops += n;
        hist.add(th).expect("merge histograms");
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu_before;
    let flushes = FLUSHES.load(Ordering::Relaxed) - flushes_before;
    let stats = store.stats().expect("store stats");
    assert_eq!(stats.journal_len, ops, "every commit is one journal entry");
    drop(store);
    drop(dir);
    Row {
        what: format!(
            "Store::write, {writers} writer{}",
            if writers == 1 { "" } else { "s" }
        ),
        ops,
        secs,
        hist,
        flushes: Some(flushes),
        cpu_secs: cpu,
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn today_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The file system type holding `path`, from the longest matching mount point.
fn fs_type(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (_dev, mnt, kind) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(mnt).then(|| (mnt.len(), kind.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, kind)| kind)
        .unwrap_or_else(|| "unknown".to_owned())
}

fn machine_line(dir: &Path) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let version = std::fs::read_to_string("/proc/version").unwrap_or_default();
    let kernel: Vec<&str> = version.split_whitespace().take(3).collect();
    format!(
        "{cpus} CPUs, {}, data on {} ({})",
        kernel.join(" "),
        fs_type(dir),
        dir.display()
    )
}

fn print_table(rows: &[Row], raw_rate: f64) {
    println!(
        "| what | commits (ops) | secs | ops/s | p50 µs | p99 µs | max µs \
         | × raw fdatasync | flushes | commits/flush | CPU cores busy |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let (flushes, group) = match r.flushes {
            Some(f) if f > 0 => (f.to_string(), format!("{:.1}", r.ops as f64 / f as f64)),
            Some(f) => (f.to_string(), "–".to_owned()),
            None => ("–".to_owned(), "–".to_owned()),
        };
        println!(
            "| {} | {} | {:.1} | {:.0} | {} | {} | {} | {:.2} | {} | {} | {:.2} |",
            r.what,
            r.ops,
            r.secs,
            r.rate(),
            r.hist.value_at_quantile(0.50),
            r.hist.value_at_quantile(0.99),
            r.hist.max(),
            r.rate() / raw_rate,
            flushes,
            group,
            r.cpu_secs / r.secs,
        );
    }
}

fn main() {
    metrics::set_global_recorder(CountFlushes).expect("install the flush-counting recorder");
    let base = bench_base();
    std::fs::create_dir_all(&base).expect("create the bench base dir");
    let base = base.canonicalize().unwrap_or(base);
    let raw_dur = secs_from_env(3.0);
    let row_dur = secs_from_env(5.0);

    // The disk is shared with other work, so fdatasync is measured before and after the store
    // rows; the ratio column compares against the mean of the two.
    let raw = |when: &str| {
        let raw_dir = tempfile::tempdir_in(&base).expect("temp dir for fdatasync");
        eprintln!(
            "raw fdatasync for {:.1} s in {}",
            raw_dur.as_secs_f64(),
            base.display()
        );
        raw_fdatasync(raw_dir.path(), raw_dur, when)
    };
    let mut rows = vec![raw("before")];
    for writers in WRITERS {
        eprintln!(
            "Store::write with {writers} writers for {:.1} s",
            row_dur.as_secs_f64()
        );
        rows.push(store_row(&base, writers, row_dur));
    }
    rows.push(raw("after"));
    let raw_rate = (rows[0].rate() + rows[rows.len() - 1].rate()) / 2.0;

    println!();
    println!("Durable journal commits, {}", today_utc());
    println!();
    println!("Machine: {}", machine_line(&base));
    println!();
    print_table(&rows, raw_rate);
}
