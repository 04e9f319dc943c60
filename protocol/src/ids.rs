//! Identifiers. Each is a distinct type so that a token id cannot be passed where a pairing id
//! is expected.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("store id is empty")]
    Empty,
    #[error("store id is {len} bytes long; the limit is {max}")]
    TooLong { len: usize, max: usize },
    #[error("store id contains {found:?}; allowed are a-z, 0-9, '-' and '_'")]
    BadChar { found: char },
    #[error("not a UUID: {0}")]
    NotUuid(String),
}

/// A store's identity, as provisioned on the box. Lower-case ASCII letters, digits, '-' and '_',
/// 1 to 64 bytes, so that it is safe in MQTT topics, file names and URLs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct StoreId(String);

impl StoreId {
    /// The longest store id accepted.
    pub const MAX_LEN: usize = 64;

    /// Validates `s` as a store id.
    pub fn new(s: impl Into<String>) -> Result<StoreId, IdError> {
        let s = s.into();
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.len() > Self::MAX_LEN {
            return Err(IdError::TooLong { len: s.len(), max: Self::MAX_LEN });
        }
        if let Some(c) =
            s.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
        {
            return Err(IdError::BadChar { found: c });
        }
        Ok(StoreId(s))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for StoreId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        StoreId::new(s).map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for StoreId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for StoreId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StoreId::new(s)
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new random (version 4) id.
            pub fn random() -> Self {
                $name(Uuid::new_v4())
            }

            /// The id's 16 bytes, for keys.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name).map_err(|_| IdError::NotUuid(s.to_owned()))
            }
        }
    };
}

uuid_id!(
    /// One journal event, unique across all stores.
    EventId
);
uuid_id!(
    /// A bearer token's public identity (never the secret).
    TokenId
);
uuid_id!(
    /// One pairing handshake. An approved pairing's token id equals its pairing id.
    PairingId
);

impl From<PairingId> for TokenId {
    fn from(p: PairingId) -> TokenId {
        TokenId(p.0)
    }
}
