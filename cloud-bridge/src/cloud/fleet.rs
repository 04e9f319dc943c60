//! `cloud-bridge fleet`: every store's presence and telemetry, live.
//!
//! Subscribes to every store's retained status and its telemetry. A presence replaces what is
//! known only if it [`Presence::supersedes`] it, so a late last will of an older session never
//! marks a reconnected store offline.

use std::collections::BTreeMap;

use protocol::link::{Presence, PresenceState, Telemetry};
use protocol::{topics, StoreId};
use serde::Serialize;

/// What the fleet view knows of one store.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreView {
    pub store: String,
    pub online: bool,
    /// Time (ms since the epoch) of the presence that set the state.
    pub since: Option<i64>,
    pub session: u64,
    pub boot: Option<String>,
    pub versions: BTreeMap<String, String>,
    pub modules: Vec<String>,
    pub backlog: Option<u64>,
    pub oldest_unacked_ms: Option<u64>,
    pub watermark: Option<u64>,
    pub last_seq: Option<u64>,
    /// Devices with a fault: name and fault.
    pub device_faults: Vec<(String, String)>,
    pub telemetry_at: Option<i64>,
    #[serde(skip)]
    presence: Option<Presence>,
}

/// The whole fleet, by store.
#[derive(Debug, Default)]
pub struct Fleet {
    stores: BTreeMap<StoreId, StoreView>,
    /// Messages that did not decode or came on a topic outside the layout.
    pub malformed: u64,
}

impl Fleet {
    /// Takes one message from the broker.
    pub fn on_message(&mut self, topic: &str, payload: &[u8]) {
        let Some(store) = topics::store_of(topic) else {
            self.malformed += 1;
            return;
        };
        if topic == topics::status(&store) {
            match Presence::decode(payload) {
                Ok(p) if p.store == store => self.on_presence(p),
                _ => self.malformed += 1,
            }
        } else if topic == topics::telemetry(&store) {
            match Telemetry::decode(payload) {
                Ok(t) if t.store == store => self.on_telemetry(t),
                _ => self.malformed += 1,
            }
        }
    }

    fn view(&mut self, store: &StoreId) -> &mut StoreView {
        self.stores
            .entry(store.clone())
            .or_insert_with(|| StoreView {
                store: store.to_string(),
                ..StoreView::default()
            })
    }

    fn on_presence(&mut self, p: Presence) {
        let v = self.view(&p.store);
        if v.presence.as_ref().is_some_and(|cur| !p.supersedes(cur)) {
            tracing::debug!(store = %p.store, session = p.session, "stale presence ignored");
            return;
        }
        v.online = p.state == PresenceState::Online;
        v.since = Some(p.at.millis());
        v.session = p.session;
        v.boot = Some(p.boot.to_string());
        v.versions = p.versions.iter().cloned().collect();
        v.modules = p.modules.iter().map(|m| m.to_string()).collect();
        v.presence = Some(p);
    }

    fn on_telemetry(&mut self, t: Telemetry) {
        let v = self.view(&t.store);
        v.backlog = Some(t.backlog);
        v.oldest_unacked_ms = t.oldest_unacked_ms;
        v.watermark = Some(t.watermark);
        v.last_seq = Some(t.last_seq);
        v.telemetry_at = Some(t.at.millis());
        if !t.versions.is_empty() {
            // The newest report wins: an update shows before the next birth.
            v.versions = t.versions.into_iter().collect();
        }
        v.device_faults = t
            .devices
            .into_iter()
            .filter_map(|d| d.fault.map(|f| (d.name, f)))
            .collect();
    }

    /// Every store, ordered by id.
    pub fn stores(&self) -> Vec<StoreView> {
        self.stores.values().cloned().collect()
    }

    /// One store.
    pub fn get(&self, store: &StoreId) -> Option<&StoreView> {
        self.stores.get(store)
    }

    /// A fixed-width table for operators.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<24} {:<8} {:>14} {:>8} {:>10} {:>12} {}\n",
            "STORE", "STATE", "SINCE(ms)", "SESSION", "BACKLOG", "OLDEST(ms)", "FAULTS"
        );
        for v in self.stores.values() {
            let faults: Vec<String> = v
                .device_faults
                .iter()
                .map(|(d, f)| format!("{d}: {f}"))
                .collect();
            out.push_str(&format!(
                "{:<24} {:<8} {:>14} {:>8} {:>10} {:>12} {}\n",
                v.store,
                if v.online { "online" } else { "offline" },
                v.since.map(|s| s.to_string()).unwrap_or_default(),
                v.session,
                v.backlog.map(|b| b.to_string()).unwrap_or_default(),
                v.oldest_unacked_ms
                    .map(|b| b.to_string())
                    .unwrap_or_default(),
                faults.join(", ")
            ));
        }
        out
    }

    /// Prometheus text of the same figures.
    pub fn metrics(&self) -> String {
        let mut out = String::from(
            "# TYPE fleet_store_online gauge\n# TYPE fleet_store_backlog gauge\n\
             # TYPE fleet_store_oldest_unacked_seconds gauge\n\
             # TYPE fleet_store_device_faults gauge\n",
        );
        let online = self.stores.values().filter(|v| v.online).count();
        out.push_str(&format!("fleet_stores_online {online}\n"));
        out.push_str(&format!("fleet_stores_known {}\n", self.stores.len()));
        out.push_str(&format!(
            "fleet_messages_malformed_total {}\n",
            self.malformed
        ));
        for v in self.stores.values() {
            let s = &v.store;
            out.push_str(&format!(
                "fleet_store_online{{store=\"{s}\"}} {}\n",
                u8::from(v.online)
            ));
            if let Some(b) = v.backlog {
                out.push_str(&format!("fleet_store_backlog{{store=\"{s}\"}} {b}\n"));
            }
            if let Some(o) = v.oldest_unacked_ms {
                let secs = o as f64 / 1000.0;
                out.push_str(&format!(
                    "fleet_store_oldest_unacked_seconds{{store=\"{s}\"}} {secs}\n"
                ));
            }
            let faults = v.device_faults.len();
            out.push_str(&format!(
                "fleet_store_device_faults{{store=\"{s}\"}} {faults}\n"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::link::DeviceState;
    use protocol::{BootId, Timestamp};

    fn presence(state: PresenceState, session: u64) -> Presence {
        Presence {
            store: StoreId::new("s1").unwrap(),
            state,
            session,
            boot: BootId::random(),
            at: Timestamp(session as i64),
            versions: vec![("edge-daemon".into(), "0.1.0".into())],
            modules: vec![],
        }
    }

    #[test]
    fn a_late_will_does_not_mark_a_reconnected_store_offline() {
        let s = StoreId::new("s1").unwrap();
        let topic = topics::status(&s);
        let mut f = Fleet::default();
        f.on_message(&topic, &presence(PresenceState::Online, 1).encode());
        f.on_message(&topic, &presence(PresenceState::Online, 2).encode());
        f.on_message(&topic, &presence(PresenceState::Offline, 1).encode());
        assert!(f.get(&s).unwrap().online);
        assert_eq!(f.get(&s).unwrap().session, 2);
        f.on_message(&topic, &presence(PresenceState::Offline, 2).encode());
        assert!(!f.get(&s).unwrap().online);
        assert!(f.metrics().contains("fleet_store_online{store=\"s1\"} 0"));
    }

    #[test]
    fn malformed_messages_are_counted_not_applied() {
        let s = StoreId::new("s1").unwrap();
        let mut f = Fleet::default();
        f.on_message(&topics::status(&s), b"\xff\x00junk");
        f.on_message(&topics::telemetry(&s), b"");
        f.on_message("store/NOT VALID/status", b"");
        // A presence of another store on this store's topic is refused.
        let other = Presence {
            store: StoreId::new("s2").unwrap(),
            ..presence(PresenceState::Online, 1)
        };
        f.on_message(&topics::status(&s), &other.encode());
        assert_eq!(f.malformed, 4);
        assert!(f.stores().is_empty());
    }

    #[test]
    fn telemetry_shows_backlog_and_faults() {
        let s = StoreId::new("s1").unwrap();
        let mut f = Fleet::default();
        let t = Telemetry {
            store: s.clone(),
            session: 1,
            at: Timestamp(5),
            backlog: 7,
            oldest_unacked_ms: Some(1500),
            last_seq: 10,
            watermark: 3,
            devices: vec![DeviceState {
                name: "receipt".into(),
                kind: "printer".into(),
                state: "paper_out".into(),
                fault: Some("paper out".into()),
            }],
            disk_free_bytes: None,
            disk_total_bytes: None,
            memory_rss_bytes: None,
            uptime_secs: 1,
            versions: vec![("edge-daemon".into(), "9.9.9".into())],
        };
        f.on_message(&topics::telemetry(&s), &t.encode());
        let v = f.get(&s).unwrap();
        assert_eq!(v.backlog, Some(7));
        assert_eq!(v.versions["edge-daemon"], "9.9.9");
        assert_eq!(
            v.device_faults,
            vec![("receipt".into(), "paper out".into())]
        );
        assert!(f.table().contains("paper out"));
        assert!(f
            .metrics()
            .contains("fleet_store_oldest_unacked_seconds{store=\"s1\"} 1.5"));
    }
}
