//! The device manager: devices under stable names from configuration, their workers, the
//! durable print queue, claims and live events.
//!
//! # Layout
//! - [`config`]: the `[devices]` section.
//! - [`hub`]: the event channel and claims (scans and tag reads go to the claiming client).
pub mod config;
pub mod hub;
