//! Commands from the cloud to one store, and their results.
//!
//! A [`Command`] carries an id; the store applies each id at most once, in the same
//! transaction that records the id, and answers with a [`CommandResult`] (the same result
//! again for a repeated id). Both travel in the shared framing of [`crate::frame`].
//!
//! Variants are encoded by position: append new variants at the end, never reorder or remove.

use serde::{Deserialize, Serialize};

use crate::frame::{framed, Magic};
use crate::ids::{CommandId, StoreId};
use crate::time::Timestamp;

/// One command for one store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub id: CommandId,
    /// The store it is meant for; a store refuses commands for another store.
    pub store: StoreId,
    pub issued_at: Timestamp,
    pub body: CommandBody,
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandBody {
    /// Switch a capability module on or off.
    SetModule { module: Module, enabled: bool },
    /// Set one configuration value; the store decides which keys it accepts.
    SetConfig { key: String, value: String },
    /// A catalog snapshot or delta, interpreted by the store's catalog.
    Catalog(CatalogPayload),
    /// The fleet's redemptions of a coupon as the cloud counted them: the box's limits count
    /// these plus its own redemptions the cloud had not seen yet.
    CouponUsage(CouponUsage),
}

/// Redemptions of one coupon across every store and channel, as the cloud knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponUsage {
    pub code: String,
    /// Every redemption the cloud knows of.
    pub total: u32,
    /// The same, per customer that redeemed it.
    pub per_customer: Vec<(crate::ids::CustomerId, u32)>,
    /// The count includes this store's journal up to and including this sequence; the
    /// store adds its own redemptions after it.
    pub through_seq: u64,
}

/// The capability modules, one per rollout phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    Pos,
    PosPlus,
    Omni,
    OmniPlus,
}

impl Module {
    /// Every module, in a fixed order.
    pub const ALL: [Module; 4] = [Module::Pos, Module::PosPlus, Module::Omni, Module::OmniPlus];

    /// The name used in configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Module::Pos => "pos",
            Module::PosPlus => "pos_plus",
            Module::Omni => "omni",
            Module::OmniPlus => "omni_plus",
        }
    }
}

impl std::fmt::Display for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Module {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Module::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!("unknown module {s:?} (expected pos, pos_plus, omni, omni_plus)")
            })
    }
}

/// Whether a catalog payload replaces the catalog or changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogKind {
    Snapshot,
    Delta,
    /// Part `part` (from 0, in order) of a snapshot sent in `parts` parts, for catalogs larger
    /// than one MQTT packet. The snapshot takes effect with its last part.
    SnapshotPart {
        part: u32,
        parts: u32,
    },
}

/// A catalog change, carried opaquely: the JSON document is interpreted by the store's catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogPayload {
    pub kind: CatalogKind,
    /// The catalog version this payload produces.
    pub version: u64,
    /// For a delta, the version it applies to.
    pub base_version: Option<u64>,
    /// The catalog document, JSON text.
    pub json: String,
}

/// The answer to one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    pub id: CommandId,
    /// The store that answers.
    pub store: StoreId,
    pub at: Timestamp,
    pub outcome: Outcome,
}

/// Applied, or refused with a reason (and nothing changed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    Rejected { reason: String },
}

framed!(Command, Magic::Command);
framed!(CommandResult, Magic::CommandResult);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameError;

    #[test]
    fn module_names_round_trip() {
        for m in Module::ALL {
            assert_eq!(m.as_str().parse::<Module>(), Ok(m));
        }
        assert!("POS".parse::<Module>().is_err());
    }

    #[test]
    fn a_command_is_not_a_result() {
        let c = Command {
            id: CommandId::random(),
            store: StoreId::new("s").unwrap(),
            issued_at: Timestamp(1),
            body: CommandBody::SetConfig {
                key: "k".into(),
                value: "v".into(),
            },
        };
        let bytes = c.encode();
        assert_eq!(Command::decode(&bytes), Ok(c));
        assert!(matches!(
            CommandResult::decode(&bytes),
            Err(FrameError::BadMagic { .. })
        ));
    }
}
