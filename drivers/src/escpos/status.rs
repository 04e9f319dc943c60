//! Printer status: real-time `DLE EOT n` replies and Automatic Status Back messages
//! (PROTOCOLS.md §1.5, §1.6).
//!
//! Both come back on the same channel as each other and as stray bytes, so every parser here
//! checks the fixed bits of what it is given and refuses anything else with a
//! [`StatusError`]; none of them panics on any input (fuzz target `escpos_status`).
//!
//! | message | fixed bits |
//! |---|---|
//! | `DLE EOT n` reply | `0xx1xx10`: bits 1 and 4 set, bits 0 and 7 clear |
//! | ASB byte 1 | `0xx1xx00`: bit 4 set, bits 0, 1 and 7 clear |
//! | ASB bytes 2–4 | `0xx0xxxx`: bits 4 and 7 clear |

use thiserror::Error;

/// Mask of the fixed bits of a `DLE EOT` reply.
pub const RT_FIXED_MASK: u8 = 0x93;
/// Value of the fixed bits of a `DLE EOT` reply (`0xx1xx10`).
pub const RT_FIXED_VALUE: u8 = 0x12;
/// Mask of the fixed bits of the first byte of an ASB message.
pub const ASB_FIRST_MASK: u8 = 0x93;
/// Value of the fixed bits of the first byte of an ASB message (`0xx1xx00`).
pub const ASB_FIRST_VALUE: u8 = 0x10;
/// Mask of the fixed (zero) bits of ASB bytes 2 to 4.
pub const ASB_REST_MASK: u8 = 0x90;
/// Length of an Automatic Status Back message.
pub const ASB_LEN: usize = 4;

/// Which status `DLE EOT n` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusRequest {
    /// n = 1: printer status (drawer pin 3, offline).
    Printer = 1,
    /// n = 2: offline cause (cover open, paper end stop, error).
    OfflineCause = 2,
    /// n = 3: error cause.
    ErrorCause = 3,
    /// n = 4: roll paper sensor.
    RollPaper = 4,
}

impl StatusRequest {
    /// All four requests in order.
    pub const ALL: [StatusRequest; 4] = [
        StatusRequest::Printer,
        StatusRequest::OfflineCause,
        StatusRequest::ErrorCause,
        StatusRequest::RollPaper,
    ];

    /// The `n` of `DLE EOT n`.
    pub fn n(self) -> u8 {
        self as u8
    }

    /// The request for `n`, if `n` is 1..=4.
    pub fn from_n(n: u8) -> Option<StatusRequest> {
        StatusRequest::ALL.into_iter().find(|r| r.n() == n)
    }

    /// The bytes `10 04 n`.
    pub fn command(self) -> [u8; 3] {
        [0x10, 0x04, self.n()]
    }
}

/// Bytes that are not a valid status message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StatusError {
    /// A `DLE EOT` reply byte without the `0xx1xx10` pattern.
    #[error("byte {0:#04x} is not a real-time status reply (pattern 0xx1xx10)")]
    NotRealtimeReply(u8),
    /// An ASB message of the wrong length.
    #[error("automatic status back needs {ASB_LEN} bytes, got {0}")]
    AsbLength(usize),
    /// An ASB message whose fixed bits are wrong.
    #[error("bytes {0:02x?} are not an automatic status back message")]
    NotAsb([u8; ASB_LEN]),
}

/// Roll paper level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PaperLevel {
    /// Paper present and not near its end.
    #[default]
    Ok,
    /// Near-end sensor triggered: replace the roll soon.
    NearEnd,
    /// No paper: printing stopped.
    Out,
}

/// Error conditions a printer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PrinterErrors {
    /// A recoverable error (a mechanical error on older models).
    pub recoverable: bool,
    /// The autocutter failed (paper jam at the cutter).
    pub autocutter: bool,
    /// An error that needs service; power cycling may not clear it.
    pub unrecoverable: bool,
    /// An error that clears itself, e.g. print head over-temperature.
    pub auto_recoverable: bool,
}

impl PrinterErrors {
    /// Whether any error is reported.
    pub fn any(&self) -> bool {
        self.recoverable || self.autocutter || self.unrecoverable || self.auto_recoverable
    }
}

/// A printer's state, merged from status replies or an ASB message.
///
/// The drawer is reported as the level of connector pin 3; whether high means "open" depends on
/// the drawer model, so it is [`PrinterStatus::drawer_open`]'s caller who says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PrinterStatus {
    /// The printer reports itself offline.
    pub offline: bool,
    /// The cover is open.
    pub cover_open: bool,
    /// Roll paper level.
    pub paper: PaperLevel,
    /// Drawer kick-out connector pin 3 is high.
    pub drawer_pin3_high: bool,
    /// Paper is being fed with the FEED button.
    pub feed_button: bool,
    /// The printer waits for recovery from an error (`DLE EOT 1` bit 5).
    pub waiting_recovery: bool,
    /// Error conditions.
    pub errors: PrinterErrors,
}

impl PrinterStatus {
    /// Whether the printer is online.
    pub fn online(&self) -> bool {
        !self.offline
    }

    /// Whether the drawer is open, given whether this drawer's sensor reads high when open.
    pub fn drawer_open(&self, open_when_high: bool) -> bool {
        self.drawer_pin3_high == open_when_high
    }

    /// Whether a job sent now would print: online, cover closed, paper present, no error.
    pub fn ready(&self) -> bool {
        !self.offline && !self.cover_open && self.paper != PaperLevel::Out && !self.errors.any()
    }

    /// Merges the reply `byte` to `DLE EOT n` into this status.
    pub fn apply_realtime(&mut self, request: StatusRequest, byte: u8) -> Result<(), StatusError> {
        if byte & RT_FIXED_MASK != RT_FIXED_VALUE {
            return Err(StatusError::NotRealtimeReply(byte));
        }
        let bit = |n: u8| byte & (1 << n) != 0;
        match request {
            StatusRequest::Printer => {
                self.drawer_pin3_high = bit(2);
                self.offline = bit(3);
                self.waiting_recovery = bit(5);
                self.feed_button = bit(6);
            }
            StatusRequest::OfflineCause => {
                self.cover_open = bit(2);
                self.feed_button |= bit(3);
                if bit(5) {
                    self.paper = PaperLevel::Out;
                }
                // Bit 6 "error occurred" is detailed by DLE EOT 3.
            }
            StatusRequest::ErrorCause => {
                self.errors = PrinterErrors {
                    recoverable: bit(2),
                    autocutter: bit(3),
                    unrecoverable: bit(5),
                    auto_recoverable: bit(6),
                };
            }
            StatusRequest::RollPaper => {
                // Bits come in pairs (2,3 near end; 5,6 end); either one of a pair counts.
                self.paper = if bit(5) || bit(6) {
                    PaperLevel::Out
                } else if bit(2) || bit(3) {
                    PaperLevel::NearEnd
                } else if self.paper == PaperLevel::Out {
                    // DLE EOT 2 saw a paper-end stop: keep it.
                    PaperLevel::Out
                } else {
                    PaperLevel::Ok
                };
            }
        }
        Ok(())
    }

    /// The status from the four replies to `DLE EOT 1`, `2`, `3` and `4`, in that order.
    pub fn from_realtime(replies: [u8; 4]) -> Result<PrinterStatus, StatusError> {
        let mut status = PrinterStatus::default();
        for (request, byte) in StatusRequest::ALL.into_iter().zip(replies) {
            status.apply_realtime(request, byte)?;
        }
        Ok(status)
    }

    /// The status from one 4-byte Automatic Status Back message (Epson TM layout).
    pub fn from_asb(bytes: &[u8]) -> Result<PrinterStatus, StatusError> {
        let msg: [u8; ASB_LEN] = bytes
            .try_into()
            .map_err(|_| StatusError::AsbLength(bytes.len()))?;
        if !is_asb(&msg) {
            return Err(StatusError::NotAsb(msg));
        }
        let [b1, b2, b3, _] = msg;
        let paper = if b3 & 0x0C != 0 {
            PaperLevel::Out
        } else if b3 & 0x03 != 0 {
            PaperLevel::NearEnd
        } else {
            PaperLevel::Ok
        };
        Ok(PrinterStatus {
            drawer_pin3_high: b1 & 0x04 != 0,
            offline: b1 & 0x08 != 0,
            cover_open: b1 & 0x20 != 0,
            feed_button: b1 & 0x40 != 0 || b2 & 0x02 != 0,
            waiting_recovery: b2 & 0x01 != 0,
            paper,
            errors: PrinterErrors {
                recoverable: b2 & 0x04 != 0,
                autocutter: b2 & 0x08 != 0,
                unrecoverable: b2 & 0x20 != 0,
                auto_recoverable: b2 & 0x40 != 0,
            },
        })
    }
}

/// Whether `byte` has the fixed bits of a `DLE EOT` reply.
pub fn is_realtime_reply(byte: u8) -> bool {
    byte & RT_FIXED_MASK == RT_FIXED_VALUE
}

fn is_asb(msg: &[u8; ASB_LEN]) -> bool {
    msg[0] & ASB_FIRST_MASK == ASB_FIRST_VALUE && msg[1..].iter().all(|b| b & ASB_REST_MASK == 0)
}

/// One message found in the bytes a printer sends back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Incoming {
    /// A byte with the pattern of a `DLE EOT` reply.
    Realtime(u8),
    /// A complete Automatic Status Back message.
    Asb([u8; ASB_LEN]),
    /// A byte that is neither (or an ASB start whose next bytes do not fit).
    Garbage(u8),
}

/// Splits the start of `buf` into one message; returns it and how many bytes it used, or
/// `None` when `buf` is empty or holds only the beginning of an ASB message.
///
/// An ASB message is recognised by its first byte (bit 1 clear, unlike a real-time reply);
/// when the following bytes break its fixed bits the first byte is reported as garbage.
pub fn next_incoming(buf: &[u8]) -> Option<(Incoming, usize)> {
    let first = *buf.first()?;
    if is_realtime_reply(first) {
        return Some((Incoming::Realtime(first), 1));
    }
    if first & ASB_FIRST_MASK == ASB_FIRST_VALUE {
        let rest = &buf[1..buf.len().min(ASB_LEN)];
        if rest.iter().any(|b| b & ASB_REST_MASK != 0) {
            return Some((Incoming::Garbage(first), 1));
        }
        let msg: [u8; ASB_LEN] = buf.get(..ASB_LEN)?.try_into().ok()?;
        return Some((Incoming::Asb(msg), ASB_LEN));
    }
    Some((Incoming::Garbage(first), 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emupos_reference_replies() {
        let ok = PrinterStatus::from_realtime([0x12, 0x12, 0x12, 0x12]).unwrap();
        assert_eq!(ok, PrinterStatus::default());
        assert!(ok.ready());

        let near = PrinterStatus::from_realtime([0x12, 0x12, 0x12, 0x1E]).unwrap();
        assert_eq!(near.paper, PaperLevel::NearEnd);
        assert!(near.ready());

        let out = PrinterStatus::from_realtime([0x1A, 0x32, 0x12, 0x7E]).unwrap();
        assert_eq!(out.paper, PaperLevel::Out);
        assert!(out.offline && !out.cover_open && !out.ready());

        let cover = PrinterStatus::from_realtime([0x1A, 0x16, 0x12, 0x12]).unwrap();
        assert!(cover.cover_open && cover.offline && cover.paper == PaperLevel::Ok);

        let offline = PrinterStatus::from_realtime([0x1A, 0x12, 0x12, 0x12]).unwrap();
        assert!(offline.offline && !offline.cover_open);

        let drawer = PrinterStatus::from_realtime([0x16, 0x12, 0x12, 0x12]).unwrap();
        assert!(drawer.drawer_pin3_high && drawer.online());
        assert!(drawer.drawer_open(true) && !drawer.drawer_open(false));
    }

    #[test]
    fn error_cause_bits() {
        let s = PrinterStatus::from_realtime([0x1A, 0x52, 0x7E, 0x12]).unwrap();
        assert_eq!(
            s.errors,
            PrinterErrors {
                recoverable: true,
                autocutter: true,
                unrecoverable: true,
                auto_recoverable: true
            }
        );
    }

    #[test]
    fn garbage_is_refused() {
        for b in [0x00, 0xFF, 0x10, 0x13, 0x92, 0x02] {
            assert_eq!(
                PrinterStatus::from_realtime([0x12, b, 0x12, 0x12]),
                Err(StatusError::NotRealtimeReply(b))
            );
        }
        assert_eq!(
            PrinterStatus::from_asb(&[0x10, 0, 0]),
            Err(StatusError::AsbLength(3))
        );
        assert_eq!(
            PrinterStatus::from_asb(&[0x12, 0, 0, 0]),
            Err(StatusError::NotAsb([0x12, 0, 0, 0]))
        );
        assert!(PrinterStatus::from_asb(&[0x10, 0x10, 0, 0]).is_err());
        assert!(PrinterStatus::from_asb(&[0x10, 0, 0, 0x80]).is_err());
    }

    #[test]
    fn asb_emupos_examples() {
        let asb = |b: [u8; 4]| PrinterStatus::from_asb(&b).unwrap();
        assert_eq!(asb([0x10, 0, 0, 0]), PrinterStatus::default());
        assert!(asb([0x14, 0, 0, 0]).drawer_pin3_high);
        assert_eq!(asb([0x10, 0, 0x03, 0]).paper, PaperLevel::NearEnd);
        let out = asb([0x18, 0, 0x0F, 0]);
        assert!(out.offline && out.paper == PaperLevel::Out);
        assert!(asb([0x38, 0, 0, 0]).cover_open);
    }

    #[test]
    fn demultiplexing() {
        let buf = [0x10, 0x00, 0x0F, 0x00, 0x16, 0xFF, 0x10, 0x20, 0x10];
        let mut rest = &buf[..];
        let mut seen = Vec::new();
        while let Some((msg, used)) = next_incoming(rest) {
            seen.push(msg);
            rest = &rest[used..];
        }
        assert_eq!(
            seen,
            [
                Incoming::Asb([0x10, 0x00, 0x0F, 0x00]),
                Incoming::Realtime(0x16),
                Incoming::Garbage(0xFF),
                Incoming::Garbage(0x10),
                Incoming::Garbage(0x20),
            ]
        );
        assert_eq!(rest, [0x10], "an ASB start waits for more bytes");
        assert_eq!(StatusRequest::RollPaper.command(), [0x10, 0x04, 0x04]);
    }
}
