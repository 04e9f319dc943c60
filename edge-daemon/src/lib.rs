//! The store edge daemon.
//!
//! # Layout
//! - [`store`]: the only code that calls sled: the journal, projections, idempotency records,
//!   group commit, layout versions and `verify`.
//! - [`link`]: the cloud link over the store (the edge end of the `cloud-bridge` crate).
//! - [`domain`]: pure business rules: catalog, pricing, tax, promotions, sales, returns, cash,
//!   reports.
pub mod admin;
pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod devices;
pub mod diag;
pub mod domain;
pub mod link;
pub mod store;
pub mod telemetry;
