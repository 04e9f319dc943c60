//! The state of one device as the API shows it.

use std::sync::{Arc, Mutex};

use protocol::Timestamp;
use serde::Serialize;

use crate::clock::now;

/// Counters since the daemon started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub jobs_printed: u64,
    pub scans: u64,
    pub tag_reads: u64,
    pub state_changes: u64,
}

/// A device's last known condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceState {
    /// `unknown`, `online`, `offline`, `paper_low`, `paper_out`, `cover_open`, `error`, `open`,
    /// `closed`, `left_open` (a drawer open longer than the alarm time), …
    pub state: String,
    pub detail: Option<String>,
    pub since: Timestamp,
    pub stats: Stats,
}

impl DeviceState {
    /// A device not yet heard from.
    pub fn new() -> DeviceState {
        DeviceState {
            state: "unknown".into(),
            detail: None,
            since: now(),
            stats: Stats::default(),
        }
    }

    /// Sets the condition; true if it changed.
    pub fn set(&mut self, state: &str, detail: Option<String>) -> bool {
        if self.state == state && self.detail == detail {
            return false;
        }
        self.state = state.to_owned();
        self.detail = detail;
        self.since = now();
        self.stats.state_changes += 1;
        true
    }
}

impl Default for DeviceState {
    fn default() -> Self {
        DeviceState::new()
    }
}

/// A device's state, shared between its worker and the API.
pub type Shared = Arc<Mutex<DeviceState>>;
