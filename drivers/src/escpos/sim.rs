//! A simulated ESC/POS receipt printer on TCP, for tests and for the daemon's demo mode.
//!
//! [`SimPrinter`] listens on a TCP port like a network printer's 9100 and parses the byte
//! stream enough to answer status requests per its [`SimState`], to record each job's text
//! (decoded through the selected code page) and the commands that matter to a receipt (cut,
//! drawer kick, barcode, QR, raster image). A job ends with a cut or when the connection
//! closes. Any byte sequence is accepted: unknown commands are skipped, never a panic.
//!
//! # Current limitations
//! - Automatic Status Back is sent once when enabled (`GS a n`, n ≠ 0), not on every change.
//! - Data sent while the simulated printer is out of paper or has its cover open is recorded
//!   as printed; the simulator does not hold it as a real printer would.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use super::codepage::CodePage;
use super::status::{PaperLevel, PrinterErrors};

use crate::sim_host::{self, lock, Host, TICK};
/// Most characters of text kept per job (the rest is dropped).
const MAX_JOB_TEXT: usize = 1 << 20;

/// The state the simulated printer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimState {
    /// Roll paper level.
    pub paper: PaperLevel,
    /// Cover open.
    pub cover_open: bool,
    /// Offline for another reason (e.g. the operator pressed a button).
    pub offline: bool,
    /// Drawer kick connector pin 3 high (the drawer's sensor; a kick sets it).
    pub drawer_pin3_high: bool,
    /// Error conditions to report.
    pub errors: PrinterErrors,
    /// Answer no status request at all (a hung printer).
    pub silent: bool,
}

impl SimState {
    /// The reply to `DLE EOT n`, as the Epson-modelled reference table gives it.
    pub fn realtime_reply(&self, n: u8) -> Option<u8> {
        let paper_out = self.paper == PaperLevel::Out;
        let error = self.errors.any();
        let flag = |cond: bool, bits: u8| if cond { bits } else { 0 };
        let reply = match n {
            1 => {
                let offline = self.offline || self.cover_open || paper_out || error;
                0x12 | flag(self.drawer_pin3_high, 0x04) | flag(offline, 0x08)
            }
            2 => 0x12 | flag(self.cover_open, 0x04) | flag(paper_out, 0x20) | flag(error, 0x40),
            3 => {
                let e = self.errors;
                0x12 | flag(e.recoverable, 0x04)
                    | flag(e.autocutter, 0x08)
                    | flag(e.unrecoverable, 0x20)
                    | flag(e.auto_recoverable, 0x40)
            }
            4 => match self.paper {
                PaperLevel::Ok => 0x12,
                PaperLevel::NearEnd => 0x1E,
                PaperLevel::Out => 0x7E,
            },
            _ => return None,
        };
        Some(reply)
    }

    /// The 4-byte Automatic Status Back message for this state.
    pub fn asb(&self) -> [u8; 4] {
        let flag = |cond: bool, bits: u8| if cond { bits } else { 0 };
        let paper_out = self.paper == PaperLevel::Out;
        let offline = self.offline || self.cover_open || paper_out || self.errors.any();
        let e = self.errors;
        [
            0x10 | flag(self.drawer_pin3_high, 0x04)
                | flag(offline, 0x08)
                | flag(self.cover_open, 0x20),
            flag(e.recoverable, 0x04)
                | flag(e.autocutter, 0x08)
                | flag(e.unrecoverable, 0x20)
                | flag(e.auto_recoverable, 0x40),
            match self.paper {
                PaperLevel::Ok => 0,
                PaperLevel::NearEnd => 0x03,
                PaperLevel::Out => 0x0F,
            },
            0,
        ]
    }
}

/// A command of interest the simulator saw in a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimCommand {
    /// `GS V`: paper cut (ends the job).
    Cut {
        /// Partial rather than full cut.
        partial: bool,
    },
    /// `ESC p`: drawer pulse.
    Kick {
        /// 0 = pin 2, 1 = pin 5.
        pin: u8,
        /// On time in ms.
        on_ms: u16,
        /// Off time in ms.
        off_ms: u16,
    },
    /// `DLE DC4 1 m t`: real-time drawer pulse.
    RealtimeKick {
        /// 0 = pin 2, 1 = pin 5.
        pin: u8,
        /// Pulse time in units of 100 ms.
        t: u8,
    },
    /// `GS k`: barcode.
    Barcode {
        /// The `m` of `GS k m` (73 = CODE128, 67 = EAN-13, …).
        symbology: u8,
        /// Data bytes as sent.
        data: Vec<u8>,
    },
    /// `GS ( k` fn 81: a QR code was printed with the data stored before.
    Qr {
        /// Stored data.
        data: Vec<u8>,
    },
    /// `GS v 0`: a raster image band.
    Raster {
        /// Bytes per row.
        width_bytes: u16,
        /// Rows.
        height: u16,
    },
}

/// One job as the simulated printer printed it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimJob {
    /// Text, lines separated by `\n`; bytes without a glyph appear as `?`.
    pub text: String,
    /// Commands of interest, in order.
    pub commands: Vec<SimCommand>,
}

impl SimJob {
    /// Whether the job ended with a cut.
    pub fn cut(&self) -> bool {
        matches!(self.commands.last(), Some(SimCommand::Cut { .. }))
    }
}

type Shared = sim_host::Shared<SimState, SimJob>;

/// A running simulated receipt printer; stops when dropped.
#[derive(Debug)]
pub struct SimPrinter {
    host: Host<SimState, SimJob>,
    /// The pty a serial simulator is reached through.
    path: Option<std::path::PathBuf>,
}

/// What a simulator connection reads and writes.
trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

impl SimPrinter {
    /// Starts a simulator on a free port of 127.0.0.1.
    pub fn start() -> io::Result<SimPrinter> {
        SimPrinter::bind("127.0.0.1:0")
    }

    /// Starts a simulator listening on `addr`.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<SimPrinter> {
        let host = Host::bind(addr, "sim-escpos", |stream, shared| {
            run_conn(Box::new(stream), shared)
        })?;
        Ok(SimPrinter { host, path: None })
    }

    /// Starts a simulated serial printer on a pseudo-terminal; open [`SimPrinter::path`] like a
    /// `/dev/ttyUSB0` (any baud rate). Jobs end at a cut, as there is no connection to close.
    pub fn start_serial() -> io::Result<SimPrinter> {
        use serialport::SerialPort;
        let (mut master, slave) = serialport::TTYPort::pair().map_err(io::Error::from)?;
        master.set_timeout(TICK).map_err(io::Error::from)?;
        let path = slave
            .name()
            .map(std::path::PathBuf::from)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "pty has no name"))?;
        let host = Host::detached("sim-escpos-serial", move |shared: Arc<Shared>| {
            // Holding the other end keeps the pty up while the host closes and reopens it.
            let _slave = slave;
            while !shared.stopping() {
                let Ok(stream) = master.try_clone_native() else {
                    return;
                };
                run_conn(Box::new(stream), &shared);
                std::thread::sleep(TICK);
            }
        })?;
        Ok(SimPrinter {
            host,
            path: Some(path),
        })
    }

    /// The address to connect to (unspecified for a serial simulator).
    pub fn addr(&self) -> SocketAddr {
        self.host.addr()
    }

    /// The device path of a serial simulator.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// The current state.
    pub fn state(&self) -> SimState {
        self.host.state()
    }

    /// Replaces the state.
    pub fn set_state(&self, state: SimState) {
        self.host.set_state(state);
    }

    /// Changes the state in place.
    pub fn update_state(&self, f: impl FnOnce(&mut SimState)) {
        self.host.update_state(f);
    }

    /// Sends `bytes` just before the next status reply, in the same write (a stale or stray
    /// answer that draining cannot remove).
    pub fn inject_before_next_reply(&self, bytes: &[u8]) {
        self.host.inject_before_next_reply(bytes);
    }

    /// Sends `bytes` now on every open connection, unasked (a stale reply in the buffer).
    pub fn send_unsolicited(&self, bytes: &[u8]) {
        self.host.send_unsolicited(bytes);
    }

    /// Jobs finished so far.
    pub fn printed(&self) -> Vec<SimJob> {
        self.host.done()
    }

    /// Jobs finished so far, removed from the simulator.
    pub fn take_jobs(&self) -> Vec<SimJob> {
        self.host.take_done()
    }

    /// Waits until at least `count` jobs are finished or `timeout` passes; returns them all.
    pub fn wait_for_jobs(&self, count: usize, timeout: Duration) -> Vec<SimJob> {
        self.host.wait_for(count, timeout)
    }
}

/// Serves one connection until it ends or the simulator stops.
fn run_conn(stream: Box<dyn Stream + '_>, shared: &Shared) {
    let mut conn = Conn {
        stream,
        shared,
        buf: [0; 4096],
        pos: 0,
        len: 0,
        page: CodePage::Cp437,
        job: SimJob::default(),
        qr: Vec::new(),
    };
    // `None` means the connection ended; whatever was printed is a job.
    let _ = conn.run();
    conn.finish_job();
}

struct Conn<'a> {
    stream: Box<dyn Stream + 'a>,
    shared: &'a Shared,
    buf: [u8; 4096],
    pos: usize,
    len: usize,
    page: CodePage,
    job: SimJob,
    qr: Vec<u8>,
}

impl Conn<'_> {
    fn byte(&mut self) -> Option<u8> {
        while self.pos == self.len {
            if self.shared.stopping() {
                return None;
            }
            match self.stream.read(&mut self.buf) {
                Ok(0) => return None,
                Ok(n) => {
                    self.pos = 0;
                    self.len = n;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return None,
            }
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> Option<Vec<u8>> {
        // Grows as data arrives, so a bogus length costs no memory up front.
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(self.byte()?);
        }
        Some(v)
    }

    fn skip(&mut self, n: u64) -> Option<()> {
        for _ in 0..n {
            self.byte()?;
        }
        Some(())
    }

    fn u16le(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn reply(&mut self, bytes: &[u8]) {
        let out = self.shared.with_injected(bytes);
        let _ = self.stream.write_all(&out);
    }

    fn state(&self) -> SimState {
        *lock(&self.shared.state)
    }

    fn text(&mut self, c: char) {
        if self.job.text.len() < MAX_JOB_TEXT {
            self.job.text.push(c);
        }
    }

    fn command(&mut self, cmd: SimCommand) {
        self.job.commands.push(cmd);
    }

    fn finish_job(&mut self) {
        let job = std::mem::take(&mut self.job);
        if !job.text.is_empty() || !job.commands.is_empty() {
            lock(&self.shared.done).push(job);
        }
    }

    fn run(&mut self) -> Option<()> {
        loop {
            match self.byte()? {
                0x0A => self.text('\n'),
                0x10 => self.dle()?,
                0x1B => self.esc()?,
                0x1D => self.gs()?,
                b @ (0x20..=0x7E | 0x80..=0xFF) => {
                    let c = self.page.decode(b).unwrap_or('?');
                    self.text(c);
                }
                _ => {}
            }
        }
    }

    fn dle(&mut self) -> Option<()> {
        match self.byte()? {
            0x04 => {
                let n = self.byte()?;
                let state = self.state();
                if !state.silent {
                    if let Some(r) = state.realtime_reply(n) {
                        self.reply(&[r]);
                    }
                }
            }
            0x14 => self.realtime_kick()?,
            _ => {}
        }
        Some(())
    }

    /// `DLE DC4 fn …`: only fn 1 (drawer pulse) is known.
    fn realtime_kick(&mut self) -> Option<()> {
        if self.byte()? != 1 {
            return Some(());
        }
        let pin = self.byte()?;
        let t = self.byte()?;
        self.command(SimCommand::RealtimeKick { pin, t });
        self.update(|s| s.drawer_pin3_high = true);
        Some(())
    }

    /// `GS v 0 m xL xH yL yH d…`.
    fn raster(&mut self) -> Option<()> {
        if self.byte()? != b'0' {
            return Some(());
        }
        self.byte()?;
        let width_bytes = self.u16le()?;
        let height = self.u16le()?;
        self.skip(u64::from(width_bytes) * u64::from(height))?;
        self.command(SimCommand::Raster {
            width_bytes,
            height,
        });
        Some(())
    }

    /// `GS a n`: enabling Automatic Status Back sends the status once.
    fn asb(&mut self) -> Option<()> {
        if self.byte()? != 0 {
            let asb = self.state().asb();
            self.reply(&asb);
        }
        Some(())
    }

    fn update(&self, f: impl FnOnce(&mut SimState)) {
        f(&mut lock(&self.shared.state));
    }

    fn esc(&mut self) -> Option<()> {
        match self.byte()? {
            b'@' => self.page = CodePage::Cp437,
            b't' => {
                let n = self.byte()?;
                // An unknown table decodes through CP437's ASCII half; upper bytes become '?'.
                self.page = CodePage::from_esc_t(n).unwrap_or(CodePage::Cp437);
            }
            b'p' => {
                let pin = self.byte()? & 1;
                let t1 = u16::from(self.byte()?);
                let t2 = u16::from(self.byte()?);
                self.command(SimCommand::Kick {
                    pin,
                    on_ms: t1 * 2,
                    off_ms: t2 * 2,
                });
                self.update(|s| s.drawer_pin3_high = true);
            }
            b'c' => self.skip(2)?,
            b'E' | b'-' | b'!' | b'a' | b'M' | b'd' | b'3' | b'J' | b'R' | b'G' | b'V' | b'U'
            | b'{' | b'=' | b' ' | b'e' => self.skip(1)?,
            _ => {}
        }
        Some(())
    }

    fn gs(&mut self) -> Option<()> {
        match self.byte()? {
            b'V' => {
                let m = self.byte()?;
                if matches!(m, 65 | 66 | 97..=99 | 103..=105) {
                    self.byte()?;
                }
                let partial = matches!(m, 1 | 49 | 66 | 98 | 104);
                self.command(SimCommand::Cut { partial });
                self.finish_job();
            }
            b'k' => {
                let m = self.byte()?;
                let data = if m <= 6 {
                    let mut data = Vec::new();
                    loop {
                        match self.byte()? {
                            0 => break,
                            b if data.len() < 255 => data.push(b),
                            _ => {}
                        }
                    }
                    data
                } else {
                    let n = self.byte()?;
                    self.bytes(usize::from(n))?
                };
                self.command(SimCommand::Barcode { symbology: m, data });
            }
            b'(' => {
                let kind = self.byte()?;
                let len = self.u16le()?;
                if kind == b'k' && len >= 3 {
                    let head = self.bytes(3)?;
                    match (head[0], head[1]) {
                        (49, 80) => self.qr = self.bytes(usize::from(len) - 3)?,
                        (49, 81) => {
                            let data = std::mem::take(&mut self.qr);
                            self.command(SimCommand::Qr { data });
                            self.skip(u64::from(len) - 3)?;
                        }
                        _ => self.skip(u64::from(len) - 3)?,
                    }
                } else {
                    self.skip(u64::from(len))?;
                }
            }
            b'v' => self.raster()?,
            b'a' => self.asb()?,
            b'r' => {
                let n = self.byte()?;
                let s = self.state();
                let reply = match n {
                    1 | 49 => match s.paper {
                        PaperLevel::Ok => 0x00,
                        PaperLevel::NearEnd => 0x03,
                        PaperLevel::Out => 0x0F,
                    },
                    2 | 50 => u8::from(s.drawer_pin3_high),
                    _ => return Some(()),
                };
                if !s.silent {
                    self.reply(&[reply]);
                }
            }
            b'!' | b'B' | b'H' | b'h' | b'w' | b'f' | b'I' | b'b' => self.skip(1)?,
            b'L' | b'W' => self.skip(2)?,
            _ => {}
        }
        Some(())
    }
}
