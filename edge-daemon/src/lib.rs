//! The store edge daemon: one binary (`edge-daemon`) that runs the store box and serves the
//! technician's command line.
//!
//! # Layout
//! - [`store`]: the only code that calls sled: the journal, projections, idempotency records,
//!   group commit, the durable print queue, layout versions and `verify`.
//! - [`domain`]: pure business rules: catalog, pricing, tax, promotions, sales, returns, cash,
//!   reports. No I/O, no clock; property-tested.
//! - [`auth`]: pairing, tokens and roles, as decisions over the store.
//! - [`api`]: the LAN API (axum under `/v1`): authentication, idempotent writes, problem+json,
//!   the OpenAPI document, capability-module gates, device routes, the event WebSocket.
//! - [`devices`]: the device manager: devices under stable configured names, their workers,
//!   claims, the print-queue worker and simulators for the embedded default.
//! - [`link`]: the cloud link over the store (the edge end of the `cloud-bridge` crate).
//! - [`admin`]: the owner-only Unix socket through which the CLI reaches a running daemon.
//! - [`config`], [`cli`], [`daemon`], [`telemetry`], [`clock`]: settings, the command line,
//!   the `run` loop (systemd readiness, watchdog, graceful shutdown), logs and metrics, time.
//! - [`diag`]: technician diagnostics that talk to devices directly, daemon running or not.
//! - [`update_report`]: the box's update agent's transitions, journaled for the cloud link.
//!
//! # Invariants
//! A 2xx answer to a state-changing request means its events are on disk: they were appended,
//! projected and recorded under their idempotency key in one sled transaction, then flushed
//! (sled flush plus `fdatasync`, shared by concurrent writers). A retry with the same key gets
//! the first answer. `verify` rebuilds every projection from the journal and compares.
//!
//! # Current limitations
//! - `verify` on a running daemon holds the writer lock while it replays the journal, so writes
//!   wait for it (sled has no snapshots); on a large journal run it in a quiet hour.
//! - A request refused with a 4xx is not recorded under its idempotency key: it changed
//!   nothing, and a corrected retry with the same key is taken as a new request.
//! - The LAN API is plain HTTP; TLS is not served yet (see the README).
//! - Module-level limitations are listed in [`domain`], [`store`] and [`api::pos`].

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
pub mod update_report;
