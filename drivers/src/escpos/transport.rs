//! Talking to a receipt printer: the [`Transport`] trait, TCP 9100 and device files, and the
//! [`Printer`] that queries status and prints whole jobs.
//!
//! # Contract of [`Printer::query_status`]
//! 1. Discard whatever the printer sent before (stale replies, ASB messages, stray bytes that
//!    image data made the printer send).
//! 2. For n = 1..=4: send `DLE EOT n`, then read until a byte with the reply pattern `0xx1xx10`
//!    arrives; complete ASB messages and other bytes in between are skipped.
//! 3. If no reply arrives within [`Timeouts::status`], fail with
//!    [`PrinterError::NoStatusReply`]: a printer that does not answer is offline.
//!
//! # Contract of [`Printer::print_job`]
//! The status is queried first; the job is sent only if the printer is ready. When several
//! faults are reported the error names the first of: cover open, paper out, printer error,
//! offline. A job refused this way has sent no byte, so the printer never holds half a job
//! because of a fault it already reported.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use thiserror::Error;

use super::document::DrawerPin;
use super::document::{DrawerKick, Receipt};
use super::encode::{encode, kick_command, realtime_kick_command};
use super::profile::PrinterProfile;
use super::status::StatusRequest;
use super::status::{next_incoming, Incoming, PaperLevel, PrinterErrors, PrinterStatus};

/// The usual raw-printing TCP port.
pub const DEFAULT_PORT: u16 = 9100;

/// Why talking to a printer failed.
#[derive(Debug, Error)]
pub enum PrinterError {
    /// No connection could be made to the printer's address.
    #[error("cannot connect to printer at {addr}")]
    Connect {
        /// Address as given.
        addr: String,
        /// Cause of the last attempt.
        #[source]
        source: io::Error,
    },
    /// The printer's device file could not be opened.
    #[error("cannot open printer device {}", path.display())]
    Open {
        /// Device path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Reading or writing failed.
    #[error("printer I/O failed")]
    Io(#[from] io::Error),
    /// The printer did not answer `DLE EOT n` in time: treat it as offline.
    #[error("printer sent no reply to DLE EOT {n} within {timeout:?} (offline)")]
    NoStatusReply {
        /// The status asked for.
        n: u8,
        /// How long we waited.
        timeout: Duration,
    },
    /// The printer closed the connection.
    #[error("printer closed the connection")]
    Closed,
    /// Writing a job did not finish in time; the printer may hold part of it.
    #[error("write timed out after {written} of {total} bytes")]
    WriteTimeout {
        /// Bytes accepted before the timeout.
        written: usize,
        /// Bytes of the job.
        total: usize,
    },
    /// Refused to print: the cover is open.
    #[error("printer cover is open")]
    CoverOpen,
    /// Refused to print: no paper.
    #[error("printer is out of paper")]
    PaperOut,
    /// Refused to print: the printer reports an error.
    #[error("printer reports an error: {0:?}")]
    Fault(PrinterErrors),
    /// Refused to print: the printer is offline.
    #[error("printer is offline")]
    Offline,
}

/// Time limits of a printer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting (TCP).
    pub connect: Duration,
    /// Writing a whole job or command.
    pub write: Duration,
    /// Waiting for each status reply.
    pub status: Duration,
}

impl Default for Timeouts {
    /// Connect 3 s, write 10 s, status reply 1 s.
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(3),
            write: Duration::from_secs(10),
            status: Duration::from_secs(1),
        }
    }
}

/// A byte channel to a printer: TCP, a serial port, the USB printer class device.
///
/// `read` returning `Ok(0)` means the channel closed; a read that waited for
/// the read timeout fails with [`io::ErrorKind::WouldBlock`] or [`io::ErrorKind::TimedOut`].
pub trait Transport: Read + Write {
    /// Sets how long a `read` may wait (`None`: forever).
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
    /// Sets how long a `write` may wait (`None`: forever).
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
    /// Discards, without waiting, every byte already received; returns how many.
    fn drain(&mut self) -> io::Result<usize>;
}

/// TCP transport (raw port 9100).
#[derive(Debug)]
pub struct TcpTransport {
    stream: TcpStream,
}

impl TcpTransport {
    /// Connects to `addr` (`host:port`), trying each resolved address within `timeout`.
    pub fn connect(addr: &str, timeout: Duration) -> Result<TcpTransport, PrinterError> {
        let fail = |source| PrinterError::Connect {
            addr: addr.to_owned(),
            source,
        };
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs().map_err(fail)?.collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "address resolved to nothing");
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true).map_err(fail)?;
                    return Ok(TcpTransport { stream });
                }
                Err(e) => last = e,
            }
        }
        Err(fail(last))
    }

    /// The underlying stream.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

impl Read for TcpTransport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for TcpTransport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl Transport for TcpTransport {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream
            .set_read_timeout(timeout.map(|t| t.max(Duration::from_millis(1))))
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream
            .set_write_timeout(timeout.map(|t| t.max(Duration::from_millis(1))))
    }

    fn drain(&mut self) -> io::Result<usize> {
        self.stream.set_nonblocking(true)?;
        let mut total = 0;
        let mut buf = [0u8; 512];
        let result = loop {
            match self.stream.read(&mut buf) {
                Ok(0) => break Ok(total),
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(total),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.stream.set_nonblocking(false)?;
        result
    }
}

/// A device file opened non-blocking (`/dev/usb/lp0`, a serial tty), with timeouts applied by
/// polling every few milliseconds.
///
/// A read that finds no data (or end of file) waits until the read timeout; device files do
/// not signal "closed" the way sockets do.
#[derive(Debug)]
pub struct FileTransport {
    file: File,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

const POLL: Duration = Duration::from_millis(5);

impl FileTransport {
    /// Opens `path` for reading and writing without blocking.
    pub fn open(path: impl AsRef<Path>) -> Result<FileTransport, PrinterError> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .map_err(|source| PrinterError::Open {
                path: path.to_owned(),
                source,
            })?;
        Ok(FileTransport {
            file,
            read_timeout: None,
            write_timeout: None,
        })
    }
}

/// Retries `op` while it would block, until `timeout` has passed.
fn poll_until(
    timeout: Option<Duration>,
    mut op: impl FnMut() -> io::Result<usize>,
) -> io::Result<usize> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        match op() {
            Ok(0) => {}
            Ok(n) => return Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(io::ErrorKind::TimedOut.into());
        }
        std::thread::sleep(POLL);
    }
}

impl Read for FileTransport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let file = &mut self.file;
        poll_until(self.read_timeout, || file.read(buf))
    }
}

impl Write for FileTransport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let file = &mut self.file;
        poll_until(self.write_timeout, || file.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Transport for FileTransport {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.read_timeout = timeout;
        Ok(())
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.write_timeout = timeout;
        Ok(())
    }

    fn drain(&mut self) -> io::Result<usize> {
        let mut total = 0;
        let mut buf = [0u8; 512];
        loop {
            match self.file.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(total),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// A serial printer port (RS-232, USB-CDC, or a pty in tests), 8N1, no flow control, raw.
/// The port has one timeout; this keeps the read and write limits apart and applies the right
/// one before each call.
#[derive(Debug)]
pub struct SerialTransport {
    port: serialport::TTYPort,
    read_timeout: Duration,
    write_timeout: Duration,
}

/// serialport has no "forever"; a day is as good.
const FOREVER: Duration = Duration::from_secs(86_400);

impl SerialTransport {
    /// Opens a serial port at `baud`, 8N1, no flow control.
    pub fn open(path: &str, baud: u32) -> Result<SerialTransport, PrinterError> {
        let port = serialport::new(path, baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(serialport::FlowControl::None)
            .timeout(Duration::from_millis(100))
            .open_native()
            .map_err(|e| PrinterError::Open {
                path: PathBuf::from(path),
                source: io::Error::from(e),
            })?;
        Ok(SerialTransport {
            port,
            read_timeout: FOREVER,
            write_timeout: FOREVER,
        })
    }

    fn use_timeout(&mut self, t: Duration) -> io::Result<()> {
        serialport::SerialPort::set_timeout(&mut self.port, t.max(Duration::from_millis(1)))
            .map_err(io::Error::from)
    }
}

impl Read for SerialTransport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.use_timeout(self.read_timeout)?;
        self.port.read(buf)
    }
}

impl Write for SerialTransport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.use_timeout(self.write_timeout)?;
        self.port.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.port.flush()
    }
}

impl Transport for SerialTransport {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.read_timeout = timeout.unwrap_or(FOREVER);
        Ok(())
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.write_timeout = timeout.unwrap_or(FOREVER);
        Ok(())
    }

    fn drain(&mut self) -> io::Result<usize> {
        let waiting = serialport::SerialPort::bytes_to_read(&self.port).map_err(io::Error::from)?;
        serialport::SerialPort::clear(&self.port, serialport::ClearBuffer::Input)
            .map_err(io::Error::from)?;
        Ok(waiting as usize)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_write_timeout(timeout)
    }

    fn drain(&mut self) -> io::Result<usize> {
        (**self).drain()
    }
}

/// Any transport, chosen from an address at run time.
pub type AnyTransport = Box<dyn Transport + Send>;
/// A printer on a transport chosen from its address.
pub type AnyPrinter = Printer<AnyTransport>;

/// Where a printer is, as configuration writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterAddress {
    /// `host:port` on the network (raw TCP, usually 9100).
    Tcp(String),
    /// A USB printer class device file, `/dev/usb/lpN` or `/dev/lpN`.
    UsbClass(PathBuf),
    /// A serial port (`/dev/ttyS0`, `/dev/ttyUSB0`, `/dev/ttyACM0`, a pty) at a baud rate;
    /// written `PATH` (38,400 baud) or `PATH@BAUD`.
    Serial { path: String, baud: u32 },
}

/// The serial speed most receipt printers ship with.
pub const DEFAULT_BAUD: u32 = 38_400;

impl PrinterAddress {
    /// Reads an address: an absolute path is a device (USB class under `/dev/usb/` or
    /// `/dev/lp`, serial otherwise); anything else is `host:port`.
    pub fn parse(s: &str) -> Result<PrinterAddress, String> {
        if !s.starts_with('/') {
            let ok = s
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            return if ok {
                Ok(PrinterAddress::Tcp(s.to_owned()))
            } else {
                Err(format!(
                    "{s:?} is neither host:port nor an absolute device path"
                ))
            };
        }
        if s.starts_with("/dev/usb/") || s.starts_with("/dev/lp") {
            return Ok(PrinterAddress::UsbClass(PathBuf::from(s)));
        }
        match s.rsplit_once('@') {
            Some((path, baud)) => {
                let baud = baud
                    .parse::<u32>()
                    .ok()
                    .filter(|b| (300..=4_000_000).contains(b))
                    .ok_or_else(|| format!("{baud:?} in {s:?} is not a baud rate"))?;
                Ok(PrinterAddress::Serial {
                    path: path.to_owned(),
                    baud,
                })
            }
            None => Ok(PrinterAddress::Serial {
                path: s.to_owned(),
                baud: DEFAULT_BAUD,
            }),
        }
    }
}

impl Printer<AnyTransport> {
    /// Opens the printer at `address` on the transport it names.
    pub fn open_address(
        address: &PrinterAddress,
        timeouts: Timeouts,
    ) -> Result<AnyPrinter, PrinterError> {
        let transport: AnyTransport = match address {
            PrinterAddress::Tcp(a) => Box::new(TcpTransport::connect(a, timeouts.connect)?),
            PrinterAddress::UsbClass(p) => Box::new(FileTransport::open(p)?),
            PrinterAddress::Serial { path, baud } => Box::new(SerialTransport::open(path, *baud)?),
        };
        Printer::new(transport, timeouts)
    }
}

/// Why [`write_within`] stopped short.
#[derive(Debug)]
pub(crate) enum WriteFailure {
    /// The peer closed the connection.
    Closed,
    /// The time ran out after `written` of `total` bytes.
    Timeout { written: usize, total: usize },
    /// Any other I/O error.
    Io(io::Error),
}

/// Writes all of `bytes` and flushes, giving up once `limit` has passed.
pub(crate) fn write_within(
    transport: &mut impl Transport,
    bytes: &[u8],
    limit: Duration,
) -> Result<(), WriteFailure> {
    let deadline = Instant::now() + limit;
    let total = bytes.len();
    let mut written = 0;
    while written < total {
        match transport.write(&bytes[written..]) {
            Ok(0) => return Err(WriteFailure::Closed),
            Ok(n) => written += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(WriteFailure::Timeout { written, total });
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(WriteFailure::Io(e)),
        }
        if written < total && Instant::now() >= deadline {
            return Err(WriteFailure::Timeout { written, total });
        }
    }
    transport.flush().map_err(WriteFailure::Io)
}

/// A receipt printer on some [`Transport`].
#[derive(Debug)]
pub struct Printer<T: Transport> {
    transport: T,
    timeouts: Timeouts,
    inbox: Vec<u8>,
    last_asb: Option<PrinterStatus>,
}

/// A printer on TCP 9100.
pub type TcpPrinter = Printer<TcpTransport>;
/// A printer on a device file (USB printer class `/dev/usb/lp0`, a serial tty).
pub type FilePrinter = Printer<FileTransport>;

impl Printer<TcpTransport> {
    /// Connects to a network printer at `addr` (`host:port`; the port is usually
    /// [`DEFAULT_PORT`]).
    pub fn connect(addr: &str, timeouts: Timeouts) -> Result<TcpPrinter, PrinterError> {
        let transport = TcpTransport::connect(addr, timeouts.connect)?;
        Printer::new(transport, timeouts)
    }
}

impl Printer<FileTransport> {
    /// Opens a printer's device file, e.g. `/dev/usb/lp0`.
    pub fn open(path: impl AsRef<Path>, timeouts: Timeouts) -> Result<FilePrinter, PrinterError> {
        Printer::new(FileTransport::open(path)?, timeouts)
    }
}

impl<T: Transport> Printer<T> {
    /// A printer on `transport` with the given time limits.
    pub fn new(mut transport: T, timeouts: Timeouts) -> Result<Printer<T>, PrinterError> {
        transport.set_write_timeout(Some(timeouts.write))?;
        Ok(Printer {
            transport,
            timeouts,
            inbox: Vec::new(),
            last_asb: None,
        })
    }

    /// Queries the four real-time statuses (see the module's contract).
    pub fn query_status(&mut self) -> Result<PrinterStatus, PrinterError> {
        self.transport.drain()?;
        self.inbox.clear();
        let mut status = PrinterStatus::default();
        for request in StatusRequest::ALL {
            self.write_all(&request.command())?;
            let byte = self.read_reply(request.n())?;
            // `read_reply` only returns bytes with the reply pattern.
            status
                .apply_realtime(request, byte)
                .map_err(|e| PrinterError::Io(io::Error::new(io::ErrorKind::InvalidData, e)))?;
        }
        Ok(status)
    }

    /// The last Automatic Status Back message seen while waiting for replies, if any.
    pub fn last_asb(&self) -> Option<PrinterStatus> {
        self.last_asb
    }

    fn read_reply(&mut self, n: u8) -> Result<u8, PrinterError> {
        let timeout = self.timeouts.status;
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 64];
        loop {
            while let Some((msg, used)) = next_incoming(&self.inbox) {
                self.inbox.drain(..used);
                match msg {
                    Incoming::Realtime(byte) => return Ok(byte),
                    Incoming::Asb(bytes) => {
                        self.last_asb = PrinterStatus::from_asb(&bytes).ok();
                    }
                    Incoming::Garbage(_) => {}
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(PrinterError::NoStatusReply { n, timeout });
            }
            self.transport.set_read_timeout(Some(left))?;
            match self.transport.read(&mut buf) {
                Ok(0) => return Err(PrinterError::Closed),
                Ok(k) => self.inbox.extend_from_slice(&buf[..k]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(PrinterError::NoStatusReply { n, timeout });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Prints `job` (complete ESC/POS bytes) if the printer is ready; returns the status that
    /// was checked. See the module's contract.
    pub fn print_job(&mut self, job: &[u8]) -> Result<PrinterStatus, PrinterError> {
        let status = self.query_status()?;
        refuse_unless_ready(&status)?;
        self.write_all(job)?;
        Ok(status)
    }

    /// Encodes `receipt` for `profile` and prints it with [`Printer::print_job`].
    pub fn print_receipt(
        &mut self,
        receipt: &Receipt,
        profile: &PrinterProfile,
    ) -> Result<PrinterStatus, PrinterError> {
        self.print_job(&encode(receipt, profile))
    }

    /// Pulses the drawer kick-out pin (`ESC p`). The printer executes it after data already
    /// sent and holds it while it is blocked (paper out, cover open).
    pub fn kick_drawer(&mut self, kick: &DrawerKick) -> Result<(), PrinterError> {
        self.write_all(&kick_command(kick))
    }

    /// Pulses the drawer with the real-time `DLE DC4 1 m t` (`t` × 100 ms, 1..=8), executed at
    /// once even while the printer is offline. Send it between jobs, never during one.
    pub fn kick_drawer_realtime(&mut self, pin: DrawerPin, t: u8) -> Result<(), PrinterError> {
        self.write_all(&realtime_kick_command(pin, t))
    }

    /// Sends raw bytes unchecked (vendor pass-through).
    pub fn write_raw(&mut self, bytes: &[u8]) -> Result<(), PrinterError> {
        self.write_all(bytes)
    }

    /// The transport.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PrinterError> {
        write_within(&mut self.transport, bytes, self.timeouts.write).map_err(|e| match e {
            WriteFailure::Closed => PrinterError::Closed,
            WriteFailure::Timeout { written, total } => {
                PrinterError::WriteTimeout { written, total }
            }
            WriteFailure::Io(e) => e.into(),
        })
    }
}

/// The error that refuses a job for `status`, in the documented order.
fn refuse_unless_ready(status: &PrinterStatus) -> Result<(), PrinterError> {
    if status.cover_open {
        Err(PrinterError::CoverOpen)
    } else if status.paper == PaperLevel::Out {
        Err(PrinterError::PaperOut)
    } else if status.errors.any() {
        Err(PrinterError::Fault(status.errors))
    } else if status.offline {
        Err(PrinterError::Offline)
    } else {
        Ok(())
    }
}

/// Connects to `addr`, prints `receipt` whole or refuses, and disconnects.
pub fn print_receipt_to(
    addr: &str,
    receipt: &Receipt,
    profile: &PrinterProfile,
    timeouts: Timeouts,
) -> Result<PrinterStatus, PrinterError> {
    TcpPrinter::connect(addr, timeouts)?.print_receipt(receipt, profile)
}
