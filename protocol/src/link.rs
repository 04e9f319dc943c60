//! The link's own messages: the cloud's acknowledgement watermark, the store's presence (birth
//! and last will) and its periodic telemetry. All travel in the framing of [`crate::frame`].
//!
//! Presence carries a session counter that grows with every connection of a box: a last will
//! whose counter is lower than the latest birth's is stale and must not mark the box offline.

use serde::{Deserialize, Serialize};

use crate::command::Module;
use crate::frame::{framed, Magic};
use crate::ids::{BootId, StoreId};
use crate::time::Timestamp;

/// The cloud's end-to-end acknowledgement: every event of `store` up to `watermark` was
/// durably accepted by the OMS sink. Published retained on the store's ack topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub store: StoreId,
    pub watermark: u64,
    /// The cloud end saw a gap after `watermark`: the store should send again from there.
    pub resend: bool,
}

/// Online or offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceState {
    Online,
    Offline,
}

/// A box's birth (online) or last will (offline), retained on its status topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub store: StoreId,
    pub state: PresenceState,
    /// Grows with every connection of this box, across restarts.
    pub session: u64,
    /// The boot (daemon start) this connection belongs to.
    pub boot: BootId,
    /// When the connection was made (a will carries the time it was set up, not of the loss).
    pub at: Timestamp,
    /// Component versions, for example `("edge-daemon", "0.1.0")`.
    pub versions: Vec<(String, String)>,
    /// Modules enabled on the box.
    pub modules: Vec<Module>,
}

impl Presence {
    /// Whether `self` should replace `current` as what is known of the box: a newer session
    /// always wins, and within one session a will wins over its birth.
    pub fn supersedes(&self, current: &Presence) -> bool {
        self.session > current.session
            || (self.session == current.session
                && self.state == PresenceState::Offline
                && current.state == PresenceState::Online)
    }
}

/// One device behind the box, as telemetry reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    /// Stable configured name.
    pub name: String,
    pub kind: String,
    /// Short state, for example `online`, `paper_out`, `offline`.
    pub state: String,
    /// Set when the device needs attention.
    pub fault: Option<String>,
}

/// Periodic figures from a box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Telemetry {
    pub store: StoreId,
    pub session: u64,
    pub at: Timestamp,
    /// Events journaled but not yet acknowledged by the cloud.
    pub backlog: u64,
    /// Age of the oldest unacknowledged event, in milliseconds.
    pub oldest_unacked_ms: Option<u64>,
    pub last_seq: u64,
    pub watermark: u64,
    pub devices: Vec<DeviceState>,
    pub disk_free_bytes: Option<u64>,
    pub disk_total_bytes: Option<u64>,
    pub memory_rss_bytes: Option<u64>,
    pub uptime_secs: u64,
    /// Component versions, as in the birth, for example `("edge-daemon", "0.1.0")`.
    pub versions: Vec<(String, String)>,
}

framed!(Ack, Magic::Ack);
framed!(Presence, Magic::Presence);
framed!(Telemetry, Magic::Telemetry);

#[cfg(test)]
mod tests {
    use super::*;

    fn presence(state: PresenceState, session: u64) -> Presence {
        Presence {
            store: StoreId::new("s").unwrap(),
            state,
            session,
            boot: BootId::random(),
            at: Timestamp(0),
            versions: vec![],
            modules: vec![],
        }
    }

    #[test]
    fn a_late_will_does_not_supersede_a_newer_birth() {
        let birth2 = presence(PresenceState::Online, 2);
        let will1 = presence(PresenceState::Offline, 1);
        let will2 = presence(PresenceState::Offline, 2);
        let birth3 = presence(PresenceState::Online, 3);
        assert!(!will1.supersedes(&birth2));
        assert!(will2.supersedes(&birth2));
        assert!(birth3.supersedes(&will2));
        assert!(!birth2.supersedes(&will2));
    }
}
