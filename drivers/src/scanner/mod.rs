//! Barcode scanners: keyboard-wedge (evdev) and serial/USB-CDC, and framing of scans.
//!
//! A scanner yields [`RawScan`]s: the bytes of one scan without its suffix. The daemon turns
//! each into a typed [`gs1::Scan`](crate::gs1::Scan) with [`RawScan::interpret`], keeping the
//! raw bytes for logging when interpretation fails.
//!
//! # Layout
//! - [`wedge`]: `input_event` records, keyboard [`Layout`]s (US, DE), the [`WedgeDecoder`]
//!   (keys → characters → scans, framed by suffix key and idle timeout on event time).
//! - `evdev` (feature `evdev`, default): [`EvdevScanner`] reads a grabbed `/dev/input/eventN`.
//! - [`serial`]: [`LineFramer`] and [`SerialScanner`] for CR/LF-terminated byte streams.
//! - [`sim`]: [`SimSerialScanner`](sim::SimSerialScanner), a serial scanner on a pty.
//! - [`keycodes`]: constants generated from the Linux input-event-codes header.
//!
//! Both readers are blocking with a timeout: call `next_scan(timeout)` in a loop on the
//! device's thread; `Ok(None)` means no scan in that time.
//!
//! # Current limitations
//! - Recorded event streams use the 64-bit `input_event` layout (24 bytes); the live reader
//!   goes through the `evdev` crate and does not depend on it.
//! - Layouts: US and DE only; dead keys do not compose (`^` + `e` is `^e`, not `ê`).
//!   Alt+keypad codes are read as Unicode/Latin-1, not as the Windows OEM code page.
//! - A human typing on a wedge scanner's device is not told apart from a scan.
//! - Vendor "serial emulation" modes that send fixed 64-byte HID reports are not supported.

#[cfg(feature = "evdev")]
mod evdev;
pub mod keycodes;
mod layout;
pub mod serial;
pub mod sim;
pub mod wedge;

#[cfg(feature = "evdev")]
pub use self::evdev::EvdevScanner;
pub use layout::{Layout, Mods};
pub use serial::{LineFramer, SerialConfig, SerialScanner, Terminator};
pub use wedge::{InputEvent, Suffix, WedgeConfig, WedgeDecoder};

use std::io;
use std::path::PathBuf;

use crate::gs1::{Gs1Error, Scan};

/// The bytes of one scan, without its suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawScan {
    /// The data as sent, including an AIM identifier if the scanner sends one.
    pub data: Vec<u8>,
    /// What ended the scan.
    pub end: FrameEnd,
}

impl RawScan {
    /// Interprets the data (AIM identifier, GTIN, GS1 element strings, Digital Link, text).
    pub fn interpret(&self) -> Result<Scan, Gs1Error> {
        crate::gs1::parse(&self.data)
    }
}

/// What ended a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameEnd {
    /// The configured suffix (Enter/Tab key, CR/LF).
    Suffix,
    /// The idle timeout: no suffix came (a scanner configured without one, or a lost key).
    Idle,
    /// The end of a recorded stream.
    Eof,
    /// The scan was longer than the maximum length and was cut.
    Overflow,
}

/// Errors of scanner I/O.
#[derive(Debug, thiserror::Error)]
pub enum ScannerError {
    /// The device could not be opened, grabbed or configured.
    #[error("cannot open scanner {}", path.display())]
    Open {
        /// The device path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading from the device failed.
    #[error("scanner read failed")]
    Read {
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The device went away (unplugged, pty closed).
    #[error("scanner disconnected")]
    Disconnected,
    /// A recorded event stream's length is not a multiple of the record size.
    #[error("event stream of {len} bytes is not a whole number of 24-byte records")]
    TruncatedEvent {
        /// The stream length.
        len: usize,
    },
}
