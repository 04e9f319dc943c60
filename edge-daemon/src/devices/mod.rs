//! The device manager: devices under stable names from configuration, their workers, the
//! durable print queue, claims and live events.
//!
//! # Layout
//! - [`config`]: the `[devices]` section.
//! - [`gpio_drawer`]: the worker of a cash drawer on the box's own GPIO lines.
//! - [`hub`]: the event channel and claims (scans and tag reads go to the claiming client).
//! - [`inflight`]: per-idempotency-key guards, so a device action never runs twice.
//! - [`manager`]: starts workers and simulators; what the API calls.
//! - [`printer`]: the printer worker, over ESC/POS receipt and ZPL label backends (status,
//!   print queue, drawer kick and sensor).
//! - [`readers`]: serial scanner and LLRP RFID reader workers.
//! - [`views`]: JSON views of scans, EPCs and aggregated tag reads.
//! - [`document`]: receipt documents as clients send them (JSON).
//! - [`label`]: label documents (JSON) turned into ZPL.
//! - [`state`]: a device's state and counters.

pub mod config;
pub mod document;
pub mod gpio_drawer;
pub mod hub;
pub mod inflight;
pub mod label;
pub mod manager;
pub mod printer;
pub mod readers;
pub mod state;
pub mod views;
