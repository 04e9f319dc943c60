//! `cloud-bridge run`: consume every store's events through the shared subscription, forward
//! them in order to the sink, and acknowledge each store's watermark once the sink holds it.
//!
//! Two tasks: one polls the MQTT event loop and passes event payloads on a bounded channel;
//! the other decodes them, runs them through the [`Forwarder`], hands ready events to the sink
//! in batches (one fsync or one round of webhook calls per batch), then publishes each touched
//! store's [`protocol::link::Ack`] retained, so that a store that reconnects learns it at once.
//!
//! An event the sink refuses for good ([`super::sink::Refusal`]) parks its store: logged at
//! error level with store, sequence and status, counted in `cloud_sink_refused_total` and
//! `cloud_stores_parked`, and nothing more of that store is forwarded or acknowledged until
//! the process restarts, while the other stores go on.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::link::Ack;
use protocol::{topics, Envelope, StoreId};
use rumqttc::{AsyncClient, Event, Packet, QoS};
use tokio::sync::mpsc;

use super::forward::Forwarder;
use super::sink::{Sink, SinkError};
use crate::mqtt::{self, Backoff, BrokerUrl, Security};

/// Settings of `cloud-bridge run`.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub url: BrokerUrl,
    pub security: Security,
    /// Shared subscription group: instances in one group split the stores' events.
    pub group: String,
    /// JSON file of the highest forwarded sequence per store (for sinks without their own).
    pub state: Option<PathBuf>,
    /// How long a gap may stay open before the store is asked to resend.
    pub gap_timeout: Duration,
    /// Most events held back behind gaps per store.
    pub max_held: usize,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct RunStats {
    pub received: AtomicU64,
    pub forwarded: AtomicU64,
    pub duplicates: AtomicU64,
    pub malformed: AtomicU64,
    pub resend_requests: AtomicU64,
    pub held: AtomicU64,
    /// Events the sink refused for good.
    pub sink_refused: AtomicU64,
    /// Stores parked after a refusal.
    pub parked: AtomicU64,
}

impl RunStats {
    /// Prometheus text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, v) in [
            ("cloud_events_received_total", &self.received),
            ("cloud_events_forwarded_total", &self.forwarded),
            ("cloud_events_duplicate_total", &self.duplicates),
            ("cloud_messages_malformed_total", &self.malformed),
            ("cloud_resend_requests_total", &self.resend_requests),
            ("cloud_events_held", &self.held),
            ("cloud_sink_refused_total", &self.sink_refused),
            ("cloud_stores_parked", &self.parked),
        ] {
            out.push_str(&format!("{name} {}\n", v.load(Ordering::Relaxed)));
        }
        out
    }
}

/// Why the consumer stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] mqtt::ConfigError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("state file {path}: {why}")]
    State { path: PathBuf, why: String },
}

fn load_state(path: &Option<PathBuf>) -> Result<HashMap<StoreId, u64>, RunError> {
    let Some(path) = path else {
        return Ok(HashMap::new());
    };
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| RunError::State {
            path: path.clone(),
            why: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
        Err(e) => Err(RunError::State {
            path: path.clone(),
            why: e.to_string(),
        }),
    }
}

fn save_state(path: &std::path::Path, marks: &HashMap<StoreId, u64>) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let bytes = serde_json::to_vec(marks).unwrap_or_default();
    let mut f = std::fs::File::create(&tmp)?;
    std::io::Write::write_all(&mut f, &bytes)?;
    f.sync_data()?;
    std::fs::rename(&tmp, path)
}

/// Runs the consumer until the task is dropped or the sink fails for good.
pub async fn run(
    settings: RunSettings,
    mut sink: Box<dyn Sink>,
    stats: Arc<RunStats>,
) -> Result<(), RunError> {
    let mut recovered = load_state(&settings.state)?;
    for (store, seq) in sink.recover()? {
        let e = recovered.entry(store).or_insert(0);
        *e = seq.max(*e);
    }
    tracing::info!(stores = recovered.len(), "recovered forwarded watermarks");
    let mut fwd = Forwarder::new(recovered, settings.max_held, settings.gap_timeout);
    let client_id = format!("cloud-bridge-{}", uuid::Uuid::new_v4().simple());
    let opts = mqtt::options(
        &client_id,
        &settings.url,
        &settings.security,
        Duration::from_secs(30),
    )?;
    let (client, mut events) = AsyncClient::new(opts, 1024);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(10_000);
    let filter = topics::all_events_shared(&settings.group);
    let sub_client = client.clone();
    let poller = tokio::spawn(async move {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff.reset();
                    tracing::info!("connected; subscribing to every store's events");
                    // Clean session: subscribe again on every connection.
                    let _ = sub_client.try_subscribe(filter.clone(), QoS::AtLeastOnce);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p.payload.to_vec()).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "broker connection lost");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    });
    let mut tick = tokio::time::interval(settings.gap_timeout.max(Duration::from_millis(50)) / 2);
    let result = loop {
        let mut payloads = Vec::new();
        tokio::select! {
            got = rx.recv_many(&mut payloads, 4096) => if got == 0 { break Ok(()); },
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        let mut reack: Vec<StoreId> = Vec::new();
        for payload in payloads {
            stats.received.fetch_add(1, Ordering::Relaxed);
            match Envelope::decode(&payload) {
                Ok(env) => {
                    let store = env.store.clone();
                    if fwd.offer(env, now) == super::forward::Verdict::Duplicate {
                        stats.duplicates.fetch_add(1, Ordering::Relaxed);
                        if !reack.contains(&store) {
                            reack.push(store);
                        }
                    }
                }
                Err(e) => {
                    stats.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "malformed event payload dropped");
                }
            }
        }
        let batch = fwd.take_ready();
        let mut acks: Vec<Ack> = reack.iter().map(|s| fwd.ack(s, false)).collect();
        if !batch.is_empty() {
            let joined = tokio::task::spawn_blocking(move || {
                let r = sink.accept(&batch);
                (sink, r, batch)
            })
            .await;
            let (back, accepted, batch) = match joined {
                Ok(j) => j,
                Err(e) => {
                    break Err(RunError::State {
                        path: PathBuf::from("<sink task>"),
                        why: e.to_string(),
                    })
                }
            };
            sink = back;
            let refusals = match accepted {
                Ok(r) => r,
                Err(e) => break Err(e.into()),
            };
            let refused = |e: &Envelope| {
                refusals
                    .iter()
                    .any(|r| r.store == e.store && e.seq >= r.seq)
            };
            let done: Vec<Envelope> = batch.into_iter().filter(|e| !refused(e)).collect();
            stats
                .forwarded
                .fetch_add(done.len() as u64, Ordering::Relaxed);
            acks.extend(fwd.forwarded(&done));
            for r in &refusals {
                tracing::error!(
                    store = %r.store,
                    seq = r.seq,
                    status = r.status,
                    detail = %r.detail,
                    "the sink refused an event for good; the store is parked (its events stay \
                     in its backlog) until cloud-bridge is restarted"
                );
                stats.sink_refused.fetch_add(1, Ordering::Relaxed);
                fwd.park(&r.store);
            }
            stats.parked.store(fwd.parked() as u64, Ordering::Relaxed);
            if let Some(path) = &settings.state {
                if let Err(e) = save_state(path, &fwd.watermarks()) {
                    tracing::error!(path = %path.display(), error = %e, "state file not saved");
                }
            }
        }
        let resends = fwd.resend_requests(now);
        stats
            .resend_requests
            .fetch_add(resends.len() as u64, Ordering::Relaxed);
        stats.held.store(fwd.held() as u64, Ordering::Relaxed);
        acks.extend(resends);
        for ack in acks {
            let topic = topics::ack(&ack.store);
            if client
                .try_publish(topic, QoS::AtLeastOnce, true, ack.encode())
                .is_err()
            {
                // The store asks again or times out and resends; nothing is lost.
                tracing::warn!(store = %ack.store, "acknowledgement not queued");
            }
        }
    };
    poller.abort();
    result
}
