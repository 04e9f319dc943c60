//! The events a store journals. Each variant is one state change.
//!
//! Variants are encoded by position: append new variants at the end, never reorder or remove.

use serde::{Deserialize, Serialize};

use crate::ids::{CustomerId, PairingId, SaleId, TokenId};
use crate::money::{Currency, Money};
use crate::pos::{
    CartOp, CustomerProfile, ExchangeRecord, PriceBasis, ReturnRecord, SaleRecord, Settlement,
    TillMove,
};
use crate::time::Timestamp;

/// What a LAN client may do. Checked by the daemon on every authenticated request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sells, looks up, prints.
    Associate,
    /// Everything an associate does, plus approvals, overrides, pay-outs, pairing.
    Manager,
    /// Devices, diagnostics, the journal and metrics.
    Technician,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 3] = [Role::Associate, Role::Manager, Role::Technician];

    /// The name used in configuration, the API and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Associate => "associate",
            Role::Manager => "manager",
            Role::Technician => "technician",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?} (expected associate, manager or technician)")
            })
    }
}

/// Who caused a state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    /// A LAN client authenticated with this token.
    Token(TokenId),
    /// The local administration socket (root on the box).
    Admin,
    /// The device itself, before it holds a token (the pairing handshake).
    Device,
}

/// A state change in the store. The journal holds these inside an [`crate::Envelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A device asked to pair. Its token is inactive until a manager approves the code.
    PairingRequested {
        pairing: PairingId,
        /// Short code shown to the manager, six decimal digits.
        code: String,
        device_name: String,
        /// SHA-256 of the bearer token the device will use; the token itself is never stored.
        token_hash: [u8; 32],
        expires_at: Timestamp,
    },
    /// A manager approved a pairing; its token becomes active with this role.
    PairingApproved {
        pairing: PairingId,
        role: Role,
        by: Actor,
    },
    /// A manager refused a pairing; its token never becomes active.
    PairingRejected { pairing: PairingId, by: Actor },
    /// A token was issued directly (administration socket).
    TokenIssued {
        token: TokenId,
        role: Role,
        label: String,
        token_hash: [u8; 32],
        by: Actor,
    },
    /// A token was revoked; requests carrying it answer 401 from now on.
    TokenRevoked { token: TokenId, by: Actor },
    /// A catalog (products, prices, tax, promotions) was loaded: a full snapshot when
    /// `base_version` is `None`, else a delta on top of that version. `json` is the document.
    CatalogLoaded {
        version: u64,
        base_version: Option<u64>,
        json: String,
        by: Actor,
    },
    /// A cart was opened.
    SaleOpened {
        sale: SaleId,
        till: Option<String>,
        currency: Currency,
        by: Actor,
    },
    /// A cart in progress changed.
    SaleChanged { sale: SaleId, op: CartOp },
    /// A sale completed, fully paid: the transaction's one record.
    SaleCompleted { sale: SaleId, record: SaleRecord },
    /// A cart was abandoned before it completed.
    SaleVoided {
        sale: SaleId,
        reason: String,
        by: Actor,
    },
    /// Items of a completed sale were returned and refunded.
    ReturnCompleted {
        id: SaleId,
        original: SaleId,
        record: ReturnRecord,
    },
    /// A till was opened with a float.
    TillOpened {
        till: String,
        float: Money,
        by: Actor,
    },
    /// Cash was paid in, paid out or dropped to the safe.
    TillMovement {
        till: String,
        kind: TillMove,
        amount: Money,
        reason: String,
        by: Actor,
    },
    /// A till was counted and closed.
    TillClosed {
        till: String,
        counted: Money,
        expected: Money,
        by: Actor,
    },
    /// A customer profile was created or changed.
    CustomerSaved {
        customer: CustomerId,
        profile: CustomerProfile,
        by: Actor,
    },
    /// A customer profile was erased; sales keep only the id.
    CustomerErased { customer: CustomerId, by: Actor },
    /// A customer asked for a completed sale's receipt by email; the cloud sends it.
    ReceiptEmailRequested { sale: SaleId, to: String, by: Actor },
    /// A sale completed, fully paid, with its settlement (offline ledger, cash rounding,
    /// exemption): the transaction's one record. Supersedes [`Event::SaleCompleted`].
    SaleCompletedV2 {
        sale: SaleId,
        record: SaleRecord,
        settlement: Settlement,
    },
    /// Items of a completed sale were returned and refunded, with the settlement. Supersedes
    /// [`Event::ReturnCompleted`].
    ReturnCompletedV2 {
        id: SaleId,
        original: SaleId,
        record: ReturnRecord,
        settlement: Settlement,
    },
    /// Items of `original` were exchanged for new ones in one transaction; `id` is the new
    /// sale (and the exchange's receipt number).
    ExchangeCompleted {
        id: SaleId,
        original: SaleId,
        record: ExchangeRecord,
    },
    /// Items came back without a receipt, accepted by a manager and priced by `basis`; the
    /// record's lines are numbered in the order given and refer to no sale.
    ReturnWithoutReceipt {
        id: SaleId,
        record: ReturnRecord,
        basis: PriceBasis,
        settlement: Settlement,
    },
    /// The box's update agent (`edge-image`) recorded an A/B update transition; the daemon
    /// journals each record so that the cloud link carries it.
    UpdateReported {
        /// `armed`, `committed`, `rolling_back`, `rolled_back`, `running` or `refused`.
        state: String,
        /// The agent's record as it wrote it: one JSON object (slot, version, reason, ...).
        record: String,
        /// When the agent recorded it, Unix seconds.
        unix_time: u64,
    },
    /// Part `part` (from 0) of a catalog snapshot sent in `parts` parts. Part 0's `json` is a
    /// catalog document with the header and the first products; later parts add products and
    /// prices. The snapshot takes effect with its last part; until then the box sells from the
    /// catalog it has.
    CatalogPartLoaded {
        version: u64,
        part: u32,
        parts: u32,
        json: String,
        by: Actor,
    },
    /// The cloud's count of a coupon's redemptions across the fleet (a cloud command), which
    /// the box's coupon limits count from now on, beside its own later redemptions.
    CouponUsageReported { usage: crate::command::CouponUsage },
}

impl Event {
    /// A short stable name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::PairingRequested { .. } => "pairing_requested",
            Event::PairingApproved { .. } => "pairing_approved",
            Event::PairingRejected { .. } => "pairing_rejected",
            Event::TokenIssued { .. } => "token_issued",
            Event::TokenRevoked { .. } => "token_revoked",
            Event::CatalogLoaded { .. } => "catalog_loaded",
            Event::SaleOpened { .. } => "sale_opened",
            Event::SaleChanged { .. } => "sale_changed",
            Event::SaleCompleted { .. } => "sale_completed",
            Event::SaleVoided { .. } => "sale_voided",
            Event::ReturnCompleted { .. } => "return_completed",
            Event::TillOpened { .. } => "till_opened",
            Event::TillMovement { .. } => "till_movement",
            Event::TillClosed { .. } => "till_closed",
            Event::CustomerSaved { .. } => "customer_saved",
            Event::CustomerErased { .. } => "customer_erased",
            Event::ReceiptEmailRequested { .. } => "receipt_email_requested",
            Event::SaleCompletedV2 { .. } => "sale_completed_v2",
            Event::ReturnCompletedV2 { .. } => "return_completed_v2",
            Event::ExchangeCompleted { .. } => "exchange_completed",
            Event::ReturnWithoutReceipt { .. } => "return_without_receipt",
            Event::UpdateReported { .. } => "update_reported",
            Event::CatalogPartLoaded { .. } => "catalog_part_loaded",
            Event::CouponUsageReported { .. } => "coupon_usage_reported",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_display_and_from_str_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.to_string(), role.as_str());
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!(
            Role::ALL.map(Role::as_str),
            ["associate", "manager", "technician"]
        );
    }

    #[test]
    fn role_from_str_is_exact() {
        for bad in [
            "", "Manager", "MANAGER", " manager", "manager ", "admin", "tech",
        ] {
            let err = bad.parse::<Role>().unwrap_err();
            assert!(err.contains("unknown role"), "{err}");
        }
    }

    #[test]
    fn role_json_uses_the_same_names() {
        for role in Role::ALL {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
        }
    }

    #[test]
    fn kinds_are_distinct() {
        let p = PairingId(uuid::Uuid::nil());
        let t = TokenId(uuid::Uuid::nil());
        let events = [
            Event::PairingRequested {
                pairing: p,
                code: String::new(),
                device_name: String::new(),
                token_hash: [0; 32],
                expires_at: Timestamp(0),
            },
            Event::PairingApproved {
                pairing: p,
                role: Role::Associate,
                by: Actor::Admin,
            },
            Event::PairingRejected {
                pairing: p,
                by: Actor::Device,
            },
            Event::TokenIssued {
                token: t,
                role: Role::Technician,
                label: String::new(),
                token_hash: [0; 32],
                by: Actor::Admin,
            },
            Event::TokenRevoked {
                token: t,
                by: Actor::Token(t),
            },
        ];
        let mut kinds: Vec<_> = events.iter().map(Event::kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), events.len());
    }
}
