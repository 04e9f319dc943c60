//! The device manager: devices under stable names from configuration, their workers, the
//! durable print queue, claims and live events.
//!
//! # Layout
//! - [`config`]: the `[devices]` section.
//! - [`hub`]: the event channel and claims (scans and tag reads go to the claiming client).
//! - [`manager`]: starts workers and simulators; what the API calls.
//! - [`printer`]: the receipt printer worker (status, print queue, drawer kick and sensor).
//! - [`document`]: receipt documents as clients send them (JSON).
//! - [`state`]: a device's state and counters.

pub mod config;
pub mod document;
pub mod hub;
pub mod manager;
pub mod printer;
pub mod state;
