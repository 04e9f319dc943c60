//! Serial and USB-CDC scanners: a byte stream of scans, each ended by CR and/or LF.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{FrameEnd, RawScan, ScannerError};

/// The bytes that end a scan on a serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Terminator {
    /// CR or LF, or CR LF: any run of CR/LF ends one scan (empty lines are skipped).
    #[default]
    CrOrLf,
    /// CR only (LF is data).
    Cr,
    /// LF only (CR is data).
    Lf,
}

/// Splits a byte stream into scans.
#[derive(Debug)]
pub struct LineFramer {
    terminator: Terminator,
    max_len: usize,
    buf: Vec<u8>,
    overflow: bool,
}

impl LineFramer {
    /// A framer with an empty buffer. Longer scans than `max_len` are cut and their rest
    /// dropped up to the next terminator ([`FrameEnd::Overflow`]).
    pub fn new(terminator: Terminator, max_len: usize) -> LineFramer {
        LineFramer {
            terminator,
            max_len,
            buf: Vec::new(),
            overflow: false,
        }
    }

    /// Feeds bytes; appends completed scans to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<RawScan>) {
        for &b in bytes {
            let ends = match self.terminator {
                Terminator::CrOrLf => b == b'\r' || b == b'\n',
                Terminator::Cr => b == b'\r',
                Terminator::Lf => b == b'\n',
            };
            if ends {
                let end = if std::mem::take(&mut self.overflow) {
                    FrameEnd::Overflow
                } else {
                    FrameEnd::Suffix
                };
                if !self.buf.is_empty() {
                    out.push(RawScan {
                        data: std::mem::take(&mut self.buf),
                        end,
                    });
                }
            } else if self.buf.len() < self.max_len {
                self.buf.push(b);
            } else {
                self.overflow = true;
            }
        }
    }

    /// Bytes of an unfinished scan.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }
}

/// Settings of a serial scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialConfig {
    /// The device, e.g. `/dev/ttyACM0` or a stable `/dev/serial/by-id/…` link.
    pub path: PathBuf,
    /// Baud rate (irrelevant for USB-CDC; RS-232 scanners need the configured one).
    pub baud_rate: u32,
    /// What ends a scan.
    pub terminator: Terminator,
    /// Longest accepted scan in bytes.
    pub max_len: usize,
}

impl SerialConfig {
    /// Defaults for `path`: 9600 baud, CR or LF, 4096 bytes.
    pub fn new(path: impl AsRef<Path>) -> SerialConfig {
        SerialConfig {
            path: path.as_ref().to_owned(),
            baud_rate: 9600,
            terminator: Terminator::CrOrLf,
            max_len: 4096,
        }
    }
}

/// A scanner on a serial port (or anything [`Read`] with a read timeout).
#[derive(Debug)]
pub struct SerialScanner<P = serialport::TTYPort> {
    port: P,
    framer: LineFramer,
    ready: std::collections::VecDeque<RawScan>,
}

/// How long one read may block; [`SerialScanner::next_scan`] loops until its own deadline.
const POLL: Duration = Duration::from_millis(50);

impl SerialScanner {
    /// Opens the port (exclusively, raw mode, 8N1) per `config`.
    pub fn open(config: &SerialConfig) -> Result<SerialScanner, ScannerError> {
        let port = serialport::new(config.path.to_string_lossy(), config.baud_rate)
            .timeout(POLL)
            .open_native()
            .map_err(|e| ScannerError::Open {
                path: config.path.clone(),
                source: e.into(),
            })?;
        Ok(SerialScanner::from_port(port, config))
    }
}

impl<P: Read> SerialScanner<P> {
    /// Wraps an open port. Its reads should time out (return `TimedOut` or `WouldBlock`)
    /// within a short time, or [`SerialScanner::next_scan`] cannot honour its timeout.
    pub fn from_port(port: P, config: &SerialConfig) -> SerialScanner<P> {
        SerialScanner {
            port,
            framer: LineFramer::new(config.terminator, config.max_len),
            ready: Default::default(),
        }
    }

    /// Waits up to `timeout` for the next scan; `Ok(None)` if none completed in time.
    /// A read of 0 bytes (the device went away) is [`ScannerError::Disconnected`].
    pub fn next_scan(&mut self, timeout: Duration) -> Result<Option<RawScan>, ScannerError> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 512];
        loop {
            if let Some(scan) = self.ready.pop_front() {
                return Ok(Some(scan));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            match self.port.read(&mut buf) {
                Ok(0) => return Err(ScannerError::Disconnected),
                Ok(n) => {
                    let mut out = Vec::new();
                    self.framer.push(&buf[..n], &mut out);
                    self.ready.extend(out);
                }
                Err(e) if is_timeout(&e) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(ScannerError::Read { source }),
            }
        }
    }

    /// The port.
    pub fn port(&self) -> &P {
        &self.port
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(t: Terminator, max: usize, chunks: &[&[u8]]) -> Vec<RawScan> {
        let mut f = LineFramer::new(t, max);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out);
        }
        out
    }

    fn scan(data: &[u8]) -> RawScan {
        RawScan {
            data: data.to_vec(),
            end: FrameEnd::Suffix,
        }
    }

    #[test]
    fn crlf_cr_lf_split_across_reads() {
        let got = frames(Terminator::CrOrLf, 64, &[b"123\r", b"\n45", b"6\n\n789\r"]);
        assert_eq!(got, vec![scan(b"123"), scan(b"456"), scan(b"789")]);
        let got = frames(Terminator::Cr, 64, &[b"a\nb\rc"]);
        assert_eq!(got, vec![scan(b"a\nb")]);
        let got = frames(Terminator::Lf, 64, &[b"a\r\n"]);
        assert_eq!(got, vec![scan(b"a\r")]);
    }

    #[test]
    fn overflow_cuts_and_resynchronises() {
        let got = frames(Terminator::CrOrLf, 3, &[b"12345\r\nab\r\n"]);
        let over = RawScan {
            data: b"123".to_vec(),
            end: FrameEnd::Overflow,
        };
        assert_eq!(got, vec![over, scan(b"ab")]);
    }

    #[test]
    fn next_scan_over_a_reader() {
        let data: &[u8] = b"]E05901234123457\r\nABC\r\n";
        let mut s = SerialScanner::from_port(data, &SerialConfig::new("/dev/null"));
        let first = s.next_scan(Duration::from_secs(1)).unwrap().unwrap();
        assert_eq!(first.data, b"]E05901234123457");
        assert_eq!(
            s.next_scan(Duration::from_secs(1)).unwrap().unwrap().data,
            b"ABC"
        );
        assert!(matches!(
            s.next_scan(Duration::from_secs(1)),
            Err(ScannerError::Disconnected)
        ));
    }
}
