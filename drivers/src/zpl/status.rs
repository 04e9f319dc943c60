//! The `~HS` host status reply (PROTOCOLS.md §2.2).
//!
//! The printer answers with three strings, each framed `STX … ETX` and followed by CR LF:
//!
//! - String 1, `aaa,b,c,dddd,eee,f,g,h,iii,j,k,l`: comm settings, **paper out**, **pause**,
//!   label length, formats in buffer, buffer full, diagnostic mode, partial format, unused,
//!   corrupt RAM, under-temperature, over-temperature.
//! - String 2, `mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www`: function settings, unused, **head open**,
//!   **ribbon out**, thermal transfer, print mode, width mode, label waiting, labels remaining,
//!   format while printing, graphics stored.
//! - String 3, `xxxx,y`: password, static RAM.
//!
//! Bytes outside the frames are ignored; missing frames, missing fields and fields that are not
//! digits are refused with a [`HostStatusError`]. Extra trailing fields (newer firmware) are
//! accepted. Newer firmware does not answer at all while media out, ribbon out, head open,
//! rewinder full or head over-temperature: a missing reply means "printer in error".

use thiserror::Error;

const STX: u8 = 0x02;
const ETX: u8 = 0x03;
/// The host status request.
pub const HOST_STATUS_REQUEST: &[u8] = b"~HS";
/// Longest frame accepted, in bytes.
const MAX_FRAME: usize = 128;

/// A `~HS` reply that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HostStatusError {
    /// Fewer than three complete `STX … ETX` strings.
    #[error("host status needs 3 framed strings, found {0}")]
    Frames(usize),
    /// A string with too few fields.
    #[error("host status string {string} has {found} fields, needs {needed}")]
    FieldCount {
        /// String number, 1..=3.
        string: u8,
        /// Fields found.
        found: usize,
        /// Fields needed.
        needed: usize,
    },
    /// A field that is not a number, or a flag other than 0 or 1.
    #[error("host status string {string} field {field} is malformed")]
    Field {
        /// String number, 1..=3.
        string: u8,
        /// Field number, from 1.
        field: usize,
    },
}

/// A label printer's state as `~HS` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HostStatus {
    /// Out of media.
    pub paper_out: bool,
    /// Paused (by the operator or a fault).
    pub paused: bool,
    /// Label length in dots.
    pub label_length: u32,
    /// Formats waiting in the receive buffer.
    pub formats_in_buffer: u32,
    /// The receive buffer is full.
    pub buffer_full: bool,
    /// Communications diagnostic mode is on.
    pub diagnostic_mode: bool,
    /// A format is partially received.
    pub partial_format: bool,
    /// Configuration data was lost (corrupt RAM).
    pub corrupt_ram: bool,
    /// Print head under temperature.
    pub under_temperature: bool,
    /// Print head over temperature.
    pub over_temperature: bool,
    /// Print head up (open).
    pub head_open: bool,
    /// Out of ribbon.
    pub ribbon_out: bool,
    /// Thermal transfer (ribbon) rather than direct thermal.
    pub thermal_transfer: bool,
    /// Print mode: 0 rewind, 1 peel-off, 2 tear-off, 3 cutter, 4 applicator, 5 delayed cut.
    pub print_mode: u8,
    /// A label waits to be taken (peel-off mode).
    pub label_waiting: bool,
    /// Labels remaining in the current batch.
    pub labels_remaining: u32,
}

impl HostStatus {
    /// Whether a label sent now would print.
    pub fn ready(&self) -> bool {
        !(self.paper_out
            || self.paused
            || self.head_open
            || self.ribbon_out
            || self.buffer_full
            || self.over_temperature
            || self.corrupt_ram)
    }

    /// Parses a complete `~HS` reply; bytes outside the three frames are ignored.
    pub fn parse(bytes: &[u8]) -> Result<HostStatus, HostStatusError> {
        let frames = frames(bytes);
        if frames.len() < 3 {
            return Err(HostStatusError::Frames(frames.len()));
        }
        let s1 = fields(1, frames[0], 12)?;
        let s2 = fields(2, frames[1], 11)?;
        fields(3, frames[2], 2)?;
        Ok(HostStatus {
            paper_out: flag(1, &s1, 2)?,
            paused: flag(1, &s1, 3)?,
            label_length: number(1, &s1, 4)?,
            formats_in_buffer: number(1, &s1, 5)?,
            buffer_full: flag(1, &s1, 6)?,
            diagnostic_mode: flag(1, &s1, 7)?,
            partial_format: flag(1, &s1, 8)?,
            corrupt_ram: flag(1, &s1, 10)?,
            under_temperature: flag(1, &s1, 11)?,
            over_temperature: flag(1, &s1, 12)?,
            head_open: flag(2, &s2, 3)?,
            ribbon_out: flag(2, &s2, 4)?,
            thermal_transfer: flag(2, &s2, 5)?,
            print_mode: u8::try_from(number(2, &s2, 6)?).map_err(|_| HostStatusError::Field {
                string: 2,
                field: 6,
            })?,
            label_waiting: flag(2, &s2, 8)?,
            labels_remaining: number(2, &s2, 9)?,
        })
    }
}

/// How many complete frames `bytes` holds (for a reader deciding whether to wait for more).
pub fn complete_frames(bytes: &[u8]) -> usize {
    frames(bytes).len()
}

/// The contents of the complete `STX … ETX` frames of `bytes`, at most three. An STX inside a
/// frame restarts it; over-long frames are dropped.
fn frames(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &b) in bytes.iter().enumerate() {
        match (b, start) {
            (STX, _) => start = Some(i + 1),
            (ETX, Some(s)) => {
                if i - s <= MAX_FRAME {
                    out.push(&bytes[s..i]);
                    if out.len() == 3 {
                        break;
                    }
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

fn fields(string: u8, frame: &[u8], needed: usize) -> Result<Vec<&[u8]>, HostStatusError> {
    let f: Vec<&[u8]> = frame
        .split(|&b| b == b',')
        .map(|f| f.trim_ascii())
        .collect();
    if f.len() < needed {
        return Err(HostStatusError::FieldCount {
            string,
            found: f.len(),
            needed,
        });
    }
    for (i, field) in f.iter().enumerate().take(needed) {
        if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
            return Err(HostStatusError::Field {
                string,
                field: i + 1,
            });
        }
    }
    Ok(f)
}

/// Field `n` (from 1) as a number; fields were checked to be digits.
fn number(string: u8, f: &[&[u8]], n: usize) -> Result<u32, HostStatusError> {
    let err = HostStatusError::Field { string, field: n };
    let digits = std::str::from_utf8(f[n - 1]).map_err(|_| err.clone())?;
    digits.parse().map_err(|_| err)
}

fn flag(string: u8, f: &[&[u8]], n: usize) -> Result<bool, HostStatusError> {
    match f[n - 1] {
        b"0" => Ok(false),
        b"1" => Ok(true),
        _ => Err(HostStatusError::Field { string, field: n }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: &[u8] = b"\x02030,0,0,1218,000,0,0,0,000,0,0,0\x03\r\n\
        \x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n";

    #[test]
    fn idle_printer() {
        let s = HostStatus::parse(IDLE).unwrap();
        assert!(s.ready());
        assert_eq!(s.label_length, 1218);
        assert_eq!(s.print_mode, 2);
        assert!(s.thermal_transfer);
    }

    #[test]
    fn faults_are_read_from_their_fields() {
        let reply = b"junk\x02030,1,1,1218,002,0,0,0,000,0,0,1\x03\r\n\
            \x02001,0,1,1,0,3,6,1,00000005,1,000,9\x03\r\n\x021234,0\x03\r\n";
        let s = HostStatus::parse(reply).unwrap();
        assert!(s.paper_out && s.paused && s.head_open && s.ribbon_out && s.over_temperature);
        assert!(s.label_waiting && !s.thermal_transfer);
        assert_eq!(
            (s.formats_in_buffer, s.labels_remaining, s.print_mode),
            (2, 5, 3)
        );
        assert!(!s.ready());
    }

    #[test]
    fn malformed_replies_are_refused() {
        assert_eq!(HostStatus::parse(b""), Err(HostStatusError::Frames(0)));
        assert_eq!(
            HostStatus::parse(&IDLE[..40]),
            Err(HostStatusError::Frames(1))
        );
        let mut bad_flag = IDLE.to_vec();
        bad_flag[5] = b'2';
        assert_eq!(
            HostStatus::parse(&bad_flag),
            Err(HostStatusError::Field {
                string: 1,
                field: 2
            })
        );
        let short = b"\x02030,0\x03\x02x\x03\x02y\x03";
        assert_eq!(
            HostStatus::parse(short),
            Err(HostStatusError::FieldCount {
                string: 1,
                found: 2,
                needed: 12
            })
        );
        let overflow = b"\x02030,0,0,99999999999,000,0,0,0,000,0,0,0\x03\
            \x02001,0,0,0,1,2,6,0,0,1,000\x03\x021,0\x03";
        assert_eq!(
            HostStatus::parse(overflow),
            Err(HostStatusError::Field {
                string: 1,
                field: 4
            })
        );
    }
}
