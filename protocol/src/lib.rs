//! Wire and domain messages of the store edge appliance.
//!
//! Everything here is plain data: no I/O, no clocks, no randomness. The daemon, the cloud bridge
//! and the tests all speak these types.
//!
//! # Layout
//! - [`ids`]: identifiers (store, event, token, pairing) and their validation.
//! - [`money`]: [`Money`], integer minor units plus an ISO 4217 currency, checked arithmetic.
//! - [`time`]: [`Timestamp`], milliseconds since the Unix epoch (UTC).
//! - [`event`]: [`Event`], every state change the store journals.
//! - [`pos`]: the point-of-sale facts inside events: cart changes, sale and return records.
//! - [`envelope`]: [`Envelope`] and its versioned postcard codec ([`Envelope::encode`],
//!   [`Envelope::decode`]).
//! - [`frame`]: the versioned framing every message shares (magic byte per type, schema
//!   version, postcard body) and its typed [`FrameError`].
//! - [`command`]: commands from the cloud to a store and their results.
//! - [`link`]: the link's own messages: acknowledgement watermark, presence, telemetry.
//! - [`topics`]: every MQTT topic name, built in one place.
//!
//! # Compatibility
//! The envelope starts with a magic byte and a schema version. A decoder refuses versions newer
//! than it knows with [`DecodeError::FutureVersion`] instead of misreading them. New event
//! variants are only ever appended at the end of [`Event`], so older encodings keep their
//! meaning; golden byte vectors under `tests/golden/` pin the wire format.
//!
//! # Current limitations
//! - Only schema version 1 exists; the decoder is written to dispatch on the version so that a
//!   version 2 body can be added beside it.
//! - [`Envelope::encode`] does not enforce [`envelope::MAX_ENCODED_LEN`]: an event with
//!   oversized strings encodes, and then fails to decode with `TooLarge`. The daemon's store
//!   checks the encoded size before it journals an event and refuses a larger one (`413` over
//!   the LAN API), so no such envelope reaches the journal or the link.
//! - Encodings are not canonical: like postcard, the decoder accepts over-long varints, so one
//!   envelope has several valid byte forms. Deduplicate by [`EventId`] or `(store, seq)`, never
//!   by a hash of the bytes.

pub mod command;
pub mod envelope;
pub mod event;
pub mod frame;
pub mod ids;
pub mod link;
pub mod money;
pub mod pos;
pub mod time;
pub mod topics;

pub use envelope::{DecodeError, Envelope, SCHEMA_VERSION};
pub use event::{Event, Role};
pub use frame::FrameError;
pub use ids::{BootId, CommandId};
pub use ids::{CustomerId, EventId, IdError, PairingId, SaleId, StoreId, TokenId};
pub use money::{Currency, Money, MoneyError};
pub use time::Timestamp;
