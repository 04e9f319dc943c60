//! The versioned framing shared by every message on the wire.
//!
//! | bytes | meaning |
//! |---|---|
//! | 1 | magic byte: which message type follows |
//! | varint | schema version (`u16`, postcard varint) |
//! | rest | postcard encoding of the message |
//!
//! Each message type has its own magic byte (see [`Magic`]), so that a command is never misread
//! as an acknowledgement. The schema version is shared by every type and is the one in
//! [`crate::envelope`]: a newer version is refused as [`FrameError::FutureVersion`].

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::envelope::{MAX_ENCODED_LEN, MIN_SCHEMA_VERSION, SCHEMA_VERSION};

/// The magic byte of each framed message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Magic {
    /// [`crate::Envelope`].
    Envelope = 0xE5,
    /// [`crate::command::Command`].
    Command = 0xC1,
    /// [`crate::command::CommandResult`].
    CommandResult = 0xC2,
    /// [`crate::link::Ack`].
    Ack = 0xA1,
    /// [`crate::link::Presence`].
    Presence = 0xB1,
    /// [`crate::link::Telemetry`].
    Telemetry = 0xD1,
}

/// Why bytes could not be decoded into a framed message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("empty message")]
    Empty,
    #[error("message is {len} bytes; the limit is {max}")]
    TooLarge { len: usize, max: usize },
    #[error("bad magic byte {found:#04x} (expected {expected:#04x}): not a {what}")]
    BadMagic {
        found: u8,
        expected: u8,
        what: &'static str,
    },
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

/// Gives a message type `encode` and `decode` in the framing with its magic byte.
macro_rules! framed {
    ($ty:ty, $magic:expr) => {
        impl $ty {
            /// Encodes with the current schema version.
            pub fn encode(&self) -> Vec<u8> {
                $crate::frame::encode($magic, self)
            }

            /// Decodes bytes from the broker. Never panics.
            pub fn decode(bytes: &[u8]) -> Result<Self, $crate::frame::FrameError> {
                $crate::frame::decode($magic, bytes)
            }
        }
    };
}
pub(crate) use framed;

/// Encodes `msg` behind `magic` and the current schema version.
pub fn encode<T: Serialize>(magic: Magic, msg: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(magic as u8);
    // A u16 and derived structs of owned data cannot fail to serialize into a Vec.
    out.extend_from_slice(&postcard::to_stdvec(&SCHEMA_VERSION).unwrap_or_default());
    out.extend_from_slice(&postcard::to_stdvec(msg).unwrap_or_default());
    out
}

/// Decodes bytes from anywhere (disk, broker, fuzzer) as a `T` framed with `magic`. Never
/// panics.
pub fn decode<T: DeserializeOwned>(magic: Magic, bytes: &[u8]) -> Result<T, FrameError> {
    if bytes.len() > MAX_ENCODED_LEN {
        return Err(FrameError::TooLarge {
            len: bytes.len(),
            max: MAX_ENCODED_LEN,
        });
    }
    let (&found, rest) = bytes.split_first().ok_or(FrameError::Empty)?;
    if found != magic as u8 {
        return Err(FrameError::BadMagic {
            found,
            expected: magic as u8,
            what: magic.name(),
        });
    }
    let (version, body) =
        postcard::take_from_bytes::<u16>(rest).map_err(|_| FrameError::BadVersion)?;
    if version > SCHEMA_VERSION {
        return Err(FrameError::FutureVersion { found: version });
    }
    if version < MIN_SCHEMA_VERSION {
        return Err(FrameError::UnsupportedVersion { found: version });
    }
    let (msg, extra) = postcard::take_from_bytes::<T>(body).map_err(|e| FrameError::Body {
        version,
        reason: e.to_string(),
    })?;
    if !extra.is_empty() {
        return Err(FrameError::TrailingBytes { extra: extra.len() });
    }
    Ok(msg)
}

impl Magic {
    /// The message type's name, for errors.
    pub fn name(self) -> &'static str {
        match self {
            Magic::Envelope => "envelope",
            Magic::Command => "command",
            Magic::CommandResult => "command result",
            Magic::Ack => "acknowledgement",
            Magic::Presence => "presence",
            Magic::Telemetry => "telemetry",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_are_distinct() {
        let all = [
            Magic::Envelope,
            Magic::Command,
            Magic::CommandResult,
            Magic::Ack,
            Magic::Presence,
            Magic::Telemetry,
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(*a as u8, *b as u8, "{a:?} and {b:?}");
            }
        }
        assert_eq!(Magic::Envelope as u8, crate::envelope::MAGIC);
    }

    #[test]
    fn decode_refuses_each_malformation_with_its_error() {
        let good = encode(Magic::Ack, &7u64);
        assert_eq!(decode::<u64>(Magic::Ack, &good), Ok(7));
        assert_eq!(decode::<u64>(Magic::Ack, &[]), Err(FrameError::Empty));
        assert!(matches!(
            decode::<u64>(Magic::Command, &good),
            Err(FrameError::BadMagic {
                found: 0xA1,
                expected: 0xC1,
                ..
            })
        ));
        assert_eq!(
            decode::<u64>(Magic::Ack, &[0xA1]),
            Err(FrameError::BadVersion)
        );
        assert_eq!(
            decode::<u64>(Magic::Ack, &[0xA1, 0x02, 0x07]),
            Err(FrameError::FutureVersion { found: 2 })
        );
        assert_eq!(
            decode::<u64>(Magic::Ack, &[0xA1, 0x00, 0x07]),
            Err(FrameError::UnsupportedVersion { found: 0 })
        );
        assert!(matches!(
            decode::<u64>(Magic::Ack, &[0xA1, 0x01]),
            Err(FrameError::Body { version: 1, .. })
        ));
        assert_eq!(
            decode::<u64>(Magic::Ack, &[0xA1, 0x01, 0x07, 0x00]),
            Err(FrameError::TrailingBytes { extra: 1 })
        );
        let big = vec![0xA1; MAX_ENCODED_LEN + 1];
        assert!(matches!(
            decode::<u64>(Magic::Ack, &big),
            Err(FrameError::TooLarge { .. })
        ));
    }
}
