//! The envelope around every journal event, and its versioned postcard codec.
//!
//! Wire layout (schema version 1):
//!
//! | bytes | meaning |
//! |---|---|
//! | 1 | magic `0xE5` |
//! | varint | schema version (`u16`, postcard varint) |
//! | rest | postcard encoding of [`Body`]: store, sequence, event id, time, event |
//!
//! The decoder reads the magic and the version before it touches the body, so a message from a
//! newer schema is refused as [`DecodeError::FutureVersion`] rather than misread. The framing is
//! shared with the link's other messages, see [`crate::frame`].

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::frame::{self, FrameError, Magic};
use crate::ids::{EventId, StoreId};
use crate::time::Timestamp;

/// The first byte of every encoded envelope.
pub const MAGIC: u8 = 0xE5;
/// The schema version this crate writes, and the newest it reads.
pub const SCHEMA_VERSION: u16 = 1;
/// The oldest schema version this crate still reads.
pub const MIN_SCHEMA_VERSION: u16 = 1;
/// Encoded envelopes larger than this are refused by the decoder.
pub const MAX_ENCODED_LEN: usize = 256 * 1024;

/// One journaled event with its identity and position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The store whose journal holds it.
    pub store: StoreId,
    /// Position in the store's journal: gap-free, starting at 1.
    pub seq: u64,
    /// Globally unique id of the event.
    pub id: EventId,
    /// When the store recorded it.
    pub at: Timestamp,
    /// What happened.
    pub event: Event,
}

/// Why bytes could not be decoded into an [`Envelope`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty message")]
    Empty,
    #[error("message is {len} bytes; the limit is {max}")]
    TooLarge { len: usize, max: usize },
    #[error("bad magic byte {found:#04x} (expected {MAGIC:#04x}): not an envelope")]
    BadMagic { found: u8 },
    #[error("schema version is missing or malformed")]
    BadVersion,
    #[error(
        "schema version {found} is newer than this build understands (newest {SCHEMA_VERSION})"
    )]
    FutureVersion { found: u16 },
    #[error("schema version {found} is older than this build still reads ({MIN_SCHEMA_VERSION})")]
    UnsupportedVersion { found: u16 },
    #[error("body of schema version {version} does not decode: {reason}")]
    Body { version: u16, reason: String },
    #[error("{extra} unexpected bytes after the body")]
    TrailingBytes { extra: usize },
}

impl Envelope {
    /// Encodes with the current schema version.
    pub fn encode(&self) -> Vec<u8> {
        frame::encode(Magic::Envelope, self)
    }

    /// Decodes bytes from anywhere (disk, broker, fuzzer). Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
        frame::decode(Magic::Envelope, bytes).map_err(DecodeError::from)
    }
}

impl From<FrameError> for DecodeError {
    fn from(e: FrameError) -> DecodeError {
        match e {
            FrameError::Empty => DecodeError::Empty,
            FrameError::TooLarge { len, max } => DecodeError::TooLarge { len, max },
            FrameError::BadMagic { found, .. } => DecodeError::BadMagic { found },
            FrameError::BadVersion => DecodeError::BadVersion,
            FrameError::FutureVersion { found } => DecodeError::FutureVersion { found },
            FrameError::UnsupportedVersion { found } => DecodeError::UnsupportedVersion { found },
            FrameError::Body { version, reason } => DecodeError::Body { version, reason },
            FrameError::TrailingBytes { extra } => DecodeError::TrailingBytes { extra },
        }
    }
}
