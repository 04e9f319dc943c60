//! Both ends of the store-to-cloud MQTT link.
//!
//! The edge end will pump a store's journal to the broker and apply cloud commands; it is generic
//! over a small journal trait so that it never depends on the daemon. The cloud end will consume
//! all stores' events through a shared subscription.
//!
//! # Current limitations
//! - The link is not built yet; it is tracked as its own issue. The daemon accepts `--mqtt` and
//!   records the URL, but does not connect.
