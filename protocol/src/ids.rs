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
            return Err(IdError::TooLong {
                len: s.len(),
                max: Self::MAX_LEN,
            });
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
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

uuid_id!(
    /// One sale or return transaction; its receipt carries this id.
    SaleId
);
uuid_id!(
    /// A customer profile.
    CustomerId
);

uuid_id!(
    /// One command from the cloud; the store applies each id at most once.
    CommandId
);
uuid_id!(
    /// One boot of a box: new at every start of the daemon.
    BootId
);

impl From<PairingId> for TokenId {
    fn from(p: PairingId) -> TokenId {
        TokenId(p.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_id_accepts_the_allowed_alphabet() {
        let longest = "a".repeat(StoreId::MAX_LEN);
        for s in [
            "s",
            "store-0042",
            "eu_west_7",
            "0",
            "-",
            "_",
            "a-b_c-9",
            longest.as_str(),
        ] {
            let id = StoreId::new(s).unwrap();
            assert_eq!(id.as_str(), s);
            assert_eq!(id.to_string(), s);
            assert_eq!(s.parse::<StoreId>(), Ok(id));
        }
    }

    #[test]
    fn store_id_refuses_empty_and_too_long() {
        assert_eq!(StoreId::new(""), Err(IdError::Empty));
        let s = "a".repeat(StoreId::MAX_LEN + 1);
        assert_eq!(StoreId::new(s), Err(IdError::TooLong { len: 65, max: 64 }));
    }

    #[test]
    fn store_id_refuses_characters_unsafe_in_topics_paths_and_urls() {
        let cases = [
            ("Store", 'S'),
            ("store 1", ' '),
            ("a/b", '/'),
            ("a+", '+'),
            ("a#", '#'),
            ("a.b", '.'),
            ("..", '.'),
            ("a\0", '\0'),
            ("a\n", '\n'),
            ("magasin-é", 'é'),
            ("$share", '$'),
        ];
        for (s, found) in cases {
            assert_eq!(StoreId::new(s), Err(IdError::BadChar { found }), "{s:?}");
            assert!(s.parse::<StoreId>().is_err());
        }
    }

    #[test]
    fn store_id_deserialization_validates() {
        let ok: StoreId = serde_json::from_str(r#""store-1""#).unwrap();
        assert_eq!(ok.as_str(), "store-1");
        assert_eq!(serde_json::to_string(&ok).unwrap(), r#""store-1""#);

        for bad in [r#""""#, r#""Store-1""#, r#""a/b""#, r#""store+""#, "42"] {
            assert!(serde_json::from_str::<StoreId>(bad).is_err(), "{bad}");
        }
        let long = format!("\"{}\"", "x".repeat(65));
        assert!(serde_json::from_str::<StoreId>(&long).is_err());

        // The binary codec goes through the same check.
        let good = postcard::to_stdvec("store-1").unwrap();
        assert_eq!(postcard::from_bytes::<StoreId>(&good), Ok(ok));
        for bad in ["", "Store-1", "a/b", "a b"] {
            let bytes = postcard::to_stdvec(bad).unwrap();
            assert!(postcard::from_bytes::<StoreId>(&bytes).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn uuid_ids_parse_and_display_round_trip() {
        let text = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        let id: EventId = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
        assert_eq!(id.as_bytes()[0], 0x67);
        let t: TokenId = text.parse().unwrap();
        let p: PairingId = text.parse().unwrap();
        assert_eq!(TokenId::from(p), t);
        assert_eq!(
            "not-a-uuid".parse::<PairingId>(),
            Err(IdError::NotUuid("not-a-uuid".to_owned()))
        );
    }

    #[test]
    fn random_ids_differ() {
        assert_ne!(EventId::random(), EventId::random());
        assert_eq!(EventId::random().0.get_version_num(), 4);
    }
}
