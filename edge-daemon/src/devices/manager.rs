//! The device manager: starts a worker per configured device (and the simulators of the
//! embedded default), and is what the API asks to print, kick, check and list.

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use drivers::escpos::sim::SimPrinter;
use serde::Serialize;

use super::config::{DeviceSpec, DevicesConfig};
use super::hub::Hub;
use super::printer::{self, Command, KickDrawer, PrinterWorker};
use super::state::{DeviceState, Shared};
use crate::store::Store;

/// How long the API waits for a worker's answer (kick, raw, check).
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// One managed device.
#[derive(Debug)]
struct Managed {
    spec: DeviceSpec,
    state: Shared,
    /// The worker that talks to it (a drawer's is its printer's).
    commands: Option<Sender<Command>>,
    simulated: bool,
}

/// A device as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceView {
    pub name: String,
    pub kind: &'static str,
    pub simulated: bool,
    #[serde(flatten)]
    pub state: DeviceState,
}

/// Why the manager could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("no device named {0:?}")]
    Unknown(String),
    #[error("device {device:?} is a {kind}, which cannot {action}")]
    WrongKind {
        device: String,
        kind: &'static str,
        action: &'static str,
    },
    #[error("device {device:?} did not answer within {secs} s")]
    NoAnswer { device: String, secs: u64 },
    #[error("device {device:?}: {reason}")]
    Failed { device: String, reason: String },
}

/// The simulators started for the embedded default.
#[derive(Debug, Default)]
pub struct Simulators {
    pub receipt: Option<SimPrinter>,
}

/// The devices of this box.
#[derive(Debug)]
pub struct DeviceManager {
    devices: BTreeMap<String, Managed>,
    workers: std::sync::Mutex<Vec<JoinHandle<()>>>,
    pub hub: Hub,
    pub sims: Arc<Simulators>,
}

impl DeviceManager {
    /// Starts simulators (if configured) and a worker per device.
    pub fn start(cfg: &DevicesConfig, store: &Store, hub: Hub) -> std::io::Result<DeviceManager> {
        let mut specs = cfg.list.clone();
        let mut sims = Simulators::default();
        let mut simulated = Vec::new();
        if cfg.simulate {
            let receipt = SimPrinter::start()?;
            specs.push(DeviceSpec::ReceiptPrinter {
                name: "receipt-sim".into(),
                address: receipt.addr().to_string(),
                paper: Default::default(),
            });
            specs.push(DeviceSpec::KickDrawer {
                name: "drawer-sim".into(),
                printer: "receipt-sim".into(),
                pin: 2,
                sensor_open_high: true,
            });
            simulated.extend(["receipt-sim".to_owned(), "drawer-sim".to_owned()]);
            sims.receipt = Some(receipt);
        }
        let mut devices: BTreeMap<String, Managed> = specs
            .iter()
            .map(|spec| {
                let managed = Managed {
                    spec: spec.clone(),
                    state: printer::new_shared(),
                    commands: None,
                    simulated: simulated.iter().any(|s| s == spec.name()),
                };
                (spec.name().to_owned(), managed)
            })
            .collect();
        let mut workers = Vec::new();
        for spec in &specs {
            if let DeviceSpec::ReceiptPrinter { name, address, .. } = spec {
                let drawers = specs
                    .iter()
                    .filter_map(|d| match d {
                        DeviceSpec::KickDrawer {
                            name: dn,
                            printer,
                            sensor_open_high,
                            ..
                        } if printer == name => Some(KickDrawer {
                            name: dn.clone(),
                            sensor_open_high: *sensor_open_high,
                            state: devices.get(dn).map(|m| m.state.clone())?,
                        }),
                        _ => None,
                    })
                    .collect::<Vec<_>>();
                let (tx, rx) = channel();
                let worker = PrinterWorker {
                    name: name.clone(),
                    address: address.clone(),
                    poll: Duration::from_millis(cfg.status_poll_ms.max(50)),
                    job_wait: Duration::from_secs(cfg.job_wait_secs),
                    drawer_alarm: Duration::from_secs(cfg.drawer_alarm_secs),
                    drawers: drawers.clone(),
                    state: devices
                        .get(name)
                        .map(|m| m.state.clone())
                        .unwrap_or_default(),
                    store: store.clone(),
                    hub: hub.clone(),
                };
                for d in drawers
                    .iter()
                    .map(|d| d.name.as_str())
                    .chain([name.as_str()])
                {
                    if let Some(m) = devices.get_mut(d) {
                        m.commands = Some(tx.clone());
                    }
                }
                let handle = std::thread::Builder::new()
                    .name(format!("printer-{name}"))
                    .spawn(move || worker.run(rx))?;
                workers.push(handle);
            }
        }
        Ok(DeviceManager {
            devices,
            workers: std::sync::Mutex::new(workers),
            hub,
            sims: Arc::new(sims),
        })
    }

    /// Every device with its state, by name.
    pub fn list(&self) -> Vec<DeviceView> {
        self.devices
            .iter()
            .map(|(name, m)| self.view(name, m))
            .collect()
    }

    fn view(&self, name: &str, m: &Managed) -> DeviceView {
        DeviceView {
            name: name.to_owned(),
            kind: m.spec.kind(),
            simulated: m.simulated,
            state: m.state.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    /// One device with its state.
    pub fn get(&self, name: &str) -> Result<DeviceView, DeviceError> {
        let m = self
            .devices
            .get(name)
            .ok_or_else(|| DeviceError::Unknown(name.to_owned()))?;
        Ok(self.view(name, m))
    }

    /// The spec of a device.
    pub fn spec(&self, name: &str) -> Result<&DeviceSpec, DeviceError> {
        self.devices
            .get(name)
            .map(|m| &m.spec)
            .ok_or_else(|| DeviceError::Unknown(name.to_owned()))
    }

    fn send(&self, name: &str, action: &'static str, cmd: Command) -> Result<(), DeviceError> {
        let m = self
            .devices
            .get(name)
            .ok_or_else(|| DeviceError::Unknown(name.to_owned()))?;
        let tx = m.commands.as_ref().ok_or_else(|| DeviceError::WrongKind {
            device: name.to_owned(),
            kind: m.spec.kind(),
            action,
        })?;
        tx.send(cmd).map_err(|_| DeviceError::Failed {
            device: name.to_owned(),
            reason: "its worker has stopped".into(),
        })
    }

    /// Tells a printer's worker to look at its queue now.
    pub fn wake(&self, name: &str) {
        let _ = self.send(name, "print", Command::Wake);
    }

    fn ask<T>(
        &self,
        name: &str,
        action: &'static str,
        make: impl FnOnce(Sender<Result<T, String>>) -> Command,
    ) -> Result<T, DeviceError> {
        let (tx, rx) = channel();
        self.send(name, action, make(tx))?;
        match rx.recv_timeout(REPLY_TIMEOUT) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(reason)) => Err(DeviceError::Failed {
                device: name.to_owned(),
                reason,
            }),
            Err(_) => Err(DeviceError::NoAnswer {
                device: name.to_owned(),
                secs: REPLY_TIMEOUT.as_secs(),
            }),
        }
    }

    /// Opens a drawer. Blocking: call from a blocking thread.
    pub fn open_drawer(&self, name: &str) -> Result<(), DeviceError> {
        let pin = match self.spec(name)? {
            DeviceSpec::KickDrawer { pin, .. } => *pin,
            other => {
                return Err(DeviceError::WrongKind {
                    device: name.to_owned(),
                    kind: other.kind(),
                    action: "open as a drawer",
                })
            }
        };
        self.ask(name, "open", |reply| Command::Kick { pin, reply })
    }

    /// Sends bytes as they are to a printer. Blocking.
    pub fn raw(&self, name: &str, bytes: Vec<u8>) -> Result<(), DeviceError> {
        self.ask(name, "take raw bytes", |reply| Command::Raw {
            bytes,
            reply,
        })
    }

    /// Checks a device now. Blocking.
    pub fn check(&self, name: &str) -> Result<String, DeviceError> {
        self.ask(name, "be checked", |reply| Command::Check { reply })
    }

    /// Stops every worker and waits for them.
    pub fn stop(&self) {
        for m in self.devices.values() {
            if let Some(tx) = &m.commands {
                let _ = tx.send(Command::Stop);
            }
        }
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for w in workers {
            let _ = w.join();
        }
    }
}
