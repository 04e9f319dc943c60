//! Both ends of the store-to-cloud MQTT link (DESIGN.md section 4).
//!
//! # Layout
//! - [`journal`]: the [`journal::Journal`] trait the edge end is generic over; the daemon
//!   implements it over its store, so this crate never depends on the daemon.
//! - [`edge`]: the edge end: journal pump from the cloud's watermark, commands, presence,
//!   telemetry, reconnect with jittered exponential backoff.
//! - [`cloud`]: the cloud end: the consumer service, the command sender, the fleet view.
//! - [`mqtt`]: broker URLs, TLS files and client options, backoff; shared by both ends.
//! - The `cloud-bridge` binary (`src/main.rs`) is the operators' command line.
//!
//! # Delivery
//! The journal is the outbox. An event leaves the edge's backlog only when the cloud end
//! acknowledges a watermark at or past it, which it does only after its sink durably accepted
//! every event up to it. The broker's PUBACK moves nothing. After any reconnect or restart the
//! edge sends again from the watermark; the cloud end drops what it already forwarded (by
//! `(store, seq)`), so the sink sees each event once, in order per store.
//!
//! # Current limitations
//! - Several consumer instances split the load only on a broker that dispatches a shared
//!   subscription by topic (EMQX's `hash_topic` strategy), so that one store's events all reach
//!   one instance. Mosquitto hands messages round robin: each instance sees gaps, holds events
//!   back and asks for resends, and each deduplicates only against its own sink, so the same
//!   event can be forwarded once per instance. The OMS then sees it more than once and must
//!   drop repeats by the idempotency key (`STORE:SEQ`); file sinks are per instance. One
//!   instance per broker is exactly once on its own. See docs/CLOUD-LINK.md.
//! - The webhook sink has no local record; its recovery after a restart relies on the state
//!   file (`--state`) and on the OMS honouring the idempotency key for the few events that were
//!   accepted but not yet recorded.
//! - A store whose event the webhook refused for good (a 4xx other than 408/409/429) stays
//!   parked until the process restarts; there is no command to release it.
//! - Commands sent while a store is offline are lost (clean sessions); the sender reports a
//!   timeout and the operator sends again with the same id.
//! - Request/response with the cloud (online order look-up, gift-card authorisation) is not
//!   built.

pub mod cloud;
pub mod edge;
pub mod journal;
pub mod mqtt;
