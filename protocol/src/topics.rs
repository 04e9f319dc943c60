//! MQTT topic names. Every topic the edge or the cloud uses is built here and nowhere else.
//!
//! Layout: `store/{store_id}/{channel}`; the cloud consumes events through the shared
//! subscription `$share/{group}/store/+/events`.

use crate::ids::StoreId;

/// The root of every store's topics.
pub const ROOT: &str = "store";

/// Events from the journal, postcard-encoded [`crate::Envelope`]s, QoS 1, in journal order.
pub fn events(store: &StoreId) -> String {
    format!("{ROOT}/{store}/events")
}

/// The cloud's acknowledgement watermark for a store (retained).
pub fn ack(store: &StoreId) -> String {
    format!("{ROOT}/{store}/ack")
}

/// Commands from the cloud to a store.
pub fn commands(store: &StoreId) -> String {
    format!("{ROOT}/{store}/commands")
}

/// Results of commands, published by the store.
pub fn command_results(store: &StoreId) -> String {
    format!("{ROOT}/{store}/command-results")
}

/// Retained presence: birth and last will.
pub fn status(store: &StoreId) -> String {
    format!("{ROOT}/{store}/status")
}

/// Periodic telemetry.
pub fn telemetry(store: &StoreId) -> String {
    format!("{ROOT}/{store}/telemetry")
}

/// The shared subscription the cloud end consumes all stores' events through.
pub fn all_events_shared(group: &str) -> String {
    format!("$share/{group}/{ROOT}/+/events")
}
