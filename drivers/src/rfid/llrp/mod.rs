//! LLRP 1.0.1 framing and parameters (EPCglobal Low Level Reader Protocol, TCP port 5084).
//!
//! Everything is big-endian. A message is a 10-byte header (`Rsvd(3) | Ver(3) | Type(10)`,
//! `u32` length of the whole message, `u32` message ID) and a body of fields and parameters.
//! A parameter is either TLV (`Rsvd(6) | Type(10)`, `u16` length including the 4-byte header)
//! or TV (one byte `1 | Type(7)` and a value whose size the type defines).
//!
//! This module has no I/O. [`split_frame`] finds whole messages in a byte buffer;
//! [`Message::decode`] and [`Message::encode`] convert between a frame and a typed
//! [`Message`], covering what an inventory client and a simulated reader exchange.
//!
//! Decoding never panics: truncated or inconsistent input is an [`LlrpError`]. Unknown TLV
//! parameters are skipped by their length; an unknown TV parameter cannot be skipped (it has
//! no length) and is an error.

mod message;

pub use message::{
    Capabilities, LlrpStatus, Message, ReaderEvent, RoSpec, TagReport, CONTENT_ANTENNA_ID,
    CONTENT_FIRST_SEEN, CONTENT_LAST_SEEN, CONTENT_PEAK_RSSI, CONTENT_TAG_SEEN_COUNT,
};

use thiserror::Error;

/// The IANA port of LLRP over plain TCP.
pub const LLRP_PORT: u16 = 5084;
/// Protocol version this implementation speaks (LLRP 1.0.1).
pub const VERSION: u8 = 1;
/// Size of a message header.
pub const HEADER_LEN: usize = 10;
/// Largest message accepted; larger lengths are treated as garbage, not buffered.
pub const MAX_MESSAGE_LEN: u32 = 4 << 20;

/// Message type numbers (LLRP 1.0.1 §16).
pub mod msg {
    /// GET_READER_CAPABILITIES.
    pub const GET_READER_CAPABILITIES: u16 = 1;
    /// SET_READER_CONFIG.
    pub const SET_READER_CONFIG: u16 = 3;
    /// CLOSE_CONNECTION_RESPONSE.
    pub const CLOSE_CONNECTION_RESPONSE: u16 = 4;
    /// GET_READER_CAPABILITIES_RESPONSE.
    pub const GET_READER_CAPABILITIES_RESPONSE: u16 = 11;
    /// SET_READER_CONFIG_RESPONSE.
    pub const SET_READER_CONFIG_RESPONSE: u16 = 13;
    /// CLOSE_CONNECTION.
    pub const CLOSE_CONNECTION: u16 = 14;
    /// ADD_ROSPEC.
    pub const ADD_ROSPEC: u16 = 20;
    /// DELETE_ROSPEC.
    pub const DELETE_ROSPEC: u16 = 21;
    /// START_ROSPEC.
    pub const START_ROSPEC: u16 = 22;
    /// STOP_ROSPEC.
    pub const STOP_ROSPEC: u16 = 23;
    /// ENABLE_ROSPEC.
    pub const ENABLE_ROSPEC: u16 = 24;
    /// ADD_ROSPEC_RESPONSE.
    pub const ADD_ROSPEC_RESPONSE: u16 = 30;
    /// DELETE_ROSPEC_RESPONSE.
    pub const DELETE_ROSPEC_RESPONSE: u16 = 31;
    /// START_ROSPEC_RESPONSE.
    pub const START_ROSPEC_RESPONSE: u16 = 32;
    /// STOP_ROSPEC_RESPONSE.
    pub const STOP_ROSPEC_RESPONSE: u16 = 33;
    /// ENABLE_ROSPEC_RESPONSE.
    pub const ENABLE_ROSPEC_RESPONSE: u16 = 34;
    /// RO_ACCESS_REPORT.
    pub const RO_ACCESS_REPORT: u16 = 61;
    /// KEEPALIVE.
    pub const KEEPALIVE: u16 = 62;
    /// READER_EVENT_NOTIFICATION.
    pub const READER_EVENT_NOTIFICATION: u16 = 63;
    /// KEEPALIVE_ACK.
    pub const KEEPALIVE_ACK: u16 = 72;
    /// ERROR_MESSAGE.
    pub const ERROR_MESSAGE: u16 = 100;
}

/// Parameter type numbers (LLRP 1.0.1 §16).
pub mod param {
    /// TV AntennaID, u16.
    pub const ANTENNA_ID: u8 = 1;
    /// TV FirstSeenTimestampUTC, u64 µs.
    pub const FIRST_SEEN_UTC: u8 = 2;
    /// TV LastSeenTimestampUTC, u64 µs.
    pub const LAST_SEEN_UTC: u8 = 4;
    /// TV PeakRSSI, i8 dBm.
    pub const PEAK_RSSI: u8 = 6;
    /// TV ChannelIndex, u16.
    pub const CHANNEL_INDEX: u8 = 7;
    /// TV TagSeenCount, u16.
    pub const TAG_SEEN_COUNT: u8 = 8;
    /// TV ROSpecID, u32.
    pub const ROSPEC_ID: u8 = 9;
    /// TV EPC-96, 12 bytes.
    pub const EPC_96: u8 = 13;

    /// TLV UTCTimestamp.
    pub const UTC_TIMESTAMP: u16 = 128;
    /// TLV Uptime.
    pub const UPTIME: u16 = 129;
    /// TLV GeneralDeviceCapabilities.
    pub const GENERAL_DEVICE_CAPABILITIES: u16 = 137;
    /// TLV ROSpec.
    pub const ROSPEC: u16 = 177;
    /// TLV ROBoundarySpec.
    pub const RO_BOUNDARY_SPEC: u16 = 178;
    /// TLV ROSpecStartTrigger.
    pub const ROSPEC_START_TRIGGER: u16 = 179;
    /// TLV ROSpecStopTrigger.
    pub const ROSPEC_STOP_TRIGGER: u16 = 182;
    /// TLV AISpec.
    pub const AI_SPEC: u16 = 183;
    /// TLV AISpecStopTrigger.
    pub const AI_SPEC_STOP_TRIGGER: u16 = 184;
    /// TLV InventoryParameterSpec.
    pub const INVENTORY_PARAMETER_SPEC: u16 = 186;
    /// TLV KeepaliveSpec.
    pub const KEEPALIVE_SPEC: u16 = 220;
    /// TLV ROReportSpec.
    pub const RO_REPORT_SPEC: u16 = 237;
    /// TLV TagReportContentSelector.
    pub const TAG_REPORT_CONTENT_SELECTOR: u16 = 238;
    /// TLV TagReportData.
    pub const TAG_REPORT_DATA: u16 = 240;
    /// TLV EPCData (EPCs of any bit length).
    pub const EPC_DATA: u16 = 241;
    /// TLV ReaderEventNotificationData.
    pub const READER_EVENT_NOTIFICATION_DATA: u16 = 246;
    /// TLV ConnectionAttemptEvent.
    pub const CONNECTION_ATTEMPT_EVENT: u16 = 256;
    /// TLV ConnectionCloseEvent.
    pub const CONNECTION_CLOSE_EVENT: u16 = 257;
    /// TLV LLRPStatus.
    pub const LLRP_STATUS: u16 = 287;
}

/// Why bytes are not a valid LLRP message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LlrpError {
    /// A field or parameter runs past the end of its enclosing message or parameter.
    #[error("truncated: {what} needs {needed} bytes, {available} available")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The header carries a protocol version other than 1.
    #[error("unsupported LLRP version {0}")]
    Version(u8),
    /// The header's length is below the header size or above [`MAX_MESSAGE_LEN`].
    #[error("message length {0} is out of range")]
    MessageLength(u32),
    /// The frame handed to the decoder is not exactly as long as its header says.
    #[error("frame of {actual} bytes, header says {declared}")]
    FrameLength {
        /// Length in the header.
        declared: u32,
        /// Bytes given.
        actual: usize,
    },
    /// A TLV parameter length below 4 or past its enclosing data.
    #[error("parameter {param_type} has bad length {length}")]
    ParamLength {
        /// Parameter type.
        param_type: u16,
        /// Declared length.
        length: u16,
    },
    /// A TV parameter of a type this decoder does not know: its size is unknown.
    #[error("unknown TV parameter type {0}")]
    UnknownTv(u8),
    /// A required parameter is absent.
    #[error("{message} lacks its {param} parameter")]
    MissingParam {
        /// Enclosing message or parameter.
        message: &'static str,
        /// Missing parameter.
        param: &'static str,
    },
    /// An EPCData parameter whose bit length does not match its bytes.
    #[error("EPCData of {bits} bits in {bytes} bytes")]
    EpcLength {
        /// Declared bit length.
        bits: u16,
        /// Bytes present.
        bytes: usize,
    },
}

/// A message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Message type (10 bits).
    pub msg_type: u16,
    /// Length of the whole message, header included.
    pub length: u32,
    /// Message ID; a response echoes its request's ID.
    pub id: u32,
}

impl Header {
    /// Parses and validates the first 10 bytes of `b`; `Ok(None)` if fewer are available.
    pub fn parse(b: &[u8]) -> Result<Option<Header>, LlrpError> {
        let Some(h) = b.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let word = u16::from_be_bytes([h[0], h[1]]);
        let version = ((word >> 10) & 0x7) as u8;
        if version != VERSION {
            return Err(LlrpError::Version(version));
        }
        let length = u32::from_be_bytes([h[2], h[3], h[4], h[5]]);
        if (length as usize) < HEADER_LEN || length > MAX_MESSAGE_LEN {
            return Err(LlrpError::MessageLength(length));
        }
        let id = u32::from_be_bytes([h[6], h[7], h[8], h[9]]);
        Ok(Some(Header {
            msg_type: word & 0x3FF,
            length,
            id,
        }))
    }
}

/// Finds the first whole message at the start of `buf`.
///
/// Returns its header and length in bytes, `Ok(None)` if more bytes are needed, or an error if
/// the header is garbage (the stream cannot be resynchronised then; close the connection).
pub fn split_frame(buf: &[u8]) -> Result<Option<(Header, usize)>, LlrpError> {
    match Header::parse(buf)? {
        Some(h) if buf.len() >= h.length as usize => Ok(Some((h, h.length as usize))),
        _ => Ok(None),
    }
}

/// Splits a byte stream into decoded messages, buffering partial ones across reads.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
    pos: usize,
}

impl Deframer {
    /// An empty deframer.
    pub fn new() -> Self {
        Deframer::default()
    }

    /// Appends bytes received from the stream.
    pub fn push(&mut self, data: &[u8]) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 64 * 1024 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Decodes the next whole message; `Ok(None)` if more bytes are needed.
    ///
    /// A garbage header is an error and leaves the buffer as it is (the stream cannot be
    /// resynchronised). A well-framed message whose body does not decode is consumed, so the
    /// caller may answer it with an ERROR_MESSAGE and go on.
    pub fn next_message(&mut self) -> Result<Option<(Header, Message)>, LlrpError> {
        let Some((_, n)) = split_frame(&self.buf[self.pos..])? else {
            return Ok(None);
        };
        let frame = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Message::decode(frame).map(Some)
    }
}

/// Size of the value of a TV parameter type, or `None` for types this decoder does not know.
fn tv_size(t: u8) -> Option<usize> {
    Some(match t {
        1 | 7 | 8 | 10 | 11 | 12 | 14 | 15 | 17 | 19 | 20 => 2,
        2..=5 => 8,
        6 => 1,
        9 | 16 | 18 => 4,
        13 => 12,
        _ => return None,
    })
}

/// One parameter found by [`Params`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param<'a> {
    /// A TLV parameter: type and body (after the 4-byte header).
    Tlv(u16, &'a [u8]),
    /// A TV parameter: type and value.
    Tv(u8, &'a [u8]),
}

/// Iterates over a sequence of parameters; stops after the first error.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Params<'a> {
    /// Parameters laid out back to back in `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Params { rest: data }
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<Param<'a>, LlrpError>;

    fn next(&mut self) -> Option<Self::Item> {
        let first = *self.rest.first()?;
        let r = if first & 0x80 != 0 {
            let t = first & 0x7F;
            match tv_size(t) {
                None => Err(LlrpError::UnknownTv(t)),
                Some(n) => match self.rest.get(1..1 + n) {
                    Some(v) => {
                        self.rest = &self.rest[1 + n..];
                        Ok(Param::Tv(t, v))
                    }
                    None => Err(truncated("TV parameter", 1 + n, self.rest.len())),
                },
            }
        } else if self.rest.len() < 4 {
            Err(truncated("TLV header", 4, self.rest.len()))
        } else {
            let t = u16::from_be_bytes([self.rest[0], self.rest[1]]) & 0x3FF;
            let len = u16::from_be_bytes([self.rest[2], self.rest[3]]);
            if usize::from(len) < 4 || usize::from(len) > self.rest.len() {
                Err(LlrpError::ParamLength {
                    param_type: t,
                    length: len,
                })
            } else {
                let body = &self.rest[4..usize::from(len)];
                self.rest = &self.rest[usize::from(len)..];
                Ok(Param::Tlv(t, body))
            }
        };
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}

fn truncated(what: &'static str, needed: usize, available: usize) -> LlrpError {
    LlrpError::Truncated {
        what,
        needed,
        available,
    }
}

/// Reads fixed fields from the front of a byte slice.
#[derive(Debug)]
struct Reader<'a> {
    b: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8], what: &'static str) -> Self {
        Reader { b, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], LlrpError> {
        if self.b.len() < n {
            return Err(truncated(self.what, n, self.b.len()));
        }
        let (head, tail) = self.b.split_at(n);
        self.b = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, LlrpError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, LlrpError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, LlrpError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, LlrpError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }

    /// The rest, as parameters.
    fn params(self) -> Params<'a> {
        Params::new(self.b)
    }
}

/// Builds messages and TLV parameters, patching lengths when each closes.
#[derive(Debug, Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// Starts a message; finish it with [`Writer::finish`].
    fn message(msg_type: u16, id: u32) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&((u16::from(VERSION) << 10) | (msg_type & 0x3FF)).to_be_bytes());
        buf.extend_from_slice(&[0; 4]);
        buf.extend_from_slice(&id.to_be_bytes());
        Writer { buf }
    }

    fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// Writes a TLV parameter whose body `f` writes.
    fn tlv(&mut self, t: u16, f: impl FnOnce(&mut Self)) -> &mut Self {
        let start = self.buf.len();
        self.u16(t & 0x3FF).u16(0);
        f(self);
        // Parameters written here are small; a body over 64 KiB would be a bug of ours.
        let len = u16::try_from(self.buf.len() - start).unwrap_or(u16::MAX);
        self.buf[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
        self
    }

    /// Writes a TV parameter.
    fn tv(&mut self, t: u8, value: &[u8]) -> &mut Self {
        self.u8(0x80 | t).bytes(value)
    }

    fn finish(mut self) -> Vec<u8> {
        let len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.buf[2..6].copy_from_slice(&len.to_be_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_split() {
        let frame = [0x04, 0x3e, 0, 0, 0, 10, 0, 0, 0, 7];
        assert_eq!(split_frame(&frame[..9]), Ok(None));
        let (h, n) = split_frame(&frame).unwrap().unwrap();
        assert_eq!((h.msg_type, h.length, h.id, n), (msg::KEEPALIVE, 10, 7, 10));
        assert_eq!(
            split_frame(&[0x08, 0x3e, 0, 0, 0, 10, 0, 0, 0, 7]),
            Err(LlrpError::Version(2))
        );
        assert_eq!(
            split_frame(&[0x04, 0x3e, 0, 0, 0, 9, 0, 0, 0, 7]),
            Err(LlrpError::MessageLength(9))
        );
        // A whole header but not yet the whole body.
        assert_eq!(
            split_frame(&[0x04, 0x3e, 0, 0, 0, 11, 0, 0, 0, 7]),
            Ok(None)
        );
    }

    #[test]
    fn params_skip_and_errors() {
        // TLV 999 with 2 body bytes, then TV AntennaID.
        let data = [0x03, 0xe7, 0x00, 0x06, 0xaa, 0xbb, 0x81, 0x00, 0x02];
        let got: Vec<_> = Params::new(&data).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            vec![Param::Tlv(999, &[0xaa, 0xbb]), Param::Tv(1, &[0, 2])]
        );
        let bad: Vec<_> = Params::new(&[0xff, 1, 2]).collect();
        assert_eq!(bad, vec![Err(LlrpError::UnknownTv(0x7f))]);
        let bad: Vec<_> = Params::new(&[0x00, 0xf0, 0x00, 0x03]).collect();
        assert_eq!(
            bad,
            vec![Err(LlrpError::ParamLength {
                param_type: 240,
                length: 3
            })]
        );
        let bad: Vec<_> = Params::new(&[0x8d, 1, 2]).collect();
        assert!(matches!(bad[..], [Err(LlrpError::Truncated { .. })]));
    }
}
