//! Talking to a ZPL label printer over any [`Transport`] (TCP 9100 in practice).
//!
//! # Contract of [`LabelPrinter::query_status`]
//! 1. Discard whatever the printer sent before.
//! 2. Send `~HS`, then read until three complete `STX … ETX` strings have arrived.
//! 3. If they do not arrive within [`Timeouts::status`], fail with
//!    [`LabelPrinterError::NoStatusReply`]: newer firmware is silent while media out, ribbon
//!    out, head open, rewinder full or over-temperature, so silence means "in error".
//!
//! # Contract of [`LabelPrinter::print_label`]
//! The status is queried first and the label is sent only if the printer is ready. When several
//! faults are reported the error names the first of: head open, paper out, ribbon out, paused,
//! other fault.

use std::io;
use std::time::{Duration, Instant};

use thiserror::Error;

use super::label::Label;
use super::status::{complete_frames, HostStatus, HostStatusError, HOST_STATUS_REQUEST};
use crate::escpos::transport::{PrinterError, TcpTransport, Timeouts, Transport};

/// Why talking to a label printer failed.
#[derive(Debug, Error)]
pub enum LabelPrinterError {
    /// No connection could be made.
    #[error("cannot connect to label printer")]
    Connect(#[source] PrinterError),
    /// Reading or writing failed.
    #[error("label printer I/O failed")]
    Io(#[from] io::Error),
    /// No complete `~HS` reply in time on an open connection: the printer is in error.
    #[error(
        "label printer sent no host status within {0:?}: in error \
         (media out, ribbon out, head open, rewinder full or over temperature)"
    )]
    NoStatusReply(Duration),
    /// The reply could not be parsed.
    #[error("label printer sent a malformed host status")]
    BadStatus(#[from] HostStatusError),
    /// The printer closed the connection.
    #[error("label printer closed the connection")]
    Closed,
    /// Writing did not finish in time; the printer may hold part of the label.
    #[error("write timed out after {written} of {total} bytes")]
    WriteTimeout {
        /// Bytes accepted before the timeout.
        written: usize,
        /// Bytes to send.
        total: usize,
    },
    /// Refused: the print head is open.
    #[error("label printer head is open")]
    HeadOpen,
    /// Refused: out of labels.
    #[error("label printer is out of paper")]
    PaperOut,
    /// Refused: out of ribbon.
    #[error("label printer is out of ribbon")]
    RibbonOut,
    /// Refused: the printer is paused.
    #[error("label printer is paused")]
    Paused,
    /// Refused: another fault (buffer full, over-temperature, corrupt RAM).
    #[error("label printer reports a fault: {0:?}")]
    Fault(HostStatus),
}

/// A ZPL label printer on some [`Transport`].
#[derive(Debug)]
pub struct LabelPrinter<T: Transport> {
    transport: T,
    timeouts: Timeouts,
}

/// A label printer on TCP 9100.
pub type TcpLabelPrinter = LabelPrinter<TcpTransport>;

impl LabelPrinter<TcpTransport> {
    /// Connects to a label printer at `addr` (`host:port`, usually port 9100).
    pub fn connect(addr: &str, timeouts: Timeouts) -> Result<TcpLabelPrinter, LabelPrinterError> {
        let transport =
            TcpTransport::connect(addr, timeouts.connect).map_err(LabelPrinterError::Connect)?;
        LabelPrinter::new(transport, timeouts)
    }
}

impl<T: Transport> LabelPrinter<T> {
    /// A label printer on `transport`.
    pub fn new(mut transport: T, timeouts: Timeouts) -> Result<LabelPrinter<T>, LabelPrinterError> {
        transport.set_write_timeout(Some(timeouts.write))?;
        Ok(LabelPrinter {
            transport,
            timeouts,
        })
    }

    /// Queries `~HS` (see the module's contract).
    pub fn query_status(&mut self) -> Result<HostStatus, LabelPrinterError> {
        self.transport.drain()?;
        self.write_all(HOST_STATUS_REQUEST)?;
        let timeout = self.timeouts.status;
        let deadline = Instant::now() + timeout;
        let mut inbox = Vec::new();
        let mut buf = [0u8; 256];
        while complete_frames(&inbox) < 3 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || inbox.len() > 64 * 1024 {
                return Err(LabelPrinterError::NoStatusReply(timeout));
            }
            self.transport.set_read_timeout(Some(left))?;
            match self.transport.read(&mut buf) {
                Ok(0) => return Err(LabelPrinterError::Closed),
                Ok(n) => inbox.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(LabelPrinterError::NoStatusReply(timeout));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(HostStatus::parse(&inbox)?)
    }

    /// Prints raw ZPL if the printer is ready; returns the status that was checked.
    pub fn print_zpl(&mut self, zpl: &[u8]) -> Result<HostStatus, LabelPrinterError> {
        let status = self.query_status()?;
        refuse_unless_ready(&status)?;
        self.write_all(zpl)?;
        Ok(status)
    }

    /// Prints `label` if the printer is ready; returns the status that was checked.
    pub fn print_label(&mut self, label: &Label) -> Result<HostStatus, LabelPrinterError> {
        self.print_zpl(label.to_zpl().as_bytes())
    }

    /// The transport.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LabelPrinterError> {
        use crate::escpos::transport::{write_within, WriteFailure};
        write_within(&mut self.transport, bytes, self.timeouts.write).map_err(|e| match e {
            WriteFailure::Closed => LabelPrinterError::Closed,
            WriteFailure::Timeout { written, total } => {
                LabelPrinterError::WriteTimeout { written, total }
            }
            WriteFailure::Io(e) => e.into(),
        })
    }
}

fn refuse_unless_ready(s: &HostStatus) -> Result<(), LabelPrinterError> {
    if s.head_open {
        Err(LabelPrinterError::HeadOpen)
    } else if s.paper_out {
        Err(LabelPrinterError::PaperOut)
    } else if s.ribbon_out {
        Err(LabelPrinterError::RibbonOut)
    } else if s.paused {
        Err(LabelPrinterError::Paused)
    } else if !s.ready() {
        Err(LabelPrinterError::Fault(*s))
    } else {
        Ok(())
    }
}
