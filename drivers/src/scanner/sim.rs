//! A simulated serial scanner on a pseudo-terminal.
//!
//! The simulator owns both ends of a pty pair; the daemon opens [`SimSerialScanner::path`]
//! like a `/dev/ttyACM0` and reads with [`SerialScanner`](super::SerialScanner), the same
//! code a store runs.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serialport::TTYPort;

/// A simulated serial barcode scanner.
#[derive(Debug)]
pub struct SimSerialScanner {
    master: TTYPort,
    // Held open (never read) so the pty stays configured (raw) while the daemon closes and
    // reopens its end.
    _slave: TTYPort,
    path: PathBuf,
    /// Bytes sent after each scan's data (default CR LF).
    pub suffix: Vec<u8>,
    /// An AIM identifier sent before each scan's data by [`SimSerialScanner::scan`], if set.
    pub aim_prefix: Option<String>,
}

impl SimSerialScanner {
    /// Creates a pty pair in raw mode; suffix CR LF, no AIM prefix.
    pub fn new() -> io::Result<SimSerialScanner> {
        let (master, slave) = TTYPort::pair().map_err(io::Error::from)?;
        let path = serialport::SerialPort::name(&slave)
            .map(PathBuf::from)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "pty slave has no name"))?;
        Ok(SimSerialScanner {
            master,
            _slave: slave,
            path,
            suffix: b"\r\n".to_vec(),
            aim_prefix: None,
        })
    }

    /// The device path the daemon should open, e.g. `/dev/pts/3`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends one scan: the AIM prefix (if set), `data`, the suffix. Use `"\u{1d}"` for GS.
    pub fn scan(&mut self, data: &str) -> io::Result<()> {
        let aim = self.aim_prefix.clone();
        self.scan_with(aim.as_deref(), data)
    }

    /// Sends one scan with the given AIM identifier (e.g. `Some("]d2")`) instead of the
    /// configured one.
    pub fn scan_with(&mut self, aim: Option<&str>, data: &str) -> io::Result<()> {
        let mut frame = Vec::with_capacity(data.len() + 8);
        frame.extend_from_slice(aim.unwrap_or("").as_bytes());
        frame.extend_from_slice(data.as_bytes());
        frame.extend_from_slice(&self.suffix);
        self.send_raw(&frame)
    }

    /// Sends bytes as they are (partial scans, noise, vendor framing).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.master.write_all(bytes)
    }
}
