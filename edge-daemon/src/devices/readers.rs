//! Workers of the devices that read: serial barcode scanners and LLRP RFID readers.
//!
//! Each runs on its own thread, reconnects with a growing delay when its device goes away, and
//! publishes what it reads to the [`Hub`], which routes it to the client that claimed the device.
//! Garbage from a device becomes an `invalid` scan or an `unknown` EPC in the event, never a
//! panic or a stall.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use drivers::rfid::aggregate::Aggregator;
use drivers::rfid::client::{Backoff, ClientConfig, LlrpClient, StopHandle};
use drivers::scanner::{RawScan, ScannerError, SerialConfig, SerialScanner, WedgeConfig};

use super::hub::{DeviceEvent, Hub};
use super::state::Shared;
use super::views;

/// How long a blocking read waits before the worker looks at its stop flag.
const POLL: Duration = Duration::from_millis(200);

/// Stops a reader worker from another thread.
#[derive(Debug, Clone, Default)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
    llrp: Arc<Mutex<Option<StopHandle>>>,
}

impl Stopper {
    /// Asks the worker to stop; it returns within about [`POLL`].
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        if let Some(h) = self.llrp.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            h.stop();
        }
    }

    fn stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Sleeps up to `d`, waking early when stopped; true if stopped.
    fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if self.stopped() {
                return true;
            }
            std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
        }
        self.stopped()
    }
}

/// Publishes a change of a device's condition.
pub(super) fn set_state(
    hub: &Hub,
    device: &str,
    shared: &Shared,
    state: &str,
    detail: Option<String>,
) {
    let changed = shared
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .set(state, detail.clone());
    if changed {
        tracing::info!(device, state, detail = detail.as_deref(), "device state");
        hub.publish(DeviceEvent::Status {
            device: device.to_owned(),
            state: state.to_owned(),
            detail,
        });
    }
}

fn backoff() -> Backoff {
    Backoff::new(Duration::from_millis(500), Duration::from_secs(30))
}

/// How a scanner is attached.
#[derive(Debug, Clone)]
pub enum ScannerPort {
    /// A serial or USB-CDC port.
    Serial(PathBuf),
    /// A keyboard-wedge scanner's evdev node.
    Wedge(PathBuf, WedgeConfig),
}

/// An open scanner of either kind.
pub(crate) enum OpenScanner {
    Serial(SerialScanner),
    Wedge(Box<drivers::scanner::EvdevScanner>),
}

impl ScannerPort {
    /// Opens the scanner (and grabs a wedge scanner's device).
    pub(crate) fn open(&self) -> Result<OpenScanner, ScannerError> {
        match self {
            ScannerPort::Serial(path) => {
                SerialScanner::open(&SerialConfig::new(path)).map(OpenScanner::Serial)
            }
            ScannerPort::Wedge(path, cfg) => {
                drivers::scanner::EvdevScanner::open(path, cfg.clone())
                    .map(|s| OpenScanner::Wedge(Box::new(s)))
            }
        }
    }
}

impl OpenScanner {
    /// The next scan within `timeout`, if any.
    pub(crate) fn next_scan(&mut self, timeout: Duration) -> Result<Option<RawScan>, ScannerError> {
        match self {
            OpenScanner::Serial(s) => s.next_scan(timeout),
            OpenScanner::Wedge(s) => s.next_scan(timeout),
        }
    }
}

/// A scanner worker.
#[derive(Debug, Clone)]
pub struct ScannerWorker {
    pub name: String,
    pub port: ScannerPort,
    pub state: Shared,
    pub hub: Hub,
    pub stopper: Stopper,
}

impl ScannerWorker {
    /// Runs until stopped.
    pub fn run(self) {
        let mut delay = backoff();
        while !self.stopper.stopped() {
            let mut scanner = match self.port.open() {
                Ok(s) => s,
                Err(e) => {
                    let detail = Some(crate::devices::printer::error_chain(&e));
                    set_state(&self.hub, &self.name, &self.state, "offline", detail);
                    if self.stopper.sleep(delay.next_delay()) {
                        return;
                    }
                    continue;
                }
            };
            delay.reset();
            set_state(&self.hub, &self.name, &self.state, "online", None);
            while !self.stopper.stopped() {
                match scanner.next_scan(POLL) {
                    Ok(Some(raw)) => self.publish(&raw.data),
                    Ok(None) => {}
                    Err(e) => {
                        let detail = Some(crate::devices::printer::error_chain(&e));
                        set_state(&self.hub, &self.name, &self.state, "offline", detail);
                        break;
                    }
                }
            }
        }
    }

    fn publish(&self, data: &[u8]) {
        let scan = views::scan_result(data);
        tracing::info!(device = %self.name, kind = %scan["kind"], "scan");
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stats
            .scans += 1;
        self.hub.publish(DeviceEvent::Scan {
            device: self.name.clone(),
            scan,
        });
    }
}

/// An LLRP RFID reader: reads aggregated per EPC over `window`, published once per window. The
/// worker wakes at least every [`POLL`] (or `window`, if shorter) while no read arrives, so the
/// last window before the field goes quiet is published on time rather than held back.
#[derive(Debug, Clone)]
pub struct RfidWorker {
    pub name: String,
    pub address: String,
    pub window: Duration,
    pub state: Shared,
    pub hub: Hub,
    pub stopper: Stopper,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl RfidWorker {
    /// Runs until stopped.
    pub fn run(self) {
        let mut delay = backoff();
        while !self.stopper.stopped() {
            let mut client =
                match LlrpClient::connect(self.address.as_str(), ClientConfig::default()) {
                    Ok(c) => c,
                    Err(e) => {
                        let detail = Some(crate::devices::printer::error_chain(&e));
                        set_state(&self.hub, &self.name, &self.state, "offline", detail);
                        if self.stopper.sleep(delay.next_delay()) {
                            return;
                        }
                        continue;
                    }
                };
            *self.stopper.llrp.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(client.stop_handle());
            if self.stopper.stopped() {
                client.stop_handle().stop();
            }
            delay.reset();
            set_state(&self.hub, &self.name, &self.state, "online", None);
            let mut agg = Aggregator::with_window(self.window.as_micros() as u64);
            // Wake at least this often while the field is quiet, to close windows on time.
            let idle = POLL.min(self.window);
            loop {
                match client.next_read_within(idle) {
                    Ok(Some(read)) => {
                        agg.add(&read);
                        self.count(1);
                        if let Some(window) = agg.take_window(now_us()) {
                            self.publish(&window);
                        }
                    }
                    Ok(None) if client.is_stopped() => {
                        let rest = client.stop().unwrap_or_default();
                        agg.extend(&rest);
                        self.publish(&agg.flush());
                        return;
                    }
                    Ok(None) => {
                        if let Some(window) = agg.take_window(now_us()) {
                            self.publish(&window);
                        }
                    }
                    Err(e) => {
                        self.publish(&agg.flush());
                        let detail = Some(crate::devices::printer::error_chain(&e));
                        set_state(&self.hub, &self.name, &self.state, "offline", detail);
                        break;
                    }
                }
            }
        }
    }

    fn count(&self, n: u64) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stats
            .tag_reads += n;
    }

    fn publish(&self, window: &[drivers::rfid::aggregate::TagAggregate]) {
        if window.is_empty() {
            return;
        }
        self.hub.publish(DeviceEvent::TagReads {
            device: self.name.clone(),
            reads: views::tag_reads(window),
        });
    }
}
