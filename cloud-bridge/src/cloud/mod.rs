//! The cloud end: the consumer service, the command sender and the fleet view.
//!
//! - [`consume`]: `cloud-bridge run`, the shared-subscription consumer.
//! - [`forward`]: per-store dedupe, gap hold-back and resend requests (pure state).
//! - [`sink`]: the OMS sinks (JSON-lines file, HTTP webhook).
//! - [`send`]: `cloud-bridge command`.
//! - [`fleet`]: `cloud-bridge fleet`, presence and telemetry of every store.
//! - [`http`]: the Prometheus endpoint.

pub mod consume;
pub mod fleet;
pub mod forward;
pub mod http;
pub mod send;
pub mod sink;
