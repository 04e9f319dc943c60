//! The small journal trait the edge end is generic over, so that it never depends on the
//! daemon. The daemon implements it over its sled store; tests can implement it over anything
//! durable.

use protocol::command::{Command, CommandResult, Module};
use protocol::link::DeviceState;
use protocol::StoreId;

/// One journal entry as stored: its sequence and its encoded [`protocol::Envelope`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    pub seq: u64,
    pub bytes: Vec<u8>,
}

/// What the edge end needs from the store. Every method may block (disk I/O); the edge end
/// calls them from blocking threads.
pub trait Journal: Send + Sync + 'static {
    type Error: std::error::Error + Send + Sync + 'static;

    /// The store whose journal this is.
    fn store_id(&self) -> StoreId;

    /// Entries with sequence greater than `after`, in order, at most `limit`.
    fn events_after(&self, after: u64, limit: usize) -> Result<Vec<RawEvent>, Self::Error>;

    /// The sequence of the newest entry (0 if empty).
    fn last_seq(&self) -> Result<u64, Self::Error>;

    /// The cloud's acknowledged watermark, durably stored (0 if none yet).
    fn watermark(&self) -> Result<u64, Self::Error>;

    /// Stores a new watermark durably. Never called with a lower value than the current one.
    fn set_watermark(&self, seq: u64) -> Result<(), Self::Error>;

    /// A new session counter, durably greater than every one returned before.
    fn next_session(&self) -> Result<u64, Self::Error>;

    /// Applies `cmd` exactly once: records its id in the same transaction as its effect, and
    /// for an id seen before returns the first result without applying it again. A command the
    /// store refuses is recorded with a [`protocol::command::Outcome::Rejected`] result and
    /// changes nothing else.
    fn apply_command(&self, cmd: &Command) -> Result<CommandResult, Self::Error>;

    /// Modules enabled now, for the presence message.
    fn modules(&self) -> Vec<Module> {
        Vec::new()
    }

    /// Devices' states, for telemetry.
    fn devices(&self) -> Vec<DeviceState> {
        Vec::new()
    }

    /// Free and total bytes of the disk holding the journal, for telemetry.
    fn disk(&self) -> Option<(u64, u64)> {
        None
    }
}
