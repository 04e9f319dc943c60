use super::*;
use protocol::event::Actor;
use protocol::{Role, TokenId};

fn store_id() -> StoreId {
    StoreId::new("test-store").unwrap()
}

fn open(dir: &Path) -> Store {
    Store::open(dir, &store_id(), &StoreSettings::default()).unwrap()
}

fn issue(label: &str) -> Event {
    Event::TokenIssued {
        token: TokenId::random(),
        role: Role::Associate,
        label: label.to_owned(),
        token_hash: *TokenId::random()
            .0
            .as_bytes()
            .repeat(2)
            .first_chunk::<32>()
            .unwrap(),
        by: Actor::Admin,
    }
}

fn idem(key: &str, body: &[u8]) -> IdemRequest {
    IdemRequest {
        scope: "tester".into(),
        key: key.into(),
        fingerprint: IdemRequest::fingerprint_of("POST", "/x", body),
    }
}

fn plan(events: Vec<Event>, response: &str) -> Result<Planned, ()> {
    Ok(Planned {
        events,
        response: response.as_bytes().to_vec(),
        ..Default::default()
    })
}

#[test]
fn writes_are_journaled_in_order_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        for i in 0..3 {
            let out = store
                .write(None, |_| plan(vec![issue(&format!("t{i}"))], "ok"))
                .unwrap();
            assert_eq!(
                out,
                WriteOutcome::Committed {
                    response: b"ok".to_vec(),
                    last_seq: i + 1
                }
            );
        }
    }
    let store = open(dir.path());
    let journal = store.journal_after(0, 100).unwrap();
    assert_eq!(
        journal.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(store.reader().tokens().unwrap().len(), 3);
    assert_eq!(
        store.stats().unwrap(),
        StoreStats {
            journal_len: 3,
            last_seq: 3
        }
    );
    assert!(store.verify().unwrap().ok());
}

#[test]
fn a_retry_with_the_same_key_returns_the_first_answer_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let req = idem("k1", b"body");
    let first = store
        .write(Some(&req), |_| plan(vec![issue("a")], "first"))
        .unwrap();
    let second = store
        .write(Some(&req), |_| plan(vec![issue("b")], "second"))
        .unwrap();
    assert_eq!(
        second,
        WriteOutcome::Replayed {
            response: b"first".to_vec()
        }
    );
    assert_eq!(first.response(), second.response());
    assert_eq!(store.stats().unwrap().last_seq, 1);
}

#[test]
fn the_same_key_with_another_body_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .write(Some(&idem("k", b"one")), |_| plan(vec![issue("a")], "x"))
        .unwrap();
    let err = store
        .write(Some(&idem("k", b"two")), |_| plan(vec![issue("b")], "y"))
        .unwrap_err();
    assert!(matches!(err, WriteError::IdempotencyConflict));
    assert_eq!(store.stats().unwrap().last_seq, 1);
}

#[test]
fn a_rejected_decision_changes_nothing_and_does_not_burn_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let req = idem("k", b"b");
    let err = store
        .write(Some(&req), |_| Err::<Planned, _>("no"))
        .unwrap_err();
    assert!(matches!(err, WriteError::Rejected("no")));
    assert_eq!(store.stats().unwrap().last_seq, 0);
    let ok = store
        .write(Some(&req), |_| plan(vec![issue("a")], "yes"))
        .unwrap();
    assert!(matches!(ok, WriteOutcome::Committed { last_seq: 1, .. }));
}

#[test]
fn concurrent_writers_get_gap_free_unique_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        let events = vec![issue(&format!("{t}-{i}")), issue("pair")];
                        match store.write(None, |_| plan(events, "")).unwrap() {
                            WriteOutcome::Committed { last_seq, .. } => last_seq,
                            other => panic!("unexpected {other:?}"),
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut lasts: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    lasts.sort_unstable();
    let expected: Vec<u64> = (1..=200).map(|i| i * 2).collect();
    assert_eq!(
        lasts, expected,
        "each write of two events ends on an even, unique sequence"
    );
    let report = store.verify().unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events, 400);
}

#[test]
fn verify_reports_a_projection_that_disagrees_with_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.write(None, |_| plan(vec![issue("a")], "")).unwrap();
    assert!(store.verify().unwrap().ok());
    // Tamper: a token that no event created, and a changed value.
    let tokens = &store.inner.trees.tokens;
    let (k, _) = tokens.iter().next().unwrap().unwrap();
    tokens.insert(k, b"garbage".to_vec()).unwrap();
    tokens.insert([7u8; 32], b"ghost".to_vec()).unwrap();
    let report = store.verify().unwrap();
    assert!(!report.ok());
    assert_eq!(report.problems.len(), 2, "{report:?}");
    assert!(report.problems.iter().any(|p| p.contains("differs")));
    assert!(report
        .problems
        .iter()
        .any(|p| p.contains("not in the journal")));
}

#[test]
fn verify_reports_a_gap_in_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for _ in 0..3 {
        store.write(None, |_| plan(vec![issue("a")], "")).unwrap();
    }
    store.inner.journal.remove(2u64.to_be_bytes()).unwrap();
    let report = store.verify().unwrap();
    assert!(
        report.problems.iter().any(|p| p.contains("gap")),
        "{report:?}"
    );
}

#[test]
fn a_newer_layout_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store
            .inner
            .meta
            .insert(META_LAYOUT, &(LAYOUT_VERSION + 1).to_be_bytes())
            .unwrap();
        store.flush().unwrap();
    }
    let err = Store::open(dir.path(), &store_id(), &StoreSettings::default()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::FutureLayout { found, .. } if found == LAYOUT_VERSION + 1));
    assert!(msg.contains("newer than this build"), "{msg}");
}

#[test]
fn another_stores_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let other = StoreId::new("other").unwrap();
    let err = Store::open(dir.path(), &other, &StoreSettings::default()).unwrap_err();
    assert!(matches!(err, StoreError::WrongStore { .. }), "{err}");
}

#[test]
fn layout_1_migrates_by_indexing_idempotency_keys_by_time() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store
            .write(Some(&idem("old", b"b")), |_| plan(vec![issue("a")], "r"))
            .unwrap();
        // Turn it into a layout-1 database: no time index, version 1.
        store.inner.idem_by_time.clear().unwrap();
        store
            .inner
            .meta
            .insert(META_LAYOUT, &1u32.to_be_bytes())
            .unwrap();
        store.flush().unwrap();
    }
    let store = open(dir.path());
    assert_eq!(
        read_u32(&store.inner.meta, META_LAYOUT).unwrap(),
        Some(LAYOUT_VERSION)
    );
    assert_eq!(store.inner.idem_by_time.len(), 1);
    // The migrated key still answers retries.
    let again = store
        .write(Some(&idem("old", b"b")), |_| plan(vec![], "new"))
        .unwrap();
    assert_eq!(
        again,
        WriteOutcome::Replayed {
            response: b"r".to_vec()
        }
    );
}

#[test]
fn old_idempotency_keys_expire_and_recent_ones_stay() {
    let dir = tempfile::tempdir().unwrap();
    let settings = StoreSettings {
        idempotency_retention_hours: 1,
        ..Default::default()
    };
    let store = Store::open(dir.path(), &store_id(), &settings).unwrap();
    store
        .write(Some(&idem("recent", b"b")), |_| plan(vec![], "r"))
        .unwrap();
    // An entry two hours old, written as the store would have written it then.
    let old = IdemRequest {
        key: "old".into(),
        ..idem("", b"b")
    };
    let at = now().plus_millis(-2 * 3_600_000);
    let rec = IdemRecord {
        fingerprint: old.fingerprint,
        response: b"o".to_vec(),
        at,
    };
    store
        .inner
        .idem
        .insert(old.scoped_key(), rec.encode())
        .unwrap();
    store
        .inner
        .idem_by_time
        .insert(idempotency::time_key(at, &old.scoped_key()), &[])
        .unwrap();
    assert_eq!(store.expire_idempotency_keys().unwrap(), 1);
    assert!(store.inner.idem.get(old.scoped_key()).unwrap().is_none());
    assert!(store
        .inner
        .idem
        .get(idem("recent", b"b").scoped_key())
        .unwrap()
        .is_some());
}

fn job(device: &str, what: &str) -> NewPrintJob {
    NewPrintJob {
        id: uuid::Uuid::new_v4(),
        device: device.into(),
        what: what.into(),
        payload: what.as_bytes().to_vec(),
    }
}

fn enqueue(store: &Store, key: &str, j: NewPrintJob) -> WriteOutcome {
    store
        .write(Some(&idem(key, j.what.as_bytes())), |_| {
            Ok::<_, ()>(Planned {
                print_jobs: vec![j],
                ..Default::default()
            })
        })
        .unwrap()
}

#[test]
fn print_jobs_are_queued_once_per_key_and_served_in_order_per_device() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = job("p1", "a");
    enqueue(&store, "k1", first.clone());
    // A retry with the same key enqueues nothing.
    let again = enqueue(
        &store,
        "k1",
        NewPrintJob {
            id: uuid::Uuid::new_v4(),
            ..first.clone()
        },
    );
    assert!(matches!(again, WriteOutcome::Replayed { .. }));
    enqueue(&store, "k2", job("p2", "b"));
    enqueue(&store, "k3", job("p1", "c"));
    assert_eq!(store.print_jobs(None, 10).unwrap().len(), 3);
    let next = store.next_print_job("p1").unwrap().unwrap();
    assert_eq!(
        (next.id, next.state.clone(), next.seq),
        (first.id, JobState::Queued, 1)
    );
    store
        .update_print_job(next.id, JobState::Done, true)
        .unwrap();
    let next = store.next_print_job("p1").unwrap().unwrap();
    assert_eq!(next.what, "c");
    let done = store.print_job(first.id).unwrap().unwrap();
    assert_eq!((done.state, done.attempts), (JobState::Done, 1));
    assert_eq!(store.print_jobs(Some("p2"), 10).unwrap().len(), 1);
}

#[test]
fn a_job_printing_at_a_crash_is_interrupted_not_reprinted() {
    let dir = tempfile::tempdir().unwrap();
    let j = job("p1", "receipt");
    {
        let store = open(dir.path());
        enqueue(&store, "k", j.clone());
        store
            .update_print_job(j.id, JobState::Printing, true)
            .unwrap();
    }
    let store = open(dir.path());
    let interrupted = store.interrupt_unfinished_print_jobs().unwrap();
    assert_eq!(interrupted.len(), 1);
    assert_eq!(
        store.print_job(j.id).unwrap().unwrap().state,
        JobState::Interrupted
    );
    assert!(store.next_print_job("p1").unwrap().is_none());
    assert!(
        store.verify().unwrap().ok(),
        "print jobs are not projections"
    );
}

#[test]
fn an_event_too_large_for_an_envelope_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .write(Some(&idem("small", b"")), |_| plan(vec![issue("a")], "r"))
        .unwrap();
    let big = "x".repeat(protocol::envelope::MAX_ENCODED_LEN);
    let err = store
        .write(Some(&idem("big", b"")), |_| plan(vec![issue(&big)], "r"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            WriteError::Store(StoreError::EventTooLarge {
                kind: "token_issued",
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(store.journal_after(0, 10).unwrap().len(), 1);
    assert!(store
        .idempotency_record(&idem("big", b""))
        .unwrap()
        .is_none());
    let report = store.verify().unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}
