//! The daemon's side of the cloud link: [`StoreJournal`] implements
//! [`cloud_bridge::journal::Journal`] over the [`Store`], and [`start`] runs the edge end when
//! `mqtt.url` is configured.
//!
//! Module switches from the cloud are stored (see [`crate::store::link`]), override the
//! configured modules in the API's gates from the next request on, and are reported in the
//! presence message. The link's figures (connected, backlog, oldest unacknowledged age,
//! watermark, session) are exported to `/metrics`.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use cloud_bridge::edge::{Edge, EdgeSettings, EdgeStats};
use cloud_bridge::journal::{Journal, RawEvent};
use protocol::command::{Command, CommandResult, Module};
use protocol::link::DeviceState;
use protocol::StoreId;

use crate::clock::now;
use crate::config::Modules;
use crate::devices::manager::DeviceManager;
use crate::store::{Store, StoreError};

/// Device states that are faults, for telemetry.
const FAULT_STATES: &[&str] = &["offline", "paper_out", "cover_open", "error"];

/// The store as the edge end sees it.
#[derive(Debug, Clone)]
pub struct StoreJournal {
    store: Store,
    modules: Modules,
    devices: Option<Arc<DeviceManager>>,
    data_dir: PathBuf,
}

impl StoreJournal {
    pub fn new(
        store: Store,
        modules: Modules,
        devices: Option<Arc<DeviceManager>>,
        data_dir: PathBuf,
    ) -> StoreJournal {
        StoreJournal {
            store,
            modules,
            devices,
            data_dir,
        }
    }
}

impl Journal for StoreJournal {
    type Error = StoreError;

    fn store_id(&self) -> StoreId {
        self.store.store_id().clone()
    }

    fn events_after(&self, after: u64, limit: usize) -> Result<Vec<RawEvent>, StoreError> {
        Ok(self
            .store
            .journal_raw_after(after, limit)?
            .into_iter()
            .map(|(seq, bytes)| RawEvent { seq, bytes })
            .collect())
    }

    fn last_seq(&self) -> Result<u64, StoreError> {
        Ok(self.store.stats()?.last_seq)
    }

    fn watermark(&self) -> Result<u64, StoreError> {
        self.store.link_watermark()
    }

    fn set_watermark(&self, seq: u64) -> Result<(), StoreError> {
        self.store.set_link_watermark(seq)
    }

    fn next_session(&self) -> Result<u64, StoreError> {
        self.store.next_link_session()
    }

    fn apply_command(&self, cmd: &Command) -> Result<CommandResult, StoreError> {
        self.store.apply_link_command(cmd)
    }

    fn modules(&self) -> Vec<Module> {
        let m = &self.modules;
        let mut on: Vec<(Module, bool)> = vec![
            (Module::Pos, m.pos),
            (Module::PosPlus, m.pos_plus),
            (Module::Omni, m.omni),
            (Module::OmniPlus, m.omni_plus),
        ];
        for (module, enabled) in self.store.link_modules().unwrap_or_default() {
            if let Some(slot) = on.iter_mut().find(|(m, _)| *m == module) {
                slot.1 = enabled;
            }
        }
        on.into_iter().filter(|(_, e)| *e).map(|(m, _)| m).collect()
    }

    fn devices(&self) -> Vec<DeviceState> {
        let Some(devices) = &self.devices else {
            return Vec::new();
        };
        devices
            .list()
            .into_iter()
            .map(|d| {
                let fault = FAULT_STATES.contains(&d.state.state.as_str()).then(|| {
                    d.state
                        .detail
                        .clone()
                        .unwrap_or_else(|| d.state.state.clone())
                });
                DeviceState {
                    name: d.name,
                    kind: d.kind.to_owned(),
                    state: d.state.state,
                    fault,
                }
            })
            .collect()
    }

    fn disk(&self) -> Option<(u64, u64)> {
        let free = fs2::available_space(&self.data_dir).ok()?;
        let total = fs2::total_space(&self.data_dir).ok()?;
        Some((free, total))
    }
}

/// Starts the edge end if `settings.url` is set; `None` when the box runs offline. The task
/// also exports the link's figures as gauges for `/metrics` every second (see
/// [`export_metrics`]). The figures come back too: the LAN API reads their `connected` flag
/// for the offline ledger.
pub fn start(
    settings: &EdgeSettings,
    journal: StoreJournal,
) -> anyhow::Result<Option<(tokio::task::JoinHandle<()>, Arc<EdgeStats>)>> {
    if settings.url.is_none() {
        return Ok(None);
    }
    let versions = vec![(
        "edge-daemon".to_owned(),
        env!("CARGO_PKG_VERSION").to_owned(),
    )];
    let store = journal.store.clone();
    let edge = Edge::new(Arc::new(journal), settings.clone(), versions)?;
    let stats = edge.stats();
    let figures = stats.clone();
    tracing::info!(store = %edge_store(settings), "cloud link starting");
    let task = tokio::spawn(async move {
        let metrics = export_metrics(store, stats);
        tokio::select! {
            r = edge.run() => if let Err(e) = r {
                tracing::error!(error = %e, "cloud link stopped");
            },
            () = metrics => {}
        }
    });
    Ok(Some((task, figures)))
}

/// Every second: `edge_link_connected` (0/1), `edge_link_session`, `edge_link_watermark`,
/// `edge_link_backlog` (events journaled but not acknowledged by the cloud),
/// `edge_link_oldest_unacked_ms` (0 with no backlog), `edge_link_published_total` and
/// `edge_link_commands_total`.
async fn export_metrics(store: Store, stats: Arc<EdgeStats>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let wm = stats.watermark.load(Ordering::Relaxed);
        let s = store.clone();
        let figures = tokio::task::spawn_blocking(move || {
            let last = s.stats()?.last_seq;
            let oldest = s.journal_after(wm, 1)?.first().map(|e| e.at);
            Ok::<_, StoreError>((last, oldest))
        })
        .await;
        let Ok(Ok((last, oldest))) = figures else {
            continue;
        };
        let age = oldest.map_or(0, |at| (now().millis() - at.millis()).max(0));
        let connected = stats.connected.load(Ordering::Relaxed);
        metrics::gauge!("edge_link_connected").set(f64::from(u8::from(connected)));
        metrics::gauge!("edge_link_session").set(stats.session.load(Ordering::Relaxed) as f64);
        metrics::gauge!("edge_link_watermark").set(wm as f64);
        metrics::gauge!("edge_link_backlog").set(last.saturating_sub(wm) as f64);
        metrics::gauge!("edge_link_oldest_unacked_ms").set(age as f64);
        metrics::gauge!("edge_link_published_total")
            .set(stats.published.load(Ordering::Relaxed) as f64);
        metrics::gauge!("edge_link_commands_total")
            .set(stats.commands.load(Ordering::Relaxed) as f64);
    }
}

/// The broker's host and port for logs: never user info or paths.
fn edge_store(settings: &EdgeSettings) -> String {
    settings
        .url
        .as_deref()
        .and_then(|u| cloud_bridge::mqtt::BrokerUrl::parse(u).ok())
        .map(|u| format!("{}:{}", u.host, u.port))
        .unwrap_or_default()
}
