//! Point-of-sale messages as the journal holds them: cart changes, completed sales and returns,
//! till movements and customer profiles.
//!
//! These are facts, already decided and priced by the daemon's domain rules: a line added to a
//! cart carries the unit price resolved at that moment, a completed sale carries every line,
//! discount, tax amount and tender. Replaying them needs no catalog and no clock.
//!
//! # Records added later
//! Encodings are positional, so a record never gains a field. What completed transactions
//! record since the offline ledger, cash rounding and tax exemptions is a [`Settlement`], carried
//! by the events added for it ([`crate::Event::SaleCompletedV2`],
//! [`crate::Event::ReturnCompletedV2`], [`crate::Event::ExchangeCompleted`],
//! [`crate::Event::ReturnWithoutReceipt`]); the first events stay readable with the defaults of
//! [`Settlement::legacy`].

use serde::{Deserialize, Serialize};

use crate::event::Actor;
use crate::ids::CustomerId;
use crate::money::Money;

/// An item as it was when it went into a cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub sku: String,
    pub name: String,
    /// The category (department) id.
    pub category: String,
    pub tax_class: String,
    /// The price-book price when the line was added.
    pub unit_price: Money,
}

/// How a tender was paid. New kinds are appended at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenderKind {
    Cash,
    /// Through an external terminal; only its reference is kept, never card data.
    Card,
    GiftCard,
    StoreCredit,
}

impl TenderKind {
    /// The name in the API and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TenderKind::Cash => "cash",
            TenderKind::Card => "card",
            TenderKind::GiftCard => "gift_card",
            TenderKind::StoreCredit => "store_credit",
        }
    }
}

/// One payment towards a sale, or one refund of a return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tender {
    pub kind: TenderKind,
    pub amount: Money,
    /// The terminal's authorisation reference, gift card number or credit note.
    pub reference: Option<String>,
}

/// One change to a cart in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CartOp {
    /// A new line with number `line`.
    AddLine {
        line: u32,
        item: LineItem,
        quantity: i64,
    },
    /// A line's quantity changes; zero removes the line.
    SetQuantity { line: u32, quantity: i64 },
    /// A manager set a line's unit price.
    OverridePrice {
        line: u32,
        unit_price: Money,
        reason: String,
        by: Actor,
    },
    /// A coupon code entered for the cart.
    ApplyCoupon { code: String },
    /// The sale is for this customer.
    AttachCustomer { customer: CustomerId },
    /// A payment was taken.
    AddTender { tender: Tender },
    /// The sale is exempted from tax, for `reason`.
    ExemptTax { reason: String, by: Actor },
}

/// A discount on one line, naming the rule that gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDiscount {
    /// The promotion id.
    pub rule: String,
    pub amount: Money,
}

/// Tax of one jurisdiction on one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineTax {
    pub jurisdiction: String,
    /// Parts per million: 8.875 % is 88 750.
    pub rate_ppm: u32,
    pub amount: Money,
}

/// A line of a completed sale, with everything the customer paid for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoldLine {
    pub line: u32,
    pub item: LineItem,
    pub quantity: i64,
    /// The unit price charged (the override if there was one).
    pub unit_price: Money,
    pub override_reason: Option<String>,
    /// `unit_price × quantity`.
    pub gross: Money,
    pub discounts: Vec<LineDiscount>,
    /// `gross − discounts`.
    pub net: Money,
    pub taxes: Vec<LineTax>,
    /// What the customer paid for the line: `net`, plus the tax when prices exclude it.
    pub total: Money,
}

/// A completed sale: the one journal event of the transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleRecord {
    pub till: Option<String>,
    pub customer: Option<CustomerId>,
    pub coupons: Vec<String>,
    pub lines: Vec<SoldLine>,
    /// Prices include tax (VAT) when true, exclude it (US sales tax) when false.
    pub tax_inclusive: bool,
    pub subtotal: Money,
    pub discount: Money,
    pub tax: Money,
    pub total: Money,
    pub tenders: Vec<Tender>,
    /// Cash handed back.
    pub change: Money,
    pub by: Actor,
}

/// A line taken back in a return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnedLine {
    /// The line number in the original sale.
    pub line: u32,
    pub sku: String,
    pub category: String,
    pub quantity: i64,
    /// The share of the line's paid total refunded, tax included where it was charged.
    pub refund: Money,
    /// The share of the line's tax in `refund`.
    pub tax: Money,
}

/// A completed return against an original sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRecord {
    pub till: Option<String>,
    pub lines: Vec<ReturnedLine>,
    pub total: Money,
    pub refunds: Vec<Tender>,
    pub reason: String,
    pub by: Actor,
}

/// A cash movement in a till that is not a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TillMove {
    PaidIn,
    PaidOut,
    /// Cash taken from the drawer to the safe.
    Drop,
}

/// A customer's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerProfile {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub marketing_consent: bool,
}

/// A tax exemption of a whole sale: no tax is charged on any line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxExemption {
    /// Why (a resale or diplomatic certificate number, a charity), as entered.
    pub reason: String,
    pub by: Actor,
}

/// What a completed transaction records beside its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// Whether the cloud link was connected when the transaction completed: the offline ledger.
    pub cloud_reachable: bool,
    /// Cash rounding of the amount settled in cash: what the customer paid (positive) or was
    /// given (negative) beyond the exact amount. Zero when not configured or no cash moved.
    pub cash_rounding: Money,
    pub exemption: Option<TaxExemption>,
}

impl Settlement {
    /// The settlement of a transaction journaled before settlements existed: cloud reachability
    /// unknown (recorded as unreachable, so the ledger lists it until acknowledged), no cash
    /// rounding, no exemption.
    pub fn legacy(currency: crate::Currency) -> Settlement {
        Settlement {
            cloud_reachable: false,
            cash_rounding: Money::zero(currency),
            exemption: None,
        }
    }
}

/// An exchange: items of an original sale taken back and new items sold in one transaction.
///
/// `returned` refunds the items at the price paid to the original tenders, and `sold` is paid
/// first by those same tenders up to the smaller of the two totals, then by new tenders for a
/// positive balance. So per tender, `sold.tenders − sold.change − returned.refunds` is what
/// really moved: the balance paid, or refunded when `sold.total < returned.total`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeRecord {
    pub returned: ReturnRecord,
    pub sold: SaleRecord,
    /// `sold.total − returned.total`: paid when positive, refunded when negative.
    pub balance: Money,
    pub settlement: Settlement,
}

/// How a return without a receipt is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceBasis {
    /// The price in effect when the item comes back.
    CurrentPrice,
    /// The lowest price of the item in any price book of the catalog.
    LowestPrice,
}
