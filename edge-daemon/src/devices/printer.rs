//! The printer worker: one thread per printer (ESC/POS receipt or ZPL label, through
//! [`Backend`]) that polls status, prints queued jobs whole or not at all, and kicks drawers on a
//! receipt printer's kick port.
//!
//! Steps of one round, every `status_poll_ms` or when woken:
//! 1. Connect if not connected; a printer that cannot be reached is `offline`. A failed status
//!    query stands for the condition its backend gives it: `offline`, except a ZPL printer's
//!    silence after `~HS`, which is `error` (media or ribbon out, head open, over temperature).
//! 2. Query status (stale bytes drained by the driver); publish a change of state, and of the
//!    drawer sensor of every drawer on this printer (with the left-open alarm).
//! 3. Take the oldest pending job. If the printer is not ready, the job waits with the reason
//!    (paper out, cover open, offline, error with its cause) and fails after `job_wait_secs`.
//!    If it is ready, the job is marked `printing`, sent, and marked `done`; a failure before
//!    any byte was sent leaves it waiting, a failure in the middle fails it (the printer may
//!    hold part of it).

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drivers::drawer::{AlarmEvent, OpenAlarm};
use drivers::escpos::{
    AnyPrinter, DrawerKick, DrawerPin, PaperLevel, PrinterAddress, PrinterError, PrinterStatus,
    Timeouts,
};
use drivers::zpl::{HostStatus, LabelPrinterError, TcpLabelPrinter};

use super::hub::{DeviceEvent, Hub};
use super::state::{DeviceState, Shared};
use crate::store::{JobState, PrintJob, Store};

/// What the API asks of a printer worker.
#[derive(Debug)]
pub enum Command {
    /// A job was queued or cancelled: look at the queue now.
    Wake,
    /// Pulse the kick connector pin for `pulse_ms` (a GPIO drawer uses its own settings); the
    /// answer says whether the printer took it.
    Kick {
        pin: u8,
        pulse_ms: u16,
        reply: Sender<Result<(), String>>,
    },
    /// Send bytes as they are (technician pass-through).
    Raw {
        bytes: Vec<u8>,
        reply: Sender<Result<(), String>>,
    },
    /// Check the printer now and answer with its status.
    Check {
        reply: Sender<Result<String, String>>,
    },
    /// Stop the worker.
    Stop,
}

/// A drawer hanging on this printer's kick port.
#[derive(Debug, Clone)]
pub struct KickDrawer {
    pub name: String,
    pub sensor_open_high: bool,
    pub state: Shared,
}

/// What the worker needs of one kind of printer.
pub trait Backend: Send + 'static {
    type Conn: Send;
    type Status;
    type Error: std::error::Error;
    /// Connects to the printer at `address`.
    fn connect(address: &str) -> Result<Self::Conn, Self::Error>;
    /// Asks the printer for its status (stale replies drained by the driver).
    fn status(conn: &mut Self::Conn) -> Result<Self::Status, Self::Error>;
    /// The condition a failed connect or status query stands for: `offline` unless the
    /// protocol gives the failure a meaning of its own.
    fn failure_state(_error: &Self::Error) -> &'static str {
        "offline"
    }
    /// The printer's condition as one word, with detail.
    fn condition(status: &Self::Status) -> (&'static str, Option<String>);
    /// Whether a job sent now would print.
    fn ready(status: &Self::Status) -> bool;
    /// Sends a whole job after checking the printer is ready.
    fn print(conn: &mut Self::Conn, job: &[u8]) -> Result<(), Self::Error>;
    /// True when the error was raised before any byte of the job was sent.
    fn nothing_sent(error: &Self::Error) -> bool;
    /// Sends bytes unchecked.
    fn raw(conn: &mut Self::Conn, bytes: &[u8]) -> Result<(), Self::Error>;
    /// Pulses a kick connector pin for `pulse_ms`.
    fn kick(conn: &mut Self::Conn, pin: u8, pulse_ms: u16) -> Result<(), Self::Error>;
    /// Whether a drawer on the kick port reads open.
    fn drawer_open(status: &Self::Status, sensor_open_high: bool) -> bool;
}

/// ESC/POS receipt printers on TCP 9100, a USB printer class device or a serial port.
#[derive(Debug, Clone, Copy)]
pub struct Receipt;

/// Opens the ESC/POS printer at `address` (see [`PrinterAddress::parse`]).
pub fn open_receipt_printer(address: &str) -> Result<AnyPrinter, PrinterError> {
    let parsed = PrinterAddress::parse(address).map_err(|reason| PrinterError::Open {
        path: address.into(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, reason),
    })?;
    AnyPrinter::open_address(&parsed, Timeouts::default())
}

impl Backend for Receipt {
    type Conn = AnyPrinter;
    type Status = PrinterStatus;
    type Error = PrinterError;

    fn connect(address: &str) -> Result<AnyPrinter, PrinterError> {
        open_receipt_printer(address)
    }
    fn status(conn: &mut AnyPrinter) -> Result<PrinterStatus, PrinterError> {
        conn.query_status()
    }
    fn condition(s: &PrinterStatus) -> (&'static str, Option<String>) {
        condition(s)
    }
    fn ready(s: &PrinterStatus) -> bool {
        s.ready()
    }
    fn print(conn: &mut AnyPrinter, job: &[u8]) -> Result<(), PrinterError> {
        conn.print_job(job).map(drop)
    }
    fn nothing_sent(e: &PrinterError) -> bool {
        matches!(
            e,
            PrinterError::CoverOpen
                | PrinterError::PaperOut
                | PrinterError::Offline
                | PrinterError::Fault(_)
                | PrinterError::NoStatusReply { .. }
        )
    }
    fn raw(conn: &mut AnyPrinter, bytes: &[u8]) -> Result<(), PrinterError> {
        conn.write_raw(bytes)
    }
    fn kick(conn: &mut AnyPrinter, pin: u8, pulse_ms: u16) -> Result<(), PrinterError> {
        let pin = if pin == 5 {
            DrawerPin::Pin5
        } else {
            DrawerPin::Pin2
        };
        let rest = super::document::kick_rest(pulse_ms);
        let kick = DrawerKick::new(pin, pulse_ms, rest).map_err(|e| {
            PrinterError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
        })?;
        conn.kick_drawer(&kick)
    }
    fn drawer_open(s: &PrinterStatus, sensor_open_high: bool) -> bool {
        s.drawer_open(sensor_open_high)
    }
}

/// ZPL label printers on TCP 9100. No reply to `~HS` means "in error" (PROTOCOLS.md §2.2:
/// current firmware stays silent while media out, ribbon out, head open, rewinder full or over
/// temperature); a printer that cannot be connected to is offline.
#[derive(Debug, Clone, Copy)]
pub struct Label;

impl Backend for Label {
    type Conn = TcpLabelPrinter;
    type Status = HostStatus;
    type Error = LabelPrinterError;

    fn connect(address: &str) -> Result<TcpLabelPrinter, LabelPrinterError> {
        TcpLabelPrinter::connect(address, Timeouts::default())
    }
    fn status(conn: &mut TcpLabelPrinter) -> Result<HostStatus, LabelPrinterError> {
        conn.query_status()
    }
    fn failure_state(e: &LabelPrinterError) -> &'static str {
        match e {
            LabelPrinterError::NoStatusReply(_) => "error",
            _ => "offline",
        }
    }
    fn condition(s: &HostStatus) -> (&'static str, Option<String>) {
        if s.head_open {
            ("cover_open", None)
        } else if s.paper_out {
            ("paper_out", None)
        } else if s.ribbon_out {
            ("error", Some("ribbon out".into()))
        } else if s.paused {
            ("paused", None)
        } else if s.ready() {
            ("online", None)
        } else {
            ("error", Some(format!("{s:?}")))
        }
    }
    fn ready(s: &HostStatus) -> bool {
        s.ready()
    }
    fn print(conn: &mut TcpLabelPrinter, job: &[u8]) -> Result<(), LabelPrinterError> {
        conn.print_zpl(job).map(drop)
    }
    fn nothing_sent(e: &LabelPrinterError) -> bool {
        matches!(
            e,
            LabelPrinterError::HeadOpen
                | LabelPrinterError::PaperOut
                | LabelPrinterError::RibbonOut
                | LabelPrinterError::Paused
                | LabelPrinterError::Fault(_)
                | LabelPrinterError::NoStatusReply(_)
                | LabelPrinterError::BadStatus(_)
        )
    }
    fn raw(conn: &mut TcpLabelPrinter, bytes: &[u8]) -> Result<(), LabelPrinterError> {
        use std::io::Write;
        let t = conn.transport_mut();
        t.write_all(bytes)?;
        t.flush()?;
        Ok(())
    }
    fn kick(_: &mut TcpLabelPrinter, _: u8, _: u16) -> Result<(), LabelPrinterError> {
        Err(LabelPrinterError::Io(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "a label printer has no drawer kick port",
        )))
    }
    fn drawer_open(_s: &HostStatus, _sensor_open_high: bool) -> bool {
        false
    }
}

/// Settings of one printer worker.
#[derive(Debug, Clone)]
pub struct PrinterWorker<B> {
    pub backend: B,
    pub name: String,
    pub address: String,
    pub poll: Duration,
    pub job_wait: Duration,
    pub drawer_alarm: Duration,
    pub drawers: Vec<KickDrawer>,
    pub state: Shared,
    pub store: Store,
    pub hub: Hub,
}

/// A printer's condition as one word, with detail. A printer reports itself offline *because*
/// its cover is open, its paper is out or it has an error, so the cause wins over the bare
/// offline bit.
fn condition(s: &PrinterStatus) -> (&'static str, Option<String>) {
    if s.cover_open {
        ("cover_open", None)
    } else if s.paper == PaperLevel::Out {
        ("paper_out", None)
    } else if s.errors.any() {
        ("error", Some(format!("{:?}", s.errors)))
    } else if s.offline {
        ("offline", None)
    } else if s.paper == PaperLevel::NearEnd {
        ("paper_low", None)
    } else {
        ("online", None)
    }
}

impl<B: Backend> PrinterWorker<B> {
    /// Runs until [`Command::Stop`] or until every sender is gone.
    pub fn run(self, rx: Receiver<Command>) {
        let mut printer: Option<B::Conn> = None;
        let mut alarms: Vec<(OpenAlarm, Option<bool>)> = self
            .drawers
            .iter()
            .map(|_| (OpenAlarm::new(self.drawer_alarm), None))
            .collect();
        let started = Instant::now();
        loop {
            let status = self.refresh(&mut printer);
            if let Ok(s) = &status {
                let now_ms = started.elapsed().as_millis() as u64;
                self.observe_drawers(s, &mut alarms, now_ms);
            }
            self.print_pending(&mut printer, status.as_ref());
            match rx.recv_timeout(self.poll) {
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Command::Wake) | Err(RecvTimeoutError::Timeout) => {}
                Ok(Command::Kick {
                    pin,
                    pulse_ms,
                    reply,
                }) => {
                    let _ = reply.send(self.kick(&mut printer, pin, pulse_ms));
                }
                Ok(Command::Raw { bytes, reply }) => {
                    let res = self.with_printer(&mut printer, |p| B::raw(p, &bytes));
                    let _ = reply.send(res);
                }
                Ok(Command::Check { reply }) => {
                    // A failure with a meaning (a silent label printer is in error) is an
                    // answer; a printer that cannot be reached is not.
                    let res = match self.refresh(&mut printer) {
                        Ok(s) => Ok(B::condition(&s).0.to_owned()),
                        Err(f) if f.state != "offline" => Ok(f.state.to_owned()),
                        Err(f) => Err(f.detail),
                    };
                    let _ = reply.send(res);
                }
            }
        }
    }

    fn connect(&self) -> Result<B::Conn, B::Error> {
        B::connect(&self.address)
    }

    fn with_printer<T>(
        &self,
        printer: &mut Option<B::Conn>,
        f: impl FnOnce(&mut B::Conn) -> Result<T, B::Error>,
    ) -> Result<T, String> {
        if printer.is_none() {
            *printer = Some(self.connect().map_err(|e| error_chain(&e))?);
        }
        let p = printer.as_mut().ok_or("not connected")?;
        f(p).map_err(|e| {
            *printer = None;
            error_chain(&e)
        })
    }

    /// Connects if needed and queries status; publishes a change of condition. A failure
    /// comes back as the condition it stands for ([`Backend::failure_state`]) with its cause.
    fn refresh(&self, printer: &mut Option<B::Conn>) -> Result<B::Status, Failure> {
        let res = self.query(printer);
        let (state, detail) = match &res {
            Ok(s) => B::condition(s),
            Err(f) => (f.state, Some(f.detail.clone())),
        };
        self.set_state(&self.name, &self.state, state, detail);
        res
    }

    fn query(&self, printer: &mut Option<B::Conn>) -> Result<B::Status, Failure> {
        let failure = |e: &B::Error| Failure {
            state: B::failure_state(e),
            detail: error_chain(e),
        };
        if printer.is_none() {
            *printer = Some(self.connect().map_err(|e| failure(&e))?);
        }
        let p = printer.as_mut().ok_or(Failure {
            state: "offline",
            detail: "not connected".into(),
        })?;
        B::status(p).map_err(|e| {
            *printer = None;
            failure(&e)
        })
    }

    fn set_state(&self, device: &str, shared: &Shared, state: &str, detail: Option<String>) {
        let changed = {
            let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
            s.set(state, detail.clone())
        };
        if changed {
            tracing::info!(device, state, detail = detail.as_deref(), "device state");
            self.hub.publish(DeviceEvent::Status {
                device: device.to_owned(),
                state: state.to_owned(),
                detail,
            });
        }
    }

    fn observe_drawers(
        &self,
        s: &B::Status,
        alarms: &mut [(OpenAlarm, Option<bool>)],
        now_ms: u64,
    ) {
        for (drawer, (alarm, last)) in self.drawers.iter().zip(alarms.iter_mut()) {
            let open = B::drawer_open(s, drawer.sensor_open_high);
            let (state, event) = drawer_sample(alarm, last, open, now_ms);
            self.set_state(&drawer.name, &drawer.state, state, None);
            if let Some(event) = event {
                if event == "left_open" {
                    tracing::warn!(device = %drawer.name, "drawer left open");
                }
                self.hub.publish(DeviceEvent::Drawer {
                    device: drawer.name.clone(),
                    state: event.to_owned(),
                });
            }
        }
    }

    fn kick(&self, printer: &mut Option<B::Conn>, pin: u8, pulse_ms: u16) -> Result<(), String> {
        self.with_printer(printer, |p| B::kick(p, pin, pulse_ms))
    }

    /// Prints pending jobs while the printer is ready.
    fn print_pending(&self, printer: &mut Option<B::Conn>, status: Result<&B::Status, &Failure>) {
        loop {
            let job = match self.store.next_print_job(&self.name) {
                Ok(Some(job)) => job,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(device = %self.name, error = %e, "print queue unreadable");
                    return;
                }
            };
            let ready = status.is_ok_and(B::ready);
            if !ready {
                let reason = match status {
                    Ok(s) => B::condition(s).0.to_owned(),
                    Err(f) => format!("{}: {}", f.state, f.detail),
                };
                self.wait_or_fail(&job, reason);
                return;
            }
            if !self.update(&job, JobState::Printing, true) {
                return;
            }
            if printer.is_none() {
                match self.connect() {
                    Ok(p) => *printer = Some(p),
                    Err(e) => {
                        self.update(&job, JobState::Waiting(error_chain(&e)), false);
                        return;
                    }
                }
            }
            let Some(p) = printer.as_mut() else { return };
            match B::print(p, &job.payload) {
                Ok(_) => {
                    self.update(&job, JobState::Done, false);
                }
                Err(e) => {
                    *printer = None;
                    // A fault reported before sending leaves nothing on the printer: wait.
                    // Anything later may have printed part of the job: fail, reprint on request.
                    let state = if B::nothing_sent(&e) {
                        JobState::Waiting(error_chain(&e))
                    } else {
                        JobState::Failed(error_chain(&e))
                    };
                    self.update(&job, state, false);
                    return;
                }
            }
        }
    }

    fn wait_or_fail(&self, job: &PrintJob, reason: String) {
        let waited_ms = crate::clock::now()
            .millis()
            .saturating_sub(job.created_at.millis());
        if waited_ms > self.job_wait.as_millis() as i64 {
            self.update(
                job,
                JobState::Failed(format!("gave up waiting: {reason}")),
                false,
            );
        } else if job.state != JobState::Waiting(reason.clone()) {
            self.update(job, JobState::Waiting(reason), false);
        }
    }

    /// Records a job's new state and publishes it; false if the store failed.
    fn update(&self, job: &PrintJob, state: JobState, sent: bool) -> bool {
        let (name, detail) = (state.name(), state.detail().map(str::to_owned));
        match self.store.update_print_job(job.id, state, sent) {
            Ok(_) => {
                tracing::info!(device = %self.name, job = %job.id, state = name, "print job");
                if name == "done" {
                    self.state
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .stats
                        .jobs_printed += 1;
                }
                self.hub.publish(DeviceEvent::Job {
                    device: self.name.clone(),
                    job: job.id.to_string(),
                    state: name.to_owned(),
                    detail,
                });
                true
            }
            Err(e) => {
                tracing::error!(device = %self.name, job = %job.id, error = %e, "print queue");
                false
            }
        }
    }
}

/// One sample of a drawer's open sensor: the drawer's state (`open`, `closed`, or `left_open`
/// from the alarm until it closes) and the drawer event to publish, if any (`open` and
/// `closed` on a change, `left_open` once per opening that lasts the alarm time).
pub(super) fn drawer_sample(
    alarm: &mut OpenAlarm,
    last: &mut Option<bool>,
    open: bool,
    now_ms: u64,
) -> (&'static str, Option<&'static str>) {
    let plain = if open { "open" } else { "closed" };
    let mut event = (*last != Some(open)).then_some(plain);
    *last = Some(open);
    if let Some(AlarmEvent::LeftOpen { .. }) = alarm.observe(open, now_ms) {
        event = Some("left_open");
    }
    let state = if alarm.is_left_open() {
        "left_open"
    } else {
        plain
    };
    (state, event)
}

/// A failed status query: the condition it stands for and its cause.
#[derive(Debug, Clone)]
struct Failure {
    state: &'static str,
    detail: String,
}

/// An error and its causes, `: `-separated.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

/// A worker's shared state, for the API.
pub fn new_shared() -> Shared {
    Arc::new(Mutex::new(DeviceState::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drawer_left_open_shows_it_until_it_closes() {
        let mut alarm = OpenAlarm::new(Duration::from_millis(1_000));
        let mut last = None;
        let mut sample = |open, t| drawer_sample(&mut alarm, &mut last, open, t);
        assert_eq!(sample(false, 0), ("closed", Some("closed")));
        assert_eq!(sample(false, 100), ("closed", None));
        assert_eq!(sample(true, 200), ("open", Some("open")));
        assert_eq!(sample(true, 1_199), ("open", None));
        assert_eq!(sample(true, 1_200), ("left_open", Some("left_open")));
        assert_eq!(sample(true, 5_000), ("left_open", None));
        assert_eq!(sample(false, 5_100), ("closed", Some("closed")));
        assert_eq!(sample(true, 5_200), ("open", Some("open")));
    }
}
