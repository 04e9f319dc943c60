//! Backlog drain benchmark: N events accumulated offline, delivered end to end through the link
//! (edge end → broker → `cloud-bridge run` → fsynced JSON-lines sink → acknowledgement back to
//! the edge), side by side with a bare rumqttc QoS 1 publisher and subscriber on the same
//! broker, in one run. Prints a table and the ratio.
//!
//! `cargo run --release -p cloud-bridge --bin cloud-bridge-bench -- [--events N]
//! [--mqtt URL]`. Without `--mqtt` it starts `/usr/sbin/mosquitto` on a free port.
//!
//! Fleet mode, `-- --fleet N [--jitter-ms J] [--steady-secs S]`: N simulated stores (edge ends
//! over in-memory journals of 20 events each, telemetry every 10 s, then one new event per
//! store every 10 s at steady state) in this one process, each
//! connecting after a uniformly random delay below J ms, to one Mosquitto, with `cloud-bridge
//! run` (the release binary beside this one) as a separate process. It reports the time until
//! every store is connected and until every backlog is acknowledged, then the cloud end's CPU
//! (utime + stime from `/proc/PID/stat` over S seconds) and resident memory (`VmRSS`) at steady
//! state, and Mosquitto's. Needs about 2 N + 100 file descriptors: run it under `ulimit -n`.
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
    events: std::sync::RwLock<Vec<RawEvent>>,
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
        let events = self.events.read().unwrap_or_else(|p| p.into_inner());
        let start = (after as usize).min(events.len());
        Ok(events[start..].iter().take(limit).cloned().collect())
    }
    fn last_seq(&self) -> Result<u64, Never> {
        Ok(self.len())
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
             max_queued_messages 1000000\nmax_inflight_messages 1000\nmax_connections -1\n\
             log_dest none\n"
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
    let journal = Arc::new(mem_journal(StoreId::new("bench-store")?, n));
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
    let defaults = EdgeSettings::default();
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let edge_settings = EdgeSettings {
        url: Some(format!("mqtt://{}:{}", url.host, url.port)),
        // BENCH_WINDOW and BENCH_BATCH try other settings than the daemon's defaults.
        window: env("BENCH_WINDOW").unwrap_or(defaults.window),
        batch: env("BENCH_BATCH").map_or(defaults.batch, |b| b as usize),
        ..defaults
    };
    println!(
        "edge window {} events, batch {}",
        edge_settings.window, edge_settings.batch
    );
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

impl MemJournal {
    fn len(&self) -> u64 {
        self.events.read().unwrap_or_else(|p| p.into_inner()).len() as u64
    }

    /// Journals one more event, as a sale would.
    fn append(&self) {
        let mut events = self.events.write().unwrap_or_else(|p| p.into_inner());
        let seq = events.len() as u64 + 1;
        let bytes = envelope(&self.store, seq).encode();
        events.push(RawEvent { seq, bytes });
    }
}

/// A journal of `n` events for `store`.
fn mem_journal(store: StoreId, n: u64) -> MemJournal {
    let events = (1..=n)
        .map(|seq| RawEvent {
            seq,
            bytes: envelope(&store, seq).encode(),
        })
        .collect();
    MemJournal {
        store,
        events: std::sync::RwLock::new(events),
        watermark: AtomicU64::new(0),
        session: AtomicU64::new(0),
    }
}

/// User and system CPU seconds of process `pid` so far, from `/proc/PID/stat`.
fn cpu_secs(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').context("/proc/PID/stat format")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>()? + f[12].parse::<f64>()?;
    // USER_HZ is 100 on every Linux this runs on.
    Ok(ticks / 100.0)
}

/// Resident memory of process `pid` in MiB, from `/proc/PID/status`.
fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    let kib: f64 = line.split_whitespace().nth(1).context("VmRSS")?.parse()?;
    Ok(kib / 1024.0)
}

/// The soft limit of open files of this process.
fn open_files_limit() -> anyhow::Result<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .context("no open files limit")?;
    Ok(line.split_whitespace().nth(3).context("limit")?.parse()?)
}

/// Settings of the fleet mode.
struct FleetRun {
    stores: usize,
    jitter: Duration,
    steady: Duration,
    /// Each store journals one event this often at steady state.
    event_every: Duration,
}

/// Fleet mode; see the module docs. Returns the lines of its table.
fn fleet(
    run: &FleetRun,
    url: &BrokerUrl,
    dir: &std::path::Path,
    broker: Option<u32>,
) -> anyhow::Result<Vec<String>> {
    let need = 2 * run.stores as u64 + 100;
    let have = open_files_limit()?;
    if have < need {
        bail!(
            "{} stores need {need} open files, the limit is {have}: run under `ulimit -n {need}`",
            run.stores
        );
    }
    let exe = std::env::current_exe()?;
    let bridge_bin = exe.with_file_name("cloud-bridge");
    let mut bridge = Command::new(&bridge_bin)
        .args([
            "run",
            "--mqtt",
            &format!("mqtt://{}:{}", url.host, url.port),
            "--sink",
        ])
        .arg(format!("file:{}", dir.join("fleet-sink.jsonl").display()))
        .env("CLOUD_BRIDGE_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| {
            format!(
                "start {} (cargo build --release first)",
                bridge_bin.display()
            )
        })?;
    let bridge_pid = bridge.id();
    let rt = tokio::runtime::Runtime::new()?;
    let result = rt.block_on(async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut stats = Vec::new();
        let mut journals = Vec::new();
        let start = Instant::now();
        for i in 0..run.stores {
            let journal = Arc::new(mem_journal(StoreId::new(format!("bench-{i:05}"))?, 20));
            let settings = EdgeSettings {
                url: Some(format!("mqtt://{}:{}", url.host, url.port)),
                telemetry_secs: 10,
                ..EdgeSettings::default()
            };
            let edge = Edge::new(journal.clone(), settings, vec![])?;
            stats.push(edge.stats());
            journals.push(journal);
            let mut b = [0u8; 8];
            getrandom::getrandom(&mut b).map_err(|e| anyhow::anyhow!("random bytes: {e}"))?;
            let jitter_ms = run.jitter.as_millis().max(1) as u64;
            let delay = Duration::from_millis(u64::from_le_bytes(b) % jitter_ms);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = edge.run().await;
            });
        }
        let deadline = start + run.jitter + Duration::from_secs(300);
        let mut connected_at = None;
        loop {
            let connected = stats.iter().filter(|s| s.connected.load(Ordering::Relaxed)).count();
            if connected_at.is_none() && connected == run.stores {
                connected_at = Some(start.elapsed());
            }
            let drained = journals
                .iter()
                .all(|j| j.watermark.load(Ordering::SeqCst) == j.len());
            if connected_at.is_some() && drained {
                break;
            }
            if Instant::now() > deadline {
                bail!("after 300 s: {connected} of {} connected, drained: {drained}", run.stores);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let drained_at = start.elapsed();
        // Steady state: everyone connected, telemetry flowing, and every store journals one
        // event per `event_every` (spread evenly), which the cloud end forwards and acknowledges.
        let feeder = {
            let (journals, every) = (journals.clone(), run.event_every);
            tokio::spawn(async move {
                let gap = every / journals.len().max(1) as u32;
                let mut tick = tokio::time::interval(gap.max(Duration::from_micros(100)));
                for j in journals.iter().cycle() {
                    tick.tick().await;
                    j.append();
                }
            })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (c0, b0) = (cpu_secs(bridge_pid)?, broker.map(cpu_secs).transpose()?);
        let t0 = Instant::now();
        tokio::time::sleep(run.steady).await;
        let secs = t0.elapsed().as_secs_f64();
        feeder.abort();
        let lag: u64 = journals
            .iter()
            .map(|j| j.len() - j.watermark.load(Ordering::SeqCst))
            .sum();
        let cloud_cpu = (cpu_secs(bridge_pid)? - c0) / secs * 100.0;
        let broker_cpu = match (broker, b0) {
            (Some(pid), Some(b0)) => Some((cpu_secs(pid)? - b0) / secs * 100.0),
            _ => None,
        };
        let mut lines = vec![
            format!("fleet: {} stores, connects jittered over {} ms, one process, one broker",
                run.stores, run.jitter.as_millis()),
            "| figure | value |".into(),
            "|---|---:|".into(),
            format!("| all stores connected after | {:.2} s |", connected_at.unwrap_or_default()
                .as_secs_f64()),
            format!("| all backlogs (20 events each) acknowledged after | {:.2} s |",
                drained_at.as_secs_f64()),
            format!("| steady load | one event per store every {} s ({:.0} events/s) |",
                run.event_every.as_secs_f64(),
                run.stores as f64 / run.event_every.as_secs_f64()),
            format!("| cloud-bridge run CPU at steady state ({secs:.0} s) | {cloud_cpu:.1} % of one core |"),
            format!("| cloud-bridge run resident memory | {:.1} MiB |", rss_mib(bridge_pid)?),
        ];
        lines.push(format!("| events not yet acknowledged at the end | {lag} |"));
        if let (Some(pid), Some(cpu)) = (broker, broker_cpu) {
            lines.push(format!("| mosquitto CPU at steady state | {cpu:.1} % of one core |"));
            lines.push(format!("| mosquitto resident memory | {:.1} MiB |", rss_mib(pid)?));
        }
        Ok::<_, anyhow::Error>(lines)
    });
    let _ = bridge.kill();
    let _ = bridge.wait();
    result
}

fn main() -> anyhow::Result<()> {
    let mut n = 100_000u64;
    let mut mqtt: Option<String> = None;
    let mut fleet_run: Option<FleetRun> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--events" => n = args.next().context("--events N")?.parse()?,
            "--mqtt" => mqtt = Some(args.next().context("--mqtt URL")?),
            "--fleet" => {
                fleet_run = Some(FleetRun {
                    stores: args.next().context("--fleet N")?.parse()?,
                    jitter: Duration::from_secs(5),
                    steady: Duration::from_secs(30),
                    event_every: Duration::from_secs(10),
                })
            }
            "--jitter-ms" => {
                let ms = args.next().context("--jitter-ms J")?.parse()?;
                fleet_run
                    .as_mut()
                    .context("--jitter-ms after --fleet")?
                    .jitter = Duration::from_millis(ms);
            }
            "--steady-secs" => {
                let s = args.next().context("--steady-secs S")?.parse()?;
                fleet_run
                    .as_mut()
                    .context("--steady-secs after --fleet")?
                    .steady = Duration::from_secs(s);
            }
            "--bench" => {}
            other => bail!(
                "unknown argument {other:?} (--events N, --mqtt URL, --fleet N [--jitter-ms J] \
                 [--steady-secs S])"
            ),
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
    if let Some(run) = fleet_run {
        let pid = _broker.as_ref().map(|m| m.0.id());
        let lines = fleet(&run, &url, &dir, pid);
        let _ = std::fs::remove_dir_all(&dir);
        for l in lines? {
            println!("{l}");
        }
        return Ok(());
    }
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
