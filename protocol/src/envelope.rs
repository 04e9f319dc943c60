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
//! newer schema is refused as [`DecodeError::FutureVersion`] rather than misread.

use serde::{Deserialize, Serialize};

use crate::event::Event;
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
        let mut out = Vec::with_capacity(64);
        out.push(MAGIC);
        // A u16 and a derived struct of owned data cannot fail to serialize into a Vec.
        let header = postcard::to_stdvec(&SCHEMA_VERSION).unwrap_or_default();
        out.extend_from_slice(&header);
        let body = postcard::to_stdvec(self).unwrap_or_default();
        out.extend_from_slice(&body);
        out
    }

    /// Decodes bytes from anywhere (disk, broker, fuzzer). Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
        if bytes.len() > MAX_ENCODED_LEN {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: MAX_ENCODED_LEN,
            });
        }
        let (&magic, rest) = bytes.split_first().ok_or(DecodeError::Empty)?;
        if magic != MAGIC {
            return Err(DecodeError::BadMagic { found: magic });
        }
        let (version, body) =
            postcard::take_from_bytes::<u16>(rest).map_err(|_| DecodeError::BadVersion)?;
        if version > SCHEMA_VERSION {
            return Err(DecodeError::FutureVersion { found: version });
        }
        if version < MIN_SCHEMA_VERSION {
            return Err(DecodeError::UnsupportedVersion { found: version });
        }
        let (env, extra) =
            postcard::take_from_bytes::<Envelope>(body).map_err(|e| DecodeError::Body {
                version,
                reason: e.to_string(),
            })?;
        if !extra.is_empty() {
            return Err(DecodeError::TrailingBytes { extra: extra.len() });
        }
        Ok(env)
    }
}
