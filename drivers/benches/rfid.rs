//! Tag reads ingested per second through the whole RFID path on one thread: LLRP bytes in
//! (pre-encoded RO_ACCESS_REPORTs fed in 64 KiB chunks, as from a socket) → deframe and decode
//! → EPC decode → aggregate. Prints a markdown table, including "fixed readers per core"
//! against a reader producing ~1,100 reads/s (PROTOCOLS.md §4.4).
//!
//! Run: `cargo bench -p drivers --bench rfid`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use drivers::rfid::aggregate::Aggregator;
use drivers::rfid::epc::{self, encode_sgtin96};
use drivers::rfid::llrp::{Deframer, Message, TagReport};

/// Reads per second of one fixed reader (Impinj R420/R700 "1 100+ tags/s").
const READER_RATE: f64 = 1_100.0;

/// `messages` RO_ACCESS_REPORTs of `per_report` tags each, over a population of `tags` EPCs.
fn stream(messages: usize, per_report: usize, tags: usize) -> Vec<u8> {
    let epcs: Vec<Vec<u8>> = (0..tags)
        .map(|i| {
            let item = format!("0{:05}", 10_000 + i % 100);
            encode_sgtin96(1, "0614141", &item, i as u64)
                .unwrap()
                .to_vec()
        })
        .collect();
    let mut out = Vec::new();
    let mut k = 0usize;
    for m in 0..messages {
        let reads = (0..per_report)
            .map(|_| {
                k += 1;
                TagReport {
                    epc: epcs[k % tags].clone(),
                    antenna_id: Some((k % 4) as u16 + 1),
                    peak_rssi: Some(-40 - (k % 30) as i8),
                    first_seen_utc: Some(1_700_000_000_000_000 + k as u64),
                    last_seen_utc: Some(1_700_000_000_000_000 + k as u64),
                    tag_seen_count: Some(1),
                    ..TagReport::default()
                }
            })
            .collect();
        out.extend(Message::RoAccessReport(reads).encode(m as u32));
    }
    out
}

/// Runs the whole path over `bytes`; returns reads ingested and the time taken.
fn ingest(bytes: &[u8]) -> (u64, Duration) {
    let t0 = Instant::now();
    let mut deframer = Deframer::new();
    let mut agg = Aggregator::new();
    let mut reads = 0u64;
    let mut sgtins = 0u64;
    for chunk in bytes.chunks(64 * 1024) {
        deframer.push(chunk);
        while let Some((_, m)) = deframer.next_message().unwrap() {
            if let Message::RoAccessReport(tags) = m {
                for t in &tags {
                    if let Ok(epc::Epc::Sgtin(s)) = epc::decode(&t.epc) {
                        sgtins += s.company_prefix.value & 1;
                    }
                    agg.add(t);
                    reads += 1;
                }
            }
        }
    }
    black_box(sgtins);
    black_box(agg.flush());
    (reads, t0.elapsed())
}

fn main() {
    println!(
        "| scenario | reads | MiB | best of 5 | reads/s | fixed readers per core (1,100 reads/s) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, per_report, tags) in [
        ("1 tag per report, 1,000 EPCs", 1, 1_000),
        ("32 tags per report, 1,000 EPCs", 32, 1_000),
        ("32 tags per report, 50,000 EPCs", 32, 50_000),
    ] {
        let total_reads = 1_000_000;
        let bytes = stream(total_reads / per_report, per_report, tags);
        let mut best = Duration::MAX;
        let mut reads = 0;
        for _ in 0..5 {
            let (n, d) = ingest(&bytes);
            reads = n;
            best = best.min(d);
        }
        let rate = reads as f64 / best.as_secs_f64();
        println!(
            "| {name} | {reads} | {:.1} | {:.1} ms | {:.0} | {:.0} |",
            bytes.len() as f64 / (1 << 20) as f64,
            best.as_secs_f64() * 1e3,
            rate,
            rate / READER_RATE
        );
    }
}
