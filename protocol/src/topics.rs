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

/// Every store's retained status, for the fleet view.
pub fn all_status() -> String {
    format!("{ROOT}/+/status")
}

/// Every store's telemetry, for the fleet view.
pub fn all_telemetry() -> String {
    format!("{ROOT}/+/telemetry")
}

/// The store a topic of this layout belongs to, or `None` for a topic outside it (including one
/// whose store level is not a valid store id).
pub fn store_of(topic: &str) -> Option<StoreId> {
    let mut levels = topic.split('/');
    if levels.next() != Some(ROOT) {
        return None;
    }
    let store = StoreId::new(levels.next()?).ok()?;
    levels.next()?;
    levels.next().is_none().then_some(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_strings_are_exact() {
        let s = StoreId::new("store-0042").unwrap();
        assert_eq!(events(&s), "store/store-0042/events");
        assert_eq!(ack(&s), "store/store-0042/ack");
        assert_eq!(commands(&s), "store/store-0042/commands");
        assert_eq!(command_results(&s), "store/store-0042/command-results");
        assert_eq!(status(&s), "store/store-0042/status");
        assert_eq!(telemetry(&s), "store/store-0042/telemetry");
        assert_eq!(all_events_shared("oms"), "$share/oms/store/+/events");
        assert_eq!(all_status(), "store/+/status");
        assert_eq!(all_telemetry(), "store/+/telemetry");
    }

    #[test]
    fn store_of_reads_the_store_level_only_from_this_layout() {
        let s = StoreId::new("store-0042").unwrap();
        assert_eq!(store_of(&status(&s)), Some(s.clone()));
        assert_eq!(store_of(&events(&s)), Some(s));
        for bad in [
            "",
            "store",
            "store/x",
            "other/s/status",
            "store/S/status",
            "store/a/b/c",
        ] {
            assert_eq!(store_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn shared_subscription_matches_every_store_events_topic() {
        let filter = all_events_shared("g");
        let (_, pattern) = filter.split_once("/g/").unwrap();
        let s = StoreId::new("a_b-1").unwrap();
        let topic = events(&s);
        let levels: Vec<_> = topic.split('/').collect();
        let wanted: Vec<_> = pattern.split('/').collect();
        assert_eq!(levels.len(), wanted.len());
        assert!(levels.iter().zip(&wanted).all(|(l, w)| *w == "+" || l == w));
    }
}
