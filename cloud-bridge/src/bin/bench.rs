//! Backlog drain benchmark: N events accumulated offline, delivered end to end through the link
//! (edge end → broker → `cloud-bridge run` → fsynced JSON-lines sink → acknowledgement back to
//! the edge), side by side with a bare rumqttc QoS 1 publisher and subscriber on the same
//! broker, in one run. Prints a table and the ratio.
//!
//! `cargo run --release -p cloud-bridge --bin cloud-bridge-bench -- [--events N]
//! [--mqtt URL]`. Without `--mqtt` it starts `/usr/sbin/mosquitto` on a free port.
//!
//! The edge end reads from an in-memory journal here (the daemon's sled journal is measured by
//! the journal benchmark in edge-daemon), so the figure is the link's own cost.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cloud_bridge::cloud::consume::{self, RunSettings, RunStats};
use cloud_bridge::cloud::sink::FileSink;
use cloud_bridge::edge::{now, Edge, EdgeSettings};
use cloud_bridge::journal::{Journal, RawEvent};
use cloud_bridge::mqtt::{BrokerUrl, Security};
use protocol::command::{Command as Cmd, CommandResult, Outcome};
use protocol::event::Actor;
use protocol::{Envelope, Event, EventId, StoreId, TokenId};
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};

/// A journal in memory: N events, a watermark, a session counter.
#[derive(Debug)]
struct MemJournal {
    store: StoreId,
    events: Vec<RawEvent>,
    watermark: AtomicU64,
    session: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

impl Journal for MemJournal {
    type Error = Never;
    fn store_id(&self) -> StoreId {
        self.store.clone()
    }
    fn events_after(&self, after: u64, limit: usize) -> Result<Vec<RawEvent>, Never> {
        let start = (after as usize).min(self.events.len());
        Ok(self.events[start..].iter().take(limit).cloned().collect())
    }
    fn last_seq(&self) -> Result<u64, Never> {
        Ok(self.events.len() as u64)
    }
    fn watermark(&self) -> Result<u64, Never> {
        Ok(self.watermark.load(Ordering::SeqCst))
    }
    fn set_watermark(&self, seq: u64) -> Result<(), Never> {
        self.watermark.fetch_max(seq, Ordering::SeqCst);
        Ok(())
    }
    fn next_session(&self) -> Result<u64, Never> {
        Ok(self.session.fetch_add(1, Ordering::SeqCst) + 1)
    }
    fn apply_command(&self, cmd: &Cmd) -> Result<CommandResult, Never> {
        Ok(CommandResult {
            id: cmd.id,
            store: self.store.clone(),
            at: now(),
            outcome: Outcome::Rejected {
                reason: "benchmark journal".into(),
            },
        })
    }
}

fn envelope(store: &StoreId, seq: u64) -> Envelope {
    Envelope {
        store: store.clone(),
        seq,
        id: EventId::random(),
        at: now(),
        event: Event::TokenRevoked {
            token: TokenId::random(),
            by: Actor::Admin,
        },
    }
}

struct Mosquitto(Child);

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_mosquitto(dir: &std::path::Path) -> anyhow::Result<(Mosquitto, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
             max_queued_messages 1000000\nmax_inflight_messages 1000\nlog_dest none\n"
        ),
    )?;
    let child = Command::new("/usr/sbin/mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start /usr/sbin/mosquitto (or pass --mqtt URL)")?;
    let m = Mosquitto(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("mosquitto did not start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((m, format!("mqtt://127.0.0.1:{port}")))
}

/// A bare QoS 1 publisher and subscriber: seconds until the subscriber has all `n`.
async fn bare(url: &BrokerUrl, n: u64, payload: Vec<u8>) -> anyhow::Result<f64> {
    let mut so = MqttOptions::new("bench-sub", url.host.clone(), url.port);
    so.set_inflight(1000).set_max_packet_size(1 << 20, 1 << 20);
    let (sub, mut sub_events) = AsyncClient::new(so, 1024);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let got = tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        let mut count = 0u64;
        loop {
            match sub_events.poll().await {
                Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                    sub.subscribe("bench/bare", QoS::AtLeastOnce).await?;
                }
                Ok(MqttEvent::Incoming(Packet::SubAck(_))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Ok(MqttEvent::Incoming(Packet::Publish(_))) => {
                    count += 1;
                    if count == n {
                        return Ok::<Instant, anyhow::Error>(Instant::now());
                    }
                }
                Ok(_) => {}
                Err(e) => bail!("subscriber: {e}"),
            }
        }
    });
    ready_rx.await?;
    let mut po = MqttOptions::new("bench-pub", url.host.clone(), url.port);
    po.set_inflight(1000).set_max_packet_size(1 << 20, 1 << 20);
    let (publisher, mut pub_events) = AsyncClient::new(po, 1024);
    let poller = tokio::spawn(async move { while pub_events.poll().await.is_ok() {} });
    let start = Instant::now();
    for _ in 0..n {
        publisher
            .publish("bench/bare", QoS::AtLeastOnce, false, payload.clone())
            .await?;
    }
    let end = tokio::time::timeout(Duration::from_secs(600), got).await???;
    poller.abort();
    Ok(end.duration_since(start).as_secs_f64())
}

/// The link: seconds until the edge's watermark (moved only by the cloud's ack) reaches `n`.
async fn link(url: &BrokerUrl, n: u64, dir: &std::path::Path) -> anyhow::Result<(f64, u64)> {
    let store = StoreId::new("bench-store")?;
    let events = (1..=n)
        .map(|seq| RawEvent {
            seq,
            bytes: envelope(&store, seq).encode(),
        })
        .collect();
    let journal = Arc::new(MemJournal {
        store,
        events,
        watermark: AtomicU64::new(0),
        session: AtomicU64::new(0),
    });
    let stats = Arc::new(RunStats::default());
    let settings = RunSettings {
        url: url.clone(),
        security: Security::default(),
        group: "bench".into(),
        state: None,
        gap_timeout: Duration::from_secs(1),
        max_held: 100_000,
    };
    let sink = Box::new(FileSink::open(&dir.join("sink.jsonl"))?);
    let cloud = tokio::spawn(consume::run(settings, sink, stats.clone()));
    // Let the consumer subscribe before the backlog starts to flow.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let edge_settings = EdgeSettings {
        url: Some(format!("mqtt://{}:{}", url.host, url.port)),
        ..EdgeSettings::default()
    };
    let edge = Edge::new(journal.clone(), edge_settings, vec![])?;
    let start = Instant::now();
    let edge_task = tokio::spawn(edge.run());
    let deadline = start + Duration::from_secs(600);
    while journal.watermark.load(Ordering::SeqCst) < n {
        if Instant::now() > deadline {
            bail!("link did not drain within 600 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    edge_task.abort();
    cloud.abort();
    Ok((secs, stats.duplicates.load(Ordering::Relaxed)))
}

fn main() -> anyhow::Result<()> {
    let mut n = 100_000u64;
    let mut mqtt: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--events" => n = args.next().context("--events N")?.parse()?,
            "--mqtt" => mqtt = Some(args.next().context("--mqtt URL")?),
            "--bench" => {}
            other => bail!("unknown argument {other:?} (--events N, --mqtt URL)"),
        }
    }
    let dir = std::env::temp_dir().join(format!("cloud-bridge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (_broker, url) = match mqtt {
        Some(u) => (None, u),
        None => {
            let (m, u) = start_mosquitto(&dir)?;
            (Some(m), u)
        }
    };
    let url = BrokerUrl::parse(&url)?;
    let rt = tokio::runtime::Runtime::new()?;
    let payload_len = envelope(&StoreId::new("bench-store")?, n).encode().len();
    let bare_secs = rt.block_on(bare(&url, n, vec![0xE5; payload_len]))?;
    let (link_secs, dups) = rt.block_on(link(&url, n, &dir))?;
    let _ = std::fs::remove_dir_all(&dir);
    let bare_rate = n as f64 / bare_secs;
    let link_rate = n as f64 / link_secs;
    println!("backlog drain, {n} events of {payload_len} bytes, one broker on loopback");
    println!("| path | seconds | events/s |");
    println!("|---|---:|---:|");
    println!("| bare rumqttc QoS 1 publisher → subscriber | {bare_secs:.2} | {bare_rate:.0} |");
    println!(
        "| link: edge → cloud-bridge run → fsynced sink → ack | {link_secs:.2} | {link_rate:.0} |"
    );
    println!("ratio link / bare: {:.2}", link_rate / bare_rate);
    println!("duplicates dropped by the cloud end: {dups}");
    Ok(())
}
