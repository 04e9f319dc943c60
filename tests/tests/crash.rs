//! Crash test: many concurrent writers, the daemon killed with SIGKILL at random points and
//! restarted, many times. Every write the daemon acknowledged must be present exactly once, every
//! write whose answer was lost must complete exactly once when retried with its idempotency key,
//! and `verify` must pass after every crash.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::{cli, client, device_token, issue_token, new_key, Daemon};
use serde_json::{json, Value};

const CYCLES: usize = 24;
const WRITERS: usize = 16;

/// One pairing request as the client knows it.
#[derive(Debug, Clone)]
struct Sent {
    key: String,
    body: Value,
    /// The pairing id from a 2xx answer; `None` if the answer never came.
    acked: Option<String>,
}

fn post(base: &str, s: &Sent) -> reqwest::Result<reqwest::blocking::Response> {
    client()
        .post(format!("{base}/v1/pairing"))
        .header("idempotency-key", &s.key)
        .json(&s.body)
        .send()
}

fn pairing_id(resp: reqwest::blocking::Response) -> (bool, String) {
    let replayed = resp.headers().get("idempotent-replayed").is_some();
    assert_eq!(resp.status().as_u16(), 201, "pairing request failed");
    let v: Value = resp.json().expect("json answer");
    (
        replayed,
        v["pairing_id"].as_str().expect("pairing_id").to_owned(),
    )
}

/// Runs writers against `base` until `stop`; returns everything they sent.
fn write_until(base: &str, stop: &Arc<AtomicBool>) -> Vec<Sent> {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (base, stop, sent) = (base.to_owned(), stop.clone(), sent.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let body =
                        json!({ "device_name": format!("w{w}-{n}"), "token": device_token() });
                    let mut s = Sent {
                        key: new_key(),
                        body,
                        acked: None,
                    };
                    match post(&base, &s) {
                        Ok(r) if r.status().as_u16() == 201 => {
                            s.acked = r
                                .json::<Value>()
                                .ok()
                                .and_then(|v| v["pairing_id"].as_str().map(str::to_owned));
                        }
                        // Any other status would be a bug, reported by the checks below.
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => {}
                    }
                    let dead = s.acked.is_none();
                    sent.lock().unwrap().push(s);
                    if dead {
                        // The daemon is gone; the rest of this cycle's work is lost in flight.
                        break;
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("writer thread");
    }
    Arc::try_unwrap(sent).unwrap().into_inner().unwrap()
}

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).unwrap();
    u64::from_le_bytes(b) % n
}

#[test]
fn acknowledged_writes_survive_sigkill_exactly_once() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("data");
    let limits = [
        ("EDGE_PAIRING__PER_CLIENT_PER_MINUTE", "1000000"),
        ("EDGE_PAIRING__TOTAL_PER_MINUTE", "1000000"),
    ];
    let mut daemon = Daemon::start(&data, &limits).unwrap();
    let (port, envs) = daemon.identity();
    // key -> pairing id, for every write known to be committed.
    let mut committed: BTreeMap<String, String> = BTreeMap::new();
    let mut all: Vec<Sent> = Vec::new();
    let mut lost_answers = 0usize;
    let mut committed_before_kill = 0usize;
    for cycle in 0..CYCLES {
        let stop = Arc::new(AtomicBool::new(false));
        let killer = {
            let stop = stop.clone();
            let delay = Duration::from_millis(50 + random_below(350));
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                (stop, delay)
            })
        };
        let base = daemon.base.clone();
        let writers = std::thread::spawn({
            let stop = stop.clone();
            move || write_until(&base, &stop)
        });
        let (stop, delay) = killer.join().unwrap();
        // Kill first, then tell writers to stop: requests are in flight at the kill.
        daemon.kill();
        stop.store(true, Ordering::SeqCst);
        let sent = writers.join().unwrap();
        let acked = sent.iter().filter(|s| s.acked.is_some()).count();
        assert!(
            acked > 0 || cycle > 0,
            "no write got through in cycle {cycle}"
        );

        // After the crash, before restart: the store on disk is consistent.
        let out = cli(&data, &["verify"]).unwrap();
        assert!(
            out.status.success(),
            "verify failed after kill {cycle}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );

        daemon = Daemon::restart(&data, port, envs.clone()).unwrap();
        for mut s in sent {
            // Every request is retried with its key: an acknowledged one must replay the first
            // answer; one whose answer was lost must now complete (once).
            let (replayed, id) = pairing_id(post(&daemon.base, &s).unwrap());
            match &s.acked {
                Some(first) => {
                    assert!(
                        replayed,
                        "acknowledged write {} was not found after kill",
                        s.key
                    );
                    assert_eq!(first, &id, "a retry returned another answer");
                }
                None => {
                    lost_answers += 1;
                    // Replayed: it had committed before the kill, only the answer was lost.
                    committed_before_kill += usize::from(replayed);
                    s.acked = Some(id.clone());
                }
            }
            assert!(
                committed.insert(s.key.clone(), id).is_none(),
                "key used twice"
            );
            all.push(s);
        }
        eprintln!("cycle {cycle}: killed after {delay:?}, {acked} acknowledged writes");
    }

    // The journal holds each pairing exactly once, and nothing else but what we wrote.
    let tech = issue_token(&data, "technician").unwrap();
    let mut journal_ids: Vec<String> = Vec::new();
    let mut after = 0u64;
    loop {
        let page: Value = client()
            .get(format!(
                "{}/v1/journal?after={after}&limit=1000",
                daemon.base
            ))
            .bearer_auth(&tech)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            break;
        }
        for e in events {
            let seq = e["seq"].as_u64().unwrap();
            assert_eq!(seq, after + 1, "journal sequence has a gap");
            after = seq;
            if e["kind"] == "pairing_requested" {
                let p = &e["event"]["PairingRequested"]["pairing"];
                journal_ids.push(p.as_str().unwrap().to_owned());
            }
        }
    }
    let unique: BTreeSet<&String> = journal_ids.iter().collect();
    assert_eq!(
        unique.len(),
        journal_ids.len(),
        "a pairing was journaled twice"
    );
    let expected: BTreeSet<&String> = committed.values().collect();
    assert_eq!(unique, expected, "journal and acknowledged writes differ");
    assert_eq!(daemon.stop().unwrap(), Some(0), "clean shutdown");
    let out = cli(&data, &["verify"]).unwrap();
    assert!(
        out.status.success(),
        "final verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "{CYCLES} SIGKILL cycles, {} writes committed exactly once; {lost_answers} answers lost \
         in the kill, of which {committed_before_kill} had committed (the retry replayed them) \
         and the rest committed on retry",
        committed.len()
    );
    assert!(all.len() > CYCLES, "too few writes to mean anything");
}
