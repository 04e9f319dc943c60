//! The webhook sink against a real HTTP server on loopback (axum): the idempotency-key header
//! and JSON body, a retry after a 500, a 409 taken as accepted, and a permanent 4xx reported
//! as a refusal that stops only the refused store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use cloud_bridge::cloud::sink::{Sink, WebhookSink};
use protocol::event::Actor;
use protocol::{Envelope, Event, EventId, StoreId, Timestamp, TokenId};
use serde_json::Value;

/// What the OMS received: idempotency key and body, in arrival order.
type Log = Arc<Mutex<Vec<(String, Value)>>>;

/// The scripted answers of the fake OMS, by idempotency key: each request pops the first
/// answer; an empty or missing script answers 200.
type Script = Arc<Mutex<HashMap<String, Vec<u16>>>>;

async fn oms(
    State((log, script)): State<(Log, Script)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, &'static str) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    log.lock().unwrap().push((key.clone(), body));
    let status = script
        .lock()
        .unwrap()
        .get_mut(&key)
        .filter(|answers| !answers.is_empty())
        .map_or(200, |answers| answers.remove(0));
    let status = StatusCode::from_u16(status).unwrap();
    (status, "scripted answer")
}

/// Starts the fake OMS on a free port in a thread of its own; returns its URL.
fn start_oms(log: Log, script: Script) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = Router::new()
                .route("/events", post(oms))
                .with_state((log, script));
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    format!("http://{addr}/events")
}

fn env(store: &str, seq: u64) -> Envelope {
    Envelope {
        store: StoreId::new(store).unwrap(),
        seq,
        id: EventId::random(),
        at: Timestamp(1_700_000_000_000),
        event: Event::TokenRevoked {
            token: TokenId::random(),
            by: Actor::Admin,
        },
    }
}

#[test]
fn events_are_posted_with_their_key_retried_after_500_and_409_counts_as_accepted() {
    let (log, script): (Log, Script) = Default::default();
    script
        .lock()
        .unwrap()
        .insert("s1:1".into(), vec![500, 503, 200]);
    script.lock().unwrap().insert("s1:2".into(), vec![409]);
    let url = start_oms(log.clone(), script);
    let mut sink = WebhookSink::new(&url)
        .unwrap()
        .with_first_retry(Duration::from_millis(10));
    let batch = [env("s1", 1), env("s1", 2), env("s1", 3)];
    let refused = sink.accept(&batch).unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    let got = log.lock().unwrap().clone();
    let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    // Three tries for the first event, one each for the others, in order.
    assert_eq!(keys, ["s1:1", "s1:1", "s1:1", "s1:2", "s1:3"]);
    let (_, body) = &got[4];
    assert_eq!(body["store"], "s1");
    assert_eq!(body["seq"], 3);
    assert_eq!(body["kind"], "token_revoked");
    assert_eq!(body["id"], serde_json::to_value(batch[2].id).unwrap());
    assert_eq!(body["at"], 1_700_000_000_000i64);
}

#[test]
fn a_permanent_4xx_is_a_refusal_that_stops_only_its_store() {
    let (log, script): (Log, Script) = Default::default();
    script.lock().unwrap().insert("a:2".into(), vec![422]);
    let url = start_oms(log.clone(), script);
    let mut sink = WebhookSink::new(&url)
        .unwrap()
        .with_first_retry(Duration::from_millis(10));
    let batch = [
        env("a", 1),
        env("b", 1),
        env("a", 2),
        env("a", 3),
        env("b", 2),
    ];
    let refused = sink.accept(&batch).unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    let r = &refused[0];
    assert_eq!((r.store.as_str(), r.seq, r.status), ("a", 2, 422));
    assert_eq!(r.detail, "scripted answer");
    let keys: Vec<String> = log.lock().unwrap().iter().map(|(k, _)| k.clone()).collect();
    // a:2 tried once, a:3 never; store b goes on.
    assert_eq!(keys, ["a:1", "b:1", "a:2", "b:2"]);
}
