//! Business rules of the store: pure, deterministic, no I/O, no clock, no randomness.
//!
//! The API asks these functions what a request means; the store journals the answer. Every
//! amount is [`protocol::Money`] (integer minor units with a currency); arithmetic goes through
//! [`amount`], which refuses mixed currencies and overflow instead of guessing.
//!
//! # Layout
//! - [`amount`]: rounding and proportional shares of integer amounts.
//! - [`barcode`]: GTIN-8/12/13/14 normalised to GTIN-14, and store codes.
//! - [`catalog`]: products, variants, categories, price books with effective dates; snapshots
//!   and deltas ([`catalog::apply_catalog_snapshot`], [`catalog::apply_catalog_delta`]).
//! - [`tax`]: per-class rates of stacked jurisdictions, inclusive or exclusive prices.
//! - [`promo`]: automatic promotions and coupons, with stated stacking rules.
//! - [`sale`]: the cart state machine, pricing, tenders and completion.
//! - [`returns`]: refunds against an original sale.
//! - [`exchange`]: items taken back and new items sold in one transaction.
//! - [`cash`]: tills: float, pay-ins, pay-outs, drops, count and close.
//! - [`report`]: X/Z totals by tender, tax and department; the sales analysis.
//! - [`receipt`]: a completed sale as text and HTML, for email receipts.
//!
//! # Rounding rules
//! - Percentages and tax rates are exact integers (basis points, parts per million); a result is
//!   rounded once, half away from zero, to the minor unit.
//! - Tax is computed per jurisdiction on each line's net after discounts, rounded per line or
//!   once per document and split back over the lines (see [`tax`]); cash settled amounts are
//!   rounded to the store's cash increment where configured, and the rounding is recorded.
//! - A cart-level discount is split over the lines in proportion to their net, remainders going
//!   to the earliest lines; a return refunds a share of the line's paid total so that returning
//!   every unit, in any number of steps, refunds exactly what was paid.
//!
//! # Current limitations
//! - Tax exemptions cover a whole sale, not single lines, and only where prices exclude tax.
//! - Cash refunds are not rounded to the cash increment; a return of a rounded cash sale
//!   refunds exact amounts (the last one making up any rounding the sale took less).
//! - Coupon limits count this box's redemptions and, once the cloud reports a coupon's
//!   fleet-wide count (the `coupon` cloud command), that count plus the box's redemptions the
//!   cloud had not seen. Between reports, two boxes offline (or a box and the web shop) can
//!   each redeem a coupon's last use; the records say which sales redeemed what, offline or
//!   not, and the next report counts both.

pub mod amount;
pub mod barcode;
pub mod cash;
pub mod catalog;
pub mod exchange;
pub mod promo;
pub mod receipt;
pub mod report;
pub mod returns;
pub mod sale;
pub mod tax;

#[cfg(test)]
mod props;
