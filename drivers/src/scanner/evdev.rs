//! A keyboard-wedge scanner read from `/dev/input/eventN` (feature `evdev`).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::wedge::{InputEvent, WedgeConfig, WedgeDecoder};
use super::{RawScan, ScannerError};

/// How long to sleep between polls of the non-blocking device.
const POLL: Duration = Duration::from_millis(5);

/// A keyboard-wedge scanner, grabbed exclusively so its keystrokes reach no console or
/// other reader.
#[derive(Debug)]
pub struct EvdevScanner {
    device: evdev::Device,
    decoder: WedgeDecoder,
    ready: VecDeque<RawScan>,
    path: PathBuf,
}

impl EvdevScanner {
    /// Opens the device (prefer `/dev/input/by-id/usb-…-event-kbd`), grabs it (EVIOCGRAB)
    /// and sets it non-blocking.
    pub fn open(path: impl AsRef<Path>, config: WedgeConfig) -> Result<Self, ScannerError> {
        let path = path.as_ref().to_owned();
        let open = |source| ScannerError::Open {
            path: path.clone(),
            source,
        };
        let mut device = evdev::Device::open(&path).map_err(open)?;
        device.grab().map_err(open)?;
        device.set_nonblocking(true).map_err(open)?;
        Ok(EvdevScanner {
            device,
            decoder: WedgeDecoder::new(config),
            ready: VecDeque::new(),
            path,
        })
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits up to `timeout` for the next scan; `Ok(None)` if none completed in time. A scan
    /// without suffix ends once the idle timeout has passed on the event clock (realtime).
    pub fn next_scan(&mut self, timeout: Duration) -> Result<Option<RawScan>, ScannerError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(scan) = self.ready.pop_front() {
                return Ok(Some(scan));
            }
            match self.device.fetch_events() {
                Ok(events) => {
                    for e in events {
                        let ev = InputEvent {
                            time: since_epoch(e.timestamp()),
                            kind: e.event_type().0,
                            code: e.code(),
                            value: e.value(),
                        };
                        self.ready.extend(self.decoder.push(&ev));
                    }
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.raw_os_error() == Some(19) => return Err(ScannerError::Disconnected),
                Err(source) => return Err(ScannerError::Read { source }),
            }
            self.ready
                .extend(self.decoder.poll_idle(since_epoch(SystemTime::now())));
            if self.ready.is_empty() {
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                std::thread::sleep(POLL);
            }
        }
    }
}

fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default()
}
