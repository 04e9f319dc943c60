//! The cloud link end to end: the real daemon, a real broker started here on a free port (no
//! persistence; Mosquitto, or the fallback rumqttd broker where Mosquitto is not installed, see
//! `e2e::cloud`), and the real `cloud-bridge run` with a JSON-lines sink.
//!
//! The outage test sells: card sales over the LAN API (open, line, tender, complete, each with
//! an Idempotency-Key kept across retries) from concurrent tills. The other tests write pairing
//! requests (`POST /v1/pairing`), each of which journals one event.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::cloud::{bridge_cli, fleet, read_sink, wait_for_sink, Bridge, Broker};
use e2e::{client, device_token, issue_token, new_key, Daemon};
use protocol::command::{Command, CommandBody, CommandResult, Module, Outcome};
use protocol::link::{Presence, PresenceState};
use protocol::{topics, BootId, CommandId, StoreId, Timestamp};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

const STORE: &str = "dev-store";

fn link_env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("EDGE_MQTT__URL", url.to_owned()),
        ("EDGE_MQTT__RECONNECT_MIN_MS", "100".into()),
        ("EDGE_MQTT__RECONNECT_MAX_MS", "1000".into()),
        ("EDGE_MQTT__ACK_TIMEOUT_MS", "2000".into()),
        ("EDGE_MQTT__KEEP_ALIVE_SECS", "5".into()),
        ("EDGE_MQTT__TELEMETRY_SECS", "1".into()),
        ("EDGE_PAIRING__PER_CLIENT_PER_MINUTE", "1000000".into()),
        ("EDGE_PAIRING__TOTAL_PER_MINUTE", "1000000".into()),
    ]
}

fn start_daemon(data: &Path, url: &str) -> Daemon {
    let env = link_env(url);
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Daemon::start(data, &refs).unwrap()
}

/// One pairing request; the pairing id if the daemon answered 201.
fn write_one(base: &str) -> Option<String> {
    let body = json!({ "device_name": "till", "token": device_token() });
    let r = client()
        .post(format!("{base}/v1/pairing"))
        .header("idempotency-key", new_key())
        .json(&body)
        .send()
        .ok()?;
    if r.status().as_u16() != 201 {
        return None;
    }
    let v: Value = r.json().ok()?;
    v["pairing_id"].as_str().map(str::to_owned)
}

/// `writers` threads write until `stop`; returns the acknowledged pairing ids.
fn write_until(base: &str, writers: usize, stop: &Arc<AtomicBool>) -> Vec<String> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..writers)
        .map(|_| {
            let (base, stop, acked) = (base.to_owned(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match write_one(&base) {
                        Some(id) => acked.lock().unwrap().push(id),
                        None => break,
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    Arc::try_unwrap(acked).unwrap().into_inner().unwrap()
}

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).unwrap();
    u64::from_le_bytes(b) % n
}

/// The pairing id of a journal or sink event of kind `pairing_requested`.
fn pairing_of(e: &Value) -> Option<String> {
    e["event"]["PairingRequested"]["pairing"]
        .as_str()
        .map(str::to_owned)
}

/// Every journal event (seq, event JSON) through the API.
fn journal(base: &str, tech: &str) -> Vec<Value> {
    // A page of 1,000 sales from a debug build on a busy 2-core machine can take seconds.
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let mut out = Vec::new();
    let mut after = 0u64;
    loop {
        let page: Value = http
            .get(format!("{base}/v1/journal?after={after}&limit=1000"))
            .bearer_auth(tech)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let events = page["events"].as_array().unwrap().clone();
        if events.is_empty() {
            return out;
        }
        after = events.last().unwrap()["seq"].as_u64().unwrap();
        out.extend(events);
    }
}

/// The sale id of a journal or sink event that completes a sale (either version).
fn completed_sale_of(e: &Value) -> Option<String> {
    ["SaleCompleted", "SaleCompletedV2"]
        .iter()
        .find_map(|k| e["event"][k]["sale"].as_str())
        .map(str::to_owned)
}

/// The sink holds exactly the journal, once, in order; every acknowledged write (`acked`, as
/// `id_of` names it in an event) is in it exactly once.
fn check_sink(
    sink: &Path,
    journal: &[Value],
    acked: &[String],
    id_of: fn(&Value) -> Option<String>,
) {
    wait_for_sink(sink, journal.len(), Duration::from_secs(180)).unwrap();
    // Anything the bridge would add late (a duplicate) shows up within this pause.
    std::thread::sleep(Duration::from_millis(1500));
    let lines = read_sink(sink);
    let mine: Vec<&Value> = lines.iter().filter(|l| l["store"] == STORE).collect();
    let seqs: Vec<u64> = mine.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    let want: Vec<u64> = (1..=journal.len() as u64).collect();
    assert_eq!(
        seqs.len(),
        want.len(),
        "sink has {} events, journal {}",
        seqs.len(),
        want.len()
    );
    assert_eq!(seqs, want, "sink is not the journal in order, once");
    for (s, j) in mine.iter().zip(journal) {
        assert_eq!(s["id"], j["id"], "event {} differs", j["seq"]);
    }
    let mut in_sink: BTreeMap<String, usize> = BTreeMap::new();
    for id in mine.iter().filter_map(|l| id_of(l)) {
        *in_sink.entry(id).or_default() += 1;
    }
    for id in acked {
        assert_eq!(
            in_sink.get(id),
            Some(&1),
            "acknowledged write {id} is not in the sink exactly once"
        );
    }
}

/// The sink holds exactly the journal, once, in order; every acknowledged pairing is in it.
fn check_sink_matches_journal(sink: &Path, journal: &[Value], acked: &[String]) {
    check_sink(sink, journal, acked, pairing_of);
}

/// How many sales the outage test writes, and with how many concurrent clients.
const SALES: usize = 10_000;
const TILLS: usize = 8;

/// A POS client that survives daemon kills: every request keeps its Idempotency-Key and is
/// retried with it until the daemon answers, so a request acknowledged before a kill replays its
/// answer and one that was not is applied once.
struct Till {
    http: reqwest::blocking::Client,
    base: String,
    token: String,
}

impl Till {
    fn post(&self, path: &str, body: &Value) -> Value {
        let key = new_key();
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let sent = self
                .http
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .header("idempotency-key", &key)
                .json(body)
                .send();
            match sent {
                Ok(r) if r.status().is_success() => {
                    // A kill can cut the body short: then ask again with the same key.
                    if let Ok(v) = r.json::<Value>() {
                        return v;
                    }
                }
                Ok(r) if r.status().is_server_error() => {}
                Ok(r) => panic!(
                    "POST {path}: {} {}",
                    r.status(),
                    r.text().unwrap_or_default()
                ),
                Err(_) => {}
            }
            assert!(
                std::time::Instant::now() < deadline,
                "POST {path} got no answer for 120 s"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// One card sale of a mug: open, line, tender, complete; its id once completed.
    fn sell(&self) -> String {
        let sale = self.post("/v1/pos/sales", &json!({ "till": null }));
        let sale = sale["id"].as_str().unwrap().to_owned();
        let s = format!("/v1/pos/sales/{sale}");
        let cart = self.post(&format!("{s}/lines"), &json!({ "sku": "MUG-1" }));
        let total = cart["total"].clone();
        assert!(total["minor"].as_i64().unwrap() > 0, "{cart}");
        let card = json!({ "kind": "card", "amount": total, "reference": "AUTH" });
        self.post(&format!("{s}/tenders"), &card);
        let done = self.post(&format!("{s}/complete"), &Value::Null);
        assert_eq!(done["state"], "completed", "{done}");
        sale
    }
}

#[test]
fn acknowledged_writes_reach_the_sink_once_in_order_through_kills_and_broker_outages() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (data, sink) = (dir.path().join("data"), dir.path().join("sink.jsonl"));
    let mut broker = Broker::start(dir.path()).unwrap();
    let url = broker.url();
    let mut bridge = Some(Bridge::start(&url, &sink).unwrap());
    // Every mug sold takes stock below zero, which the daemon warns about once per sale.
    let mut env = link_env(&url);
    env.push(("EDGE_LOG", "warn,edge_daemon::api::pos=error".into()));
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut daemon = e2e::Daemon::start(&data, &refs).unwrap();
    let (port, envs) = daemon.identity();
    let token = issue_token(&data, "associate").unwrap();
    let started = std::time::Instant::now();

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let tills: Vec<_> = (0..TILLS)
        .map(|_| {
            let till = Till {
                http: client(),
                base: daemon.base.clone(),
                token: token.clone(),
            };
            let acked = acked.clone();
            std::thread::spawn(move || loop {
                if acked.lock().unwrap().len() >= SALES {
                    return;
                }
                let sale = till.sell();
                acked.lock().unwrap().push(sale);
            })
        })
        .collect();

    // SIGKILL the daemon at random points until the count is reached; the broker is down from
    // 20 % to 45 % of the sales, and the cloud end is killed and restarted at 70 %.
    let (mut kills, mut outage, mut bridge_killed) = (0, (false, false), false);
    let done = |n: usize| n >= SALES;
    loop {
        std::thread::sleep(Duration::from_millis(1_000 + random_below(3_000)));
        let n = acked.lock().unwrap().len();
        if done(n) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "only {n} sales after {:?}",
            started.elapsed()
        );
        if !outage.0 && n >= SALES / 5 {
            broker.down();
            outage.0 = true;
            eprintln!("{n} sales: broker down");
        }
        if outage.0 && !outage.1 && n >= SALES * 45 / 100 {
            broker.up().unwrap();
            outage.1 = true;
            eprintln!("{n} sales: broker up");
        }
        if !bridge_killed && n >= SALES * 7 / 10 {
            // The cloud end crashes too, and recovers from its sink.
            bridge.take().unwrap().kill();
            bridge = Some(Bridge::start(&url, &sink).unwrap());
            bridge_killed = true;
        }
        daemon.kill();
        kills += 1;
        daemon = e2e::Daemon::restart(&data, port, envs.clone()).unwrap();
    }
    for t in tills {
        t.join().unwrap();
    }
    let acked = Arc::try_unwrap(acked).unwrap().into_inner().unwrap();
    eprintln!(
        "{} sales acknowledged in {:?} through {kills} kills",
        acked.len(),
        started.elapsed()
    );
    assert!(acked.len() >= SALES);
    assert!(outage.1 && bridge_killed && kills >= 3, "{kills} kills");
    let tech = issue_token(&data, "technician").unwrap();
    let journal = journal(&daemon.base, &tech);
    let completed = journal
        .iter()
        .filter_map(completed_sale_of)
        .collect::<Vec<_>>();
    assert_eq!(
        completed.len(),
        acked.len(),
        "a sale completed twice or was lost"
    );
    check_sink(&sink, &journal, &acked, completed_sale_of);
    eprintln!(
        "sink holds all {} journal events in order, once",
        journal.len()
    );
    assert!(bridge.as_mut().unwrap().running());
}

#[test]
fn a_broker_restart_without_persistence_mid_stream_loses_nothing() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (data, sink) = (dir.path().join("data"), dir.path().join("sink.jsonl"));
    let mut broker = Broker::start(dir.path()).unwrap();
    let url = broker.url();
    let daemon = start_daemon(&data, &url);
    // A backlog accumulates while the broker is down.
    broker.down();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (base, stop) = (daemon.base.clone(), stop.clone());
        std::thread::spawn(move || write_until(&base, 4, &stop))
    };
    std::thread::sleep(Duration::from_millis(1500));
    broker.up().unwrap();
    let _bridge = Bridge::start(&url, &sink).unwrap();
    // Mid-stream: some events delivered, writes still going on.
    wait_for_sink(&sink, 20, Duration::from_secs(30)).unwrap();
    broker.down();
    std::thread::sleep(Duration::from_millis(300));
    broker.up().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, Ordering::SeqCst);
    let acked = writer.join().unwrap();
    let tech = issue_token(&data, "technician").unwrap();
    let journal = journal(&daemon.base, &tech);
    eprintln!(
        "{} acknowledged writes, {} journal events",
        acked.len(),
        journal.len()
    );
    check_sink_matches_journal(&sink, &journal, &acked);
}

/// Messages received: topic and payload.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A small MQTT client for the tests: publish, and collect what arrives on some topics.
struct Client {
    client: AsyncClient,
    rt: tokio::runtime::Runtime,
    got: Received,
}

impl Client {
    fn connect(port: u16, subscribe: &[String]) -> Client {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let id = format!("test-{}", new_key());
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_max_packet_size(1024 * 1024, 1024 * 1024);
        let (client, mut events) = AsyncClient::new(opts, 64);
        let got: Received = Arc::default();
        let (c, g, subs) = (client.clone(), got.clone(), subscribe.to_vec());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        rt.spawn(async move {
            let mut pending = subs.len();
            if pending == 0 {
                let _ = ready_tx.send(());
            }
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        for s in &subs {
                            let _ = c.subscribe(s.clone(), QoS::AtLeastOnce).await;
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        pending = pending.saturating_sub(1);
                        if pending == 0 {
                            let _ = ready_tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => g
                        .lock()
                        .unwrap()
                        .push((p.topic.clone(), p.payload.to_vec())),
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Client { client, rt, got }
    }

    fn publish(&self, topic: &str, payload: Vec<u8>, retain: bool) {
        let c = self.client.clone();
        let topic = topic.to_owned();
        self.rt
            .block_on(async move { c.publish(topic, QoS::AtLeastOnce, retain, payload).await })
            .unwrap();
    }

    fn received(&self) -> Vec<(String, Vec<u8>)> {
        self.got.lock().unwrap().clone()
    }
}

/// The fleet view of the store once `pred` holds, polling.
fn fleet_until(url: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let start = std::time::Instant::now();
    for _ in 0..60 {
        let f = fleet(url).unwrap();
        if let Some(s) = f.as_array().unwrap().iter().find(|s| s["store"] == STORE) {
            if pred(s) {
                eprintln!("fleet state reached after {:?}", start.elapsed());
                return s.clone();
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "the fleet view never showed the expected state: {}",
        fleet(url).unwrap()
    );
}

#[test]
fn a_late_will_does_not_mark_a_reconnected_store_offline() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("data");
    let broker = Broker::start(dir.path()).unwrap();
    let url = broker.url();
    let daemon = start_daemon(&data, &url);
    let first = fleet_until(&url, |s| s["online"] == true);
    let s1 = first["session"].as_u64().unwrap();
    assert!(first["versions"]["edge-daemon"].is_string(), "{first}");
    assert!(first["modules"].as_array().unwrap().contains(&json!("pos")));
    // A crash: the broker publishes the will of session s1.
    daemon.kill();
    fleet_until(&url, |s| s["online"] == false && s["session"] == s1);
    let _daemon = start_daemon(&data, &url);
    let second = fleet_until(&url, |s| s["online"] == true);
    let s2 = second["session"].as_u64().unwrap();
    assert!(s2 > s1);
    // Now the late will of session s1 arrives, retained, as a broker that noticed the lost
    // connection late would publish it.
    let store = StoreId::new(STORE).unwrap();
    let will = Presence {
        store: store.clone(),
        state: PresenceState::Offline,
        session: s1,
        boot: BootId::random(),
        at: Timestamp(0),
        versions: vec![],
        modules: vec![],
    };
    let c = Client::connect(broker.port, &[]);
    c.publish(&topics::status(&store), will.encode(), true);
    std::thread::sleep(Duration::from_millis(800));
    // A viewer that starts now sees the store online in its current session.
    let after = fleet_until(&url, |s| s["online"] == true);
    assert_eq!(after["session"].as_u64(), Some(s2));
    // Telemetry arrived too: no cloud end runs here, so everything journaled is backlog.
    let t = fleet_until(&url, |s| s["backlog"].is_u64());
    let (last, wm) = (
        t["last_seq"].as_u64().unwrap(),
        t["watermark"].as_u64().unwrap(),
    );
    assert_eq!(t["backlog"].as_u64(), Some(last - wm), "{t}");
    assert_eq!(t["oldest_unacked_ms"].is_u64(), last > wm, "{t}");
}

#[test]
fn malformed_payloads_on_every_topic_crash_neither_end_and_commands_apply_once() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (data, sink) = (dir.path().join("data"), dir.path().join("sink.jsonl"));
    let broker = Broker::start(dir.path()).unwrap();
    let url = broker.url();
    let mut bridge = Bridge::start(&url, &sink).unwrap();
    let daemon = start_daemon(&data, &url);
    assert!(write_one(&daemon.base).is_some());
    wait_for_sink(&sink, 1, Duration::from_secs(30)).unwrap();

    let store = StoreId::new(STORE).unwrap();
    let results = topics::command_results(&store);
    let c = Client::connect(broker.port, std::slice::from_ref(&results));
    let mut junk: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xE5],
        vec![0xE5, 0x01, 0xFF, 0xFF, 0xFF],
        vec![0xE5, 0x09],
        vec![0xC1, 0x01, 0x0A],
        vec![0xA1, 0x01, 0x03, b'x'],
        vec![0xB1, 0x01],
        vec![0xD1, 0x01, 0x00],
        vec![0xFF; 300 * 1024],
    ];
    junk.push(
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
    );
    let all_topics = [
        topics::events(&store),
        topics::ack(&store),
        topics::commands(&store),
        results.clone(),
        topics::status(&store),
        topics::telemetry(&store),
        "store/other/events".to_owned(),
        "store/NOT A STORE/events".to_owned(),
    ];
    for t in &all_topics {
        for j in &junk {
            c.publish(t, j.clone(), false);
        }
    }
    // A command for another store on this store's topic.
    let foreign = Command {
        id: CommandId::random(),
        store: StoreId::new("other").unwrap(),
        issued_at: Timestamp(0),
        body: CommandBody::SetModule {
            module: Module::Omni,
            enabled: true,
        },
    };
    c.publish(&topics::commands(&store), foreign.encode(), false);
    std::thread::sleep(Duration::from_millis(1500));

    // Both ends are alive and the link still delivers.
    assert!(bridge.running(), "cloud-bridge died");
    let health = client()
        .get(format!("{}/v1/health", daemon.base))
        .send()
        .unwrap();
    assert!(health.status().is_success());
    let id = write_one(&daemon.base).unwrap();
    let tech = issue_token(&data, "technician").unwrap();
    let journal = journal(&daemon.base, &tech);
    // Exactly the journal reached the sink, the new write included, and no junk.
    check_sink_matches_journal(&sink, &journal, &[id]);
    assert!(read_sink(&sink).iter().all(|l| l["store"] == STORE));

    // Malformed commands and the foreign one were answered with rejections.
    let answers: Vec<CommandResult> = c
        .received()
        .iter()
        .filter(|(t, _)| *t == results)
        .filter_map(|(_, p)| CommandResult::decode(p).ok())
        .collect();
    let rejected_junk = answers
        .iter()
        .filter(|r| r.id.0.is_nil() && matches!(r.outcome, Outcome::Rejected { .. }))
        .count();
    assert!(rejected_junk >= junk.len() - 1, "{answers:?}");
    assert!(answers
        .iter()
        .any(|r| r.id == foreign.id && matches!(r.outcome, Outcome::Rejected { .. })));

    // A real command through the CLI, twice with the same id: one recorded result.
    let cmd_id = CommandId::random().to_string();
    let send = || {
        let args = ["command", "--mqtt", &url, "--store", STORE, "--id", &cmd_id];
        let out = bridge_cli(&[&args[..], &["module", "omni", "on"]].concat()).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let first = send();
    assert_eq!(first["outcome"], "applied");
    assert_eq!(
        send(),
        first,
        "a repeated command id must replay its first result"
    );
    // The switch is followed by a new birth: presence lists omni beside pos.
    let online = fleet_until(&url, |s| {
        s["online"] == true && s["modules"].as_array().unwrap().contains(&json!("omni"))
    });
    assert!(online["modules"]
        .as_array()
        .unwrap()
        .contains(&json!("pos")));
    bridge.kill();
}

/// `cloud-bridge command ... catalog|module ...` with its exit status and JSON result.
fn command(url: &str, what: &[&str]) -> (i32, Value) {
    let args = ["command", "--mqtt", url, "--store", STORE];
    let out = bridge_cli(&[&args[..], what].concat()).unwrap();
    let result = serde_json::from_slice::<Value>(&out.stdout)
        .unwrap_or_else(|_| panic!("no result: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), result)
}

#[test]
fn catalog_and_module_commands_take_effect_on_the_lan_api() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("data");
    let broker = Broker::start(dir.path()).unwrap();
    let url = broker.url();
    let daemon = start_daemon(&data, &url);
    fleet_until(&url, |s| s["online"] == true);
    let token = issue_token(&data, "associate").unwrap();
    let item = || {
        let r = client()
            .get(format!("{}/v1/pos/items/MUG-1", daemon.base))
            .bearer_auth(&token)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    assert_eq!(item().1["name"], "Stoneware Mug");

    // A snapshot from the cloud: the sample catalog at version 100 with the mug renamed.
    let mut doc: Value = serde_json::from_str(edge_daemon::store::pos::SAMPLE_CATALOG).unwrap();
    doc["version"] = 100.into();
    let mug = doc["products"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["id"] == "mug")
        .unwrap();
    mug["name"] = "Cloud Mug".into();
    let snapshot = dir.path().join("snapshot.json");
    std::fs::write(&snapshot, doc.to_string()).unwrap();
    let file = snapshot.to_str().unwrap();
    let load = [
        "catalog",
        "--file",
        file,
        "--kind",
        "snapshot",
        "--version",
        "100",
    ];
    let (code, result) = command(&url, &load);
    assert_eq!(
        (code, &result["outcome"]),
        (0, &json!("applied")),
        "{result}"
    );
    assert_eq!(item().1["name"], "Cloud Mug");

    // A delta on a base the box does not have: refused, asking for a resync, nothing changes.
    let delta = dir.path().join("delta.json");
    std::fs::write(&delta, r#"{"version": 102, "base_version": 101}"#).unwrap();
    let file = delta.to_str().unwrap();
    let args = [
        "catalog",
        "--file",
        file,
        "--kind",
        "delta",
        "--version",
        "102",
    ];
    let (code, result) = command(&url, &[&args[..], &["--base-version", "101"]].concat());
    assert_eq!(code, 1, "{result}");
    let reason = result["outcome"]["rejected"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("resync"), "{reason}");
    assert_eq!(item().1["name"], "Cloud Mug");

    // Switching POS off from the cloud closes its API at once and shows in presence.
    let (code, result) = command(&url, &["module", "pos", "off"]);
    assert_eq!(code, 0, "{result}");
    let (status, problem) = item();
    assert_eq!(status, 404, "{problem}");
    assert!(
        problem["type"].as_str().unwrap().contains("module"),
        "{problem}"
    );
    let off = fleet_until(&url, |s| {
        s["online"] == true && !s["modules"].as_array().unwrap().contains(&json!("pos"))
    });
    assert!(off["modules"].is_array());
    let modules: Value = client()
        .get(format!("{}/v1/modules", daemon.base))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let pos = modules
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "pos")
        .expect("pos in /v1/modules");
    assert_eq!(pos["enabled"], false, "{modules}");
    assert_eq!(pos["source"], "cloud", "{modules}");
    let (code, _) = command(&url, &["module", "pos", "on"]);
    assert_eq!(code, 0);
    assert_eq!(item().0, 200);
}
