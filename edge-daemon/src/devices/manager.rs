//! The device manager: starts a worker per configured device (and the simulators of the
//! embedded default), and is what the API asks to print, kick, check and list.

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use drivers::escpos::sim::SimPrinter;
use drivers::rfid::sim::{SimConfig, SimReader};
use drivers::scanner::sim::SimSerialScanner;
use drivers::zpl::sim::SimLabelPrinter;
use serde::Serialize;

use super::config::{DeviceSpec, DevicesConfig};
use super::gpio_drawer::GpioDrawerWorker;
use super::hub::Hub;
use super::printer::{self, Backend, Command, KickDrawer, PrinterWorker};
use super::readers::{RfidWorker, ScannerPort, ScannerWorker, Stopper};
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
    /// Stops a reader's worker (scanners, RFID readers).
    stopper: Option<Stopper>,
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
    pub label: Option<SimLabelPrinter>,
    pub scanner: Option<std::sync::Mutex<SimSerialScanner>>,
    pub rfid: Option<SimReader>,
}

/// Names of the simulated devices of the embedded default.
pub mod sim_names {
    pub const RECEIPT: &str = "receipt-sim";
    pub const DRAWER: &str = "drawer-sim";
    pub const LABEL: &str = "label-sim";
    pub const SCANNER: &str = "scanner-sim";
    pub const RFID: &str = "rfid-sim";
}

/// Starts the simulators and adds them to `specs`; returns them with their names.
fn start_simulators(specs: &mut Vec<DeviceSpec>) -> std::io::Result<(Simulators, Vec<String>)> {
    use sim_names::*;
    let receipt = SimPrinter::start()?;
    let label = SimLabelPrinter::start()?;
    let scanner = SimSerialScanner::new()?;
    let mut rfid_cfg = SimConfig::sgtin_population(12);
    // A calm shelf: enough to see reads, not a flood of events.
    rfid_cfg.reads_per_second = 24;
    let rfid = SimReader::start(rfid_cfg)?;
    specs.extend([
        DeviceSpec::ReceiptPrinter {
            name: RECEIPT.into(),
            address: receipt.addr().to_string(),
            paper: Default::default(),
            font: Default::default(),
        },
        DeviceSpec::KickDrawer {
            name: DRAWER.into(),
            printer: RECEIPT.into(),
            pin: 2,
            sensor_open_high: true,
            pulse_ms: 100,
        },
        DeviceSpec::LabelPrinter {
            name: LABEL.into(),
            address: label.addr().to_string(),
        },
        DeviceSpec::SerialScanner {
            name: SCANNER.into(),
            path: scanner.path().to_owned(),
        },
        DeviceSpec::RfidReader {
            name: RFID.into(),
            address: rfid.addr().to_string(),
        },
    ]);
    let sims = Simulators {
        receipt: Some(receipt),
        label: Some(label),
        scanner: Some(std::sync::Mutex::new(scanner)),
        rfid: Some(rfid),
    };
    let names = [RECEIPT, DRAWER, LABEL, SCANNER, RFID].map(str::to_owned);
    Ok((sims, names.to_vec()))
}

/// The devices of this box.
#[derive(Debug)]
pub struct DeviceManager {
    devices: BTreeMap<String, Managed>,
    workers: std::sync::Mutex<Vec<JoinHandle<()>>>,
    pub hub: Hub,
    pub sims: Arc<Simulators>,
    /// Idempotency keys of device actions in progress.
    pub in_flight: super::inflight::InFlight,
}

impl DeviceManager {
    /// Starts simulators (if configured) and a worker per device.
    pub fn start(cfg: &DevicesConfig, store: &Store, hub: Hub) -> std::io::Result<DeviceManager> {
        let mut specs = cfg.list.clone();
        let (sims, simulated) = if cfg.simulate {
            start_simulators(&mut specs)?
        } else {
            (Simulators::default(), Vec::new())
        };
        let mut devices: BTreeMap<String, Managed> = specs
            .iter()
            .map(|spec| {
                let managed = Managed {
                    spec: spec.clone(),
                    state: printer::new_shared(),
                    commands: None,
                    stopper: None,
                    simulated: simulated.iter().any(|s| s == spec.name()),
                };
                (spec.name().to_owned(), managed)
            })
            .collect();
        let mut workers = Vec::new();
        for spec in &specs {
            let state = devices
                .get(spec.name())
                .map(|m| m.state.clone())
                .unwrap_or_default();
            let thread = std::thread::Builder::new().name(format!("device-{}", spec.name()));
            let handle = match spec {
                DeviceSpec::ReceiptPrinter { name, address, .. } => {
                    let drawers = drawers_of(name, &specs, &devices);
                    let (tx, rx) = channel();
                    for d in drawers
                        .iter()
                        .map(|d| d.name.as_str())
                        .chain([name.as_str()])
                    {
                        if let Some(m) = devices.get_mut(d) {
                            m.commands = Some(tx.clone());
                        }
                    }
                    let mut worker =
                        printer_worker(printer::Receipt, cfg, (name, address), state, store, &hub);
                    worker.drawers = drawers;
                    thread.spawn(move || worker.run(rx))?
                }
                DeviceSpec::LabelPrinter { name, address } => {
                    let (tx, rx) = channel();
                    if let Some(m) = devices.get_mut(name) {
                        m.commands = Some(tx);
                    }
                    let worker =
                        printer_worker(printer::Label, cfg, (name, address), state, store, &hub);
                    thread.spawn(move || worker.run(rx))?
                }
                DeviceSpec::SerialScanner { name, .. } | DeviceSpec::WedgeScanner { name, .. } => {
                    let port = match spec {
                        DeviceSpec::WedgeScanner {
                            path,
                            layout,
                            suffix,
                            ..
                        } => ScannerPort::Wedge(
                            path.clone(),
                            DeviceSpec::wedge_config(*layout, *suffix),
                        ),
                        DeviceSpec::SerialScanner { path, .. } => ScannerPort::Serial(path.clone()),
                        _ => continue,
                    };
                    let stopper = Stopper::default();
                    if let Some(m) = devices.get_mut(name) {
                        m.stopper = Some(stopper.clone());
                    }
                    let worker = ScannerWorker {
                        name: name.clone(),
                        port,
                        state,
                        hub: hub.clone(),
                        stopper,
                    };
                    thread.spawn(move || worker.run())?
                }
                DeviceSpec::RfidReader { name, address } => {
                    let stopper = Stopper::default();
                    if let Some(m) = devices.get_mut(name) {
                        m.stopper = Some(stopper.clone());
                    }
                    let worker = RfidWorker {
                        name: name.clone(),
                        address: address.clone(),
                        window: Duration::from_millis(cfg.rfid_window_ms.max(10)),
                        state,
                        hub: hub.clone(),
                        stopper,
                    };
                    thread.spawn(move || worker.run())?
                }
                DeviceSpec::GpioDrawer {
                    name,
                    chip,
                    solenoid_line,
                    sensor_line,
                    pulse_ms,
                    sensor_open_high,
                    solenoid_active_low,
                } => {
                    use drivers::drawer::{DrawerSettings, SensorPolarity, SolenoidLevel};
                    let sensor = if *sensor_open_high {
                        SensorPolarity::ActiveHigh
                    } else {
                        SensorPolarity::ActiveLow
                    };
                    let solenoid = if *solenoid_active_low {
                        SolenoidLevel::ActiveLow
                    } else {
                        SolenoidLevel::ActiveHigh
                    };
                    let settings = DrawerSettings::new(*pulse_ms, sensor, solenoid)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                    let (tx, rx) = channel();
                    if let Some(m) = devices.get_mut(name) {
                        m.commands = Some(tx);
                    }
                    let worker = GpioDrawerWorker {
                        name: name.clone(),
                        chip: chip.clone(),
                        solenoid_line: *solenoid_line,
                        sensor_line: *sensor_line,
                        settings,
                        alarm_after: Duration::from_secs(cfg.drawer_alarm_secs),
                        state,
                        hub: hub.clone(),
                    };
                    thread.spawn(move || worker.run(rx))?
                }
                // A drawer on a kick port is driven by its printer's worker.
                DeviceSpec::KickDrawer { .. } => continue,
            };
            workers.push(handle);
        }
        Ok(DeviceManager {
            devices,
            workers: std::sync::Mutex::new(workers),
            hub,
            sims: Arc::new(sims),
            in_flight: Default::default(),
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
        let (pin, pulse_ms) = match self.spec(name)? {
            DeviceSpec::KickDrawer { pin, pulse_ms, .. } => (*pin, *pulse_ms),
            // The GPIO drawer's worker knows its line and pulse.
            DeviceSpec::GpioDrawer { .. } => (0, 0),
            other => {
                return Err(DeviceError::WrongKind {
                    device: name.to_owned(),
                    kind: other.kind(),
                    action: "open as a drawer",
                })
            }
        };
        self.ask(name, "open", |reply| Command::Kick {
            pin,
            pulse_ms,
            reply,
        })
    }

    /// Sends bytes as they are to a printer. Blocking.
    pub fn raw(&self, name: &str, bytes: Vec<u8>) -> Result<(), DeviceError> {
        self.ask(name, "take raw bytes", |reply| Command::Raw {
            bytes,
            reply,
        })
    }

    /// Checks a device now and answers with its condition. Blocking. A printer is asked now; a
    /// drawer on a kick port answers with its sensor after its printer was asked; a scanner or
    /// RFID reader, whose worker watches it all the time, answers with its current state. A
    /// device that cannot be reached is [`DeviceError::Failed`] with the reason.
    pub fn check(&self, name: &str) -> Result<String, DeviceError> {
        let m = self
            .devices
            .get(name)
            .ok_or_else(|| DeviceError::Unknown(name.to_owned()))?;
        match m.spec {
            DeviceSpec::SerialScanner { .. }
            | DeviceSpec::WedgeScanner { .. }
            | DeviceSpec::RfidReader { .. } => {}
            DeviceSpec::KickDrawer { .. } => {
                self.ask(name, "be checked", |reply| Command::Check { reply })?;
            }
            _ => return self.ask(name, "be checked", |reply| Command::Check { reply }),
        }
        let s = m.state.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match s.state.as_str() {
            "offline" | "unknown" => Err(DeviceError::Failed {
                device: name.to_owned(),
                reason: s
                    .detail
                    .unwrap_or_else(|| format!("{} (not heard from yet)", s.state)),
            }),
            _ => Ok(s.state),
        }
    }

    /// Stops every worker and waits for them.
    pub fn stop(&self) {
        for m in self.devices.values() {
            if let Some(tx) = &m.commands {
                let _ = tx.send(Command::Stop);
            }
            if let Some(stopper) = &m.stopper {
                stopper.stop();
            }
        }
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for w in workers {
            let _ = w.join();
        }
    }
}

/// The drawers hanging on the receipt printer `printer`.
fn drawers_of(
    printer: &str,
    specs: &[DeviceSpec],
    devices: &BTreeMap<String, Managed>,
) -> Vec<KickDrawer> {
    specs
        .iter()
        .filter_map(|d| match d {
            DeviceSpec::KickDrawer {
                name,
                printer: p,
                sensor_open_high,
                ..
            } if p == printer => Some(KickDrawer {
                name: name.clone(),
                sensor_open_high: *sensor_open_high,
                state: devices.get(name).map(|m| m.state.clone())?,
            }),
            _ => None,
        })
        .collect()
}

/// A printer worker for `(name, address)` with the settings from `cfg` and no drawers.
fn printer_worker<B: Backend>(
    backend: B,
    cfg: &DevicesConfig,
    (name, address): (&str, &str),
    state: Shared,
    store: &Store,
    hub: &Hub,
) -> PrinterWorker<B> {
    PrinterWorker {
        backend,
        name: name.to_owned(),
        address: address.to_owned(),
        poll: Duration::from_millis(cfg.status_poll_ms.max(50)),
        job_wait: Duration::from_secs(cfg.job_wait_secs),
        drawer_alarm: Duration::from_secs(cfg.drawer_alarm_secs),
        drawers: Vec::new(),
        state,
        store: store.clone(),
        hub: hub.clone(),
    }
}
