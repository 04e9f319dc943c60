//! The edge end: pumps one store's journal to the broker and applies the cloud's commands.
//!
//! One connection is one *session*: a fresh client with a last will that carries the session's
//! counter (rumqttc cannot change the will of a client, so every attempt builds a new one). In a
//! session:
//! - on ConnAck it subscribes to its ack, command and status topics (clean session: every
//!   connection subscribes again), and publishes its birth, retained;
//! - a publisher task sends the journal in order from the acknowledged watermark, QoS 1, with at
//!   most `window` events sent but not acknowledged by the cloud; when no acknowledgement comes
//!   for `ack_timeout_ms`, or the cloud asks for a resend, it starts again from the watermark;
//! - the watermark moves only on the cloud's [`Ack`] (never on a PUBACK), and only forward;
//! - a command is applied through [`Journal::apply_command`] and its result published; a
//!   malformed command or one for another store gets a rejection and changes nothing; an
//!   applied module switch is followed by a new birth, so presence shows the modules;
//! - a retained will of an older or equal session seen on the status topic (a late will) is
//!   answered by publishing the birth again;
//! - telemetry (backlog, oldest unacknowledged age, devices, disk, memory, uptime, versions)
//!   goes out every `telemetry_secs`.
//!
//! Between sessions it waits with jittered exponential backoff.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::command::{Command, CommandBody, CommandResult, Outcome};
use protocol::link::{Ack, Presence, PresenceState, Telemetry};
use protocol::{topics, BootId, CommandId, Envelope, StoreId, Timestamp};
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, Packet, QoS};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::journal::Journal;
use crate::mqtt::{self, Backoff, BrokerUrl, Security};

/// The edge end's settings (the daemon's `[mqtt]` section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeSettings {
    /// Broker URL such as `mqtt://broker:1883` or `mqtts://broker:8883`; none means offline.
    pub url: Option<String>,
    /// TLS files and login.
    pub security: Security,
    /// MQTT keep-alive, in seconds; a dead connection is noticed after about 1.5 times this.
    pub keep_alive_secs: u64,
    /// Most events sent but not yet acknowledged by the cloud. 2,000 keeps the pipe full
    /// through the cloud end's sink fsync (docs/BENCHMARKS.md, backlog drain).
    pub window: u64,
    /// Events read from the journal at a time.
    pub batch: usize,
    /// With events outstanding and no acknowledgement for this long, send again from the
    /// watermark.
    pub ack_timeout_ms: u64,
    /// How often to look for new journal entries when everything is sent.
    pub idle_poll_ms: u64,
    /// Telemetry period, in seconds.
    pub telemetry_secs: u64,
    /// First reconnect delay, in milliseconds (jittered, doubling).
    pub reconnect_min_ms: u64,
    /// Longest reconnect delay, in milliseconds.
    pub reconnect_max_ms: u64,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        EdgeSettings {
            url: None,
            security: Security::default(),
            keep_alive_secs: 30,
            window: 2000,
            batch: 256,
            ack_timeout_ms: 10_000,
            idle_poll_ms: 50,
            telemetry_secs: 60,
            reconnect_min_ms: 500,
            reconnect_max_ms: 60_000,
        }
    }
}

/// Why the edge end stopped.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("no broker URL is configured")]
    NoUrl,
    #[error(transparent)]
    Config(#[from] mqtt::ConfigError),
    #[error("journal: {0}")]
    Journal(String),
}

/// Figures of the edge end, shared with the daemon's metrics and tests.
#[derive(Debug, Default)]
pub struct EdgeStats {
    pub connected: AtomicBool,
    pub session: AtomicU64,
    pub watermark: AtomicU64,
    pub published: AtomicU64,
    pub connections: AtomicU64,
    pub commands: AtomicU64,
}

/// The edge end of one store.
#[derive(Debug)]
pub struct Edge<J> {
    journal: Arc<J>,
    settings: EdgeSettings,
    url: BrokerUrl,
    store: StoreId,
    boot: BootId,
    versions: Vec<(String, String)>,
    started: Instant,
    stats: Arc<EdgeStats>,
}

/// What one session shares between its tasks.
struct Session<J> {
    edge: Arc<Edge<J>>,
    client: AsyncClient,
    number: u64,
    /// The cloud's watermark and a counter of resend requests.
    progress: watch::Sender<(u64, u64)>,
}

impl<J: Journal> Edge<J> {
    /// Checks the settings (URL, TLS files) without connecting.
    pub fn new(
        journal: Arc<J>,
        settings: EdgeSettings,
        versions: Vec<(String, String)>,
    ) -> Result<Edge<J>, EdgeError> {
        let url = BrokerUrl::parse(settings.url.as_deref().ok_or(EdgeError::NoUrl)?)?;
        // Fail at start-up, not at the first connection, on missing TLS files.
        mqtt::options("check", &url, &settings.security, Duration::from_secs(1))?;
        Ok(Edge {
            store: journal.store_id(),
            journal,
            settings,
            url,
            boot: BootId::random(),
            versions,
            started: Instant::now(),
            stats: Arc::default(),
        })
    }

    /// Figures for metrics.
    pub fn stats(&self) -> Arc<EdgeStats> {
        self.stats.clone()
    }

    /// Runs sessions until the task is dropped. Returns only on a journal error.
    pub async fn run(self) -> Result<(), EdgeError> {
        let edge = Arc::new(self);
        let s = &edge.settings;
        let mut backoff = Backoff::new(
            Duration::from_millis(s.reconnect_min_ms),
            Duration::from_millis(s.reconnect_max_ms),
        );
        loop {
            let number = edge.blocking(|j| j.next_session()).await?;
            let connected = edge.clone().session(number).await?;
            edge.stats.connected.store(false, Ordering::Relaxed);
            if connected {
                backoff.reset();
            }
            let delay = backoff.next_delay();
            tracing::info!(
                session = number,
                delay_ms = delay.as_millis() as u64,
                "reconnecting"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&J) -> Result<T, J::Error> + Send + 'static,
    ) -> Result<T, EdgeError> {
        let j = self.journal.clone();
        tokio::task::spawn_blocking(move || f(&j))
            .await
            .map_err(|e| EdgeError::Journal(e.to_string()))?
            .map_err(|e| EdgeError::Journal(e.to_string()))
    }

    fn presence(&self, state: PresenceState, session: u64) -> Presence {
        Presence {
            store: self.store.clone(),
            state,
            session,
            boot: self.boot,
            at: now(),
            versions: self.versions.clone(),
            modules: self.journal.modules(),
        }
    }

    /// One connection. Returns whether it got as far as a ConnAck.
    async fn session(self: Arc<Self>, number: u64) -> Result<bool, EdgeError> {
        let keep_alive = Duration::from_secs(self.settings.keep_alive_secs);
        let client_id = format!("edge-{}", self.store);
        let mut opts = mqtt::options(&client_id, &self.url, &self.settings.security, keep_alive)?;
        let will = self.presence(PresenceState::Offline, number).encode();
        opts.set_last_will(LastWill::new(
            topics::status(&self.store),
            will,
            QoS::AtLeastOnce,
            true,
        ));
        opts.set_inflight(self.settings.window.clamp(1, u16::MAX as u64) as u16);
        let (client, mut events) = AsyncClient::new(opts, 256);
        let watermark = self.blocking(|j| j.watermark()).await?;
        self.stats.watermark.store(watermark, Ordering::Relaxed);
        let (progress, _) = watch::channel((watermark, 0));
        let session = Arc::new(Session {
            edge: self.clone(),
            client,
            number,
            progress,
        });
        let mut tasks: Vec<JoinHandle<()>> = Vec::new();
        let result = session.drive(&mut events, &mut tasks).await;
        for t in tasks {
            t.abort();
        }
        result
    }
}

impl<J: Journal> Session<J> {
    async fn drive(
        self: &Arc<Self>,
        events: &mut EventLoop,
        tasks: &mut Vec<JoinHandle<()>>,
    ) -> Result<bool, EdgeError> {
        let edge = &self.edge;
        let mut connected = false;
        loop {
            let event = match events.poll().await {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(session = self.number, error = %e, "broker connection lost");
                    return Ok(connected);
                }
            };
            let Event::Incoming(packet) = event else {
                continue;
            };
            match packet {
                Packet::ConnAck(ack) => {
                    if ack.code != rumqttc::ConnectReturnCode::Success {
                        tracing::warn!(code = ?ack.code, "broker refused the connection");
                        return Ok(connected);
                    }
                    connected = true;
                    edge.stats.connected.store(true, Ordering::Relaxed);
                    edge.stats.session.store(self.number, Ordering::Relaxed);
                    edge.stats.connections.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(session = self.number, store = %edge.store, "connected");
                    tasks.push(tokio::spawn(self.clone().on_connected()));
                }
                Packet::Publish(p) => self.on_publish(&p.topic, &p.payload, tasks).await?,
                _ => {}
            }
        }
    }

    /// Subscribes, publishes the birth, starts the publisher and telemetry.
    async fn on_connected(self: Arc<Self>) {
        let store = &self.edge.store;
        for topic in [
            topics::ack(store),
            topics::commands(store),
            topics::status(store),
        ] {
            if self
                .client
                .subscribe(topic, QoS::AtLeastOnce)
                .await
                .is_err()
            {
                return;
            }
        }
        self.publish_birth().await;
        let telemetry = tokio::spawn(self.clone().telemetry());
        if let Err(e) = self.clone().publisher().await {
            tracing::error!(error = %e, "journal unreadable; the link stops sending");
        }
        telemetry.abort();
    }

    async fn publish_birth(&self) {
        let birth = self
            .edge
            .presence(PresenceState::Online, self.number)
            .encode();
        let topic = topics::status(&self.edge.store);
        let _ = self
            .client
            .publish(topic, QoS::AtLeastOnce, true, birth)
            .await;
    }

    async fn on_publish(
        self: &Arc<Self>,
        topic: &str,
        payload: &[u8],
        tasks: &mut Vec<JoinHandle<()>>,
    ) -> Result<(), EdgeError> {
        let store = &self.edge.store;
        if topic == topics::ack(store) {
            self.on_ack(payload).await?;
        } else if topic == topics::commands(store) {
            let me = self.clone();
            let payload = payload.to_vec();
            tasks.push(tokio::spawn(async move { me.on_command(payload).await }));
        } else if topic == topics::status(store) {
            match Presence::decode(payload) {
                Ok(p) if p.state == PresenceState::Offline && p.session <= self.number => {
                    tracing::info!(stale = p.session, session = self.number, "late will seen");
                    let me = self.clone();
                    tasks.push(tokio::spawn(async move { me.publish_birth().await }));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "malformed presence on own status topic"),
            }
        }
        Ok(())
    }

    async fn on_ack(&self, payload: &[u8]) -> Result<(), EdgeError> {
        let ack = match Ack::decode(payload) {
            Ok(a) if a.store == self.edge.store => a,
            Ok(a) => {
                tracing::warn!(store = %a.store, "acknowledgement for another store ignored");
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(error = %e, "malformed acknowledgement ignored");
                return Ok(());
            }
        };
        let last = self.edge.blocking(|j| j.last_seq()).await?;
        let (current, resends) = *self.progress.borrow();
        let wm = ack.watermark.min(last);
        if ack.watermark > last {
            tracing::warn!(
                acked = ack.watermark,
                last,
                "acknowledgement beyond the journal"
            );
        }
        if wm > current {
            self.edge.blocking(move |j| j.set_watermark(wm)).await?;
            self.edge.stats.watermark.store(wm, Ordering::Relaxed);
        }
        let resends = resends + u64::from(ack.resend);
        self.progress.send_replace((wm.max(current), resends));
        Ok(())
    }

    async fn on_command(&self, payload: Vec<u8>) {
        let edge = &self.edge;
        let result = match Command::decode(&payload) {
            Err(e) => rejection(&edge.store, CommandId(uuid::Uuid::nil()), e.to_string()),
            Ok(cmd) if cmd.store != edge.store => rejection(
                &edge.store,
                cmd.id,
                format!(
                    "command for store {} sent to store {}",
                    cmd.store, edge.store
                ),
            ),
            Ok(cmd) => {
                let id = cmd.id;
                let switch = matches!(cmd.body, CommandBody::SetModule { .. });
                match edge.blocking(move |j| j.apply_command(&cmd)).await {
                    Ok(r) => {
                        if switch && r.outcome == Outcome::Applied {
                            // Presence reports the modules: a new birth shows the switch.
                            self.publish_birth().await;
                        }
                        r
                    }
                    Err(e) => {
                        // Not recorded: the cloud may retry the same id.
                        tracing::error!(command = %id, error = %e, "command not applied");
                        rejection(&edge.store, id, format!("store error: {e}"))
                    }
                }
            }
        };
        edge.stats.commands.fetch_add(1, Ordering::Relaxed);
        tracing::info!(command = %result.id, outcome = ?result.outcome, "command result");
        let topic = topics::command_results(&edge.store);
        let _ = self
            .client
            .publish(topic, QoS::AtLeastOnce, false, result.encode())
            .await;
    }

    /// Sends the journal in order from the watermark; see the module docs.
    async fn publisher(self: Arc<Self>) -> Result<(), EdgeError> {
        let edge = &self.edge;
        let s = &edge.settings;
        let topic = topics::events(&edge.store);
        let mut rx = self.progress.subscribe();
        let (mut wm, mut resends) = *rx.borrow_and_update();
        let mut next = wm + 1;
        let mut last_progress = Instant::now();
        let ack_timeout = Duration::from_millis(s.ack_timeout_ms.max(1));
        let idle = Duration::from_millis(s.idle_poll_ms.max(1));
        loop {
            let (w, r) = *rx.borrow_and_update();
            if w > wm {
                last_progress = Instant::now();
            }
            wm = w;
            if r != resends {
                resends = r;
                tracing::info!(from = wm + 1, "cloud asked for a resend");
                next = wm + 1;
            }
            next = next.max(wm + 1);
            let outstanding = next - 1 - wm;
            if outstanding > 0 && last_progress.elapsed() >= ack_timeout {
                tracing::info!(
                    from = wm + 1,
                    outstanding,
                    "no acknowledgement; sending again"
                );
                next = wm + 1;
                last_progress = Instant::now();
                continue;
            }
            let room = s.window.saturating_sub(next - 1 - wm);
            let batch = if room == 0 {
                Vec::new()
            } else {
                let (after, limit) = (next - 1, room.min(s.batch.max(1) as u64) as usize);
                edge.blocking(move |j| j.events_after(after, limit)).await?
            };
            if batch.is_empty() {
                let wait = if room == 0 { ack_timeout } else { idle };
                let _ = tokio::time::timeout(wait, rx.changed()).await;
                continue;
            }
            for ev in batch {
                if ev.seq != next {
                    tracing::error!(expected = next, found = ev.seq, "journal has a gap");
                }
                if self
                    .client
                    .publish(topic.clone(), QoS::AtLeastOnce, false, ev.bytes)
                    .await
                    .is_err()
                {
                    return Ok(());
                }
                next = ev.seq + 1;
                edge.stats.published.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    async fn telemetry(self: Arc<Self>) {
        let period = Duration::from_secs(self.edge.settings.telemetry_secs.max(1));
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            let wm = self.progress.borrow().0;
            let t = match self.telemetry_now(wm).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, "telemetry unavailable");
                    continue;
                }
            };
            let topic = topics::telemetry(&self.edge.store);
            if self
                .client
                .publish(topic, QoS::AtMostOnce, false, t.encode())
                .await
                .is_err()
            {
                return;
            }
        }
    }

    async fn telemetry_now(&self, wm: u64) -> Result<Telemetry, EdgeError> {
        let edge = &self.edge;
        let (last, oldest) = edge
            .blocking(move |j| Ok((j.last_seq()?, j.events_after(wm, 1)?)))
            .await?;
        let at = now();
        let oldest_unacked_ms = oldest
            .first()
            .and_then(|e| Envelope::decode(&e.bytes).ok())
            .map(|e| at.millis().saturating_sub(e.at.millis()).max(0) as u64);
        let disk = edge.journal.disk();
        Ok(Telemetry {
            store: edge.store.clone(),
            session: self.number,
            at,
            backlog: last.saturating_sub(wm),
            oldest_unacked_ms,
            last_seq: last,
            watermark: wm,
            devices: edge.journal.devices(),
            disk_free_bytes: disk.map(|d| d.0),
            disk_total_bytes: disk.map(|d| d.1),
            memory_rss_bytes: rss_bytes(),
            uptime_secs: edge.started.elapsed().as_secs(),
            versions: edge.versions.clone(),
        })
    }
}

fn rejection(store: &StoreId, id: CommandId, reason: String) -> CommandResult {
    CommandResult {
        id,
        store: store.clone(),
        at: now(),
        outcome: Outcome::Rejected { reason },
    }
}

/// The wall clock as a protocol timestamp.
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp(ms)
}

/// This process's resident memory, from `/proc/self/statm` (Linux).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
