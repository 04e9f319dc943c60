//! X and Z reports: totals of a till session (or of the whole store) by tender, tax
//! jurisdiction and department, built from the completed sale and return records alone.
//!
//! An X report is the running report of an open session; a Z report is the same report frozen
//! when the till closes. Tender totals are net: cash tendered minus change, minus refunds.
//!
//! [`Analysis`] is the store's sales analysis beside them: sales by hour of day and by
//! associate, tax collected and refunded per jurisdiction, returns with and without a receipt,
//! and discounts per promotion.

use std::collections::BTreeMap;

use protocol::pos::{ReturnRecord, SaleRecord, Settlement, TenderKind, TillMove};
use protocol::{Currency, Money, MoneyError};
use serde::{Deserialize, Serialize};

/// Totals in minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub currency: Currency,
    pub sales: u64,
    pub returns: u64,
    /// Sum of line gross amounts of sales.
    pub gross: i64,
    pub discounts: i64,
    pub tax: i64,
    /// What sales took in, minus what returns gave back.
    pub net_total: i64,
    pub returns_total: i64,
    /// Tender name → net amount.
    pub by_tender: BTreeMap<String, i64>,
    /// Jurisdiction → tax collected minus tax refunded.
    pub by_tax: BTreeMap<String, i64>,
    /// Category → line totals sold minus refunded.
    pub by_department: BTreeMap<String, i64>,
    pub paid_in: i64,
    pub paid_out: i64,
    pub drops: i64,
    /// Cash rounding taken in (positive) or given (negative): the cash tenders hold it beside
    /// `net_total`.
    pub cash_rounding: i64,
    /// Sales exempted from tax.
    pub exempt_sales: u64,
}

fn add(slot: &mut i64, v: i64) -> Result<(), MoneyError> {
    *slot = slot.checked_add(v).ok_or(MoneyError::Overflow)?;
    Ok(())
}

fn same(cur: Currency, m: Money) -> Result<i64, MoneyError> {
    if m.currency == cur {
        Ok(m.minor)
    } else {
        Err(MoneyError::CurrencyMismatch {
            left: cur,
            right: m.currency,
        })
    }
}

impl Report {
    /// An empty report in `currency`.
    pub fn new(currency: Currency) -> Report {
        Report {
            currency,
            sales: 0,
            returns: 0,
            gross: 0,
            discounts: 0,
            tax: 0,
            net_total: 0,
            returns_total: 0,
            by_tender: BTreeMap::new(),
            by_tax: BTreeMap::new(),
            by_department: BTreeMap::new(),
            paid_in: 0,
            paid_out: 0,
            drops: 0,
            cash_rounding: 0,
            exempt_sales: 0,
        }
    }

    /// Adds a completed sale.
    pub fn add_sale(&mut self, s: &SaleRecord) -> Result<(), MoneyError> {
        let c = self.currency;
        self.sales += 1;
        add(&mut self.gross, same(c, s.subtotal)?)?;
        add(&mut self.discounts, same(c, s.discount)?)?;
        add(&mut self.tax, same(c, s.tax)?)?;
        add(&mut self.net_total, same(c, s.total)?)?;
        for t in &s.tenders {
            add(
                self.by_tender.entry(t.kind.as_str().into()).or_default(),
                same(c, t.amount)?,
            )?;
        }
        if s.change.minor != 0 {
            let cash = self
                .by_tender
                .entry(TenderKind::Cash.as_str().into())
                .or_default();
            add(cash, -same(c, s.change)?)?;
        }
        for l in &s.lines {
            add(
                self.by_department
                    .entry(l.item.category.clone())
                    .or_default(),
                same(c, l.total)?,
            )?;
            for t in &l.taxes {
                add(
                    self.by_tax.entry(t.jurisdiction.clone()).or_default(),
                    same(c, t.amount)?,
                )?;
            }
        }
        Ok(())
    }

    /// Adds a completed return. A return record holds each line's refunded tax, not its split
    /// by jurisdiction, so refunded tax is reported under the key `"refunded"`.
    pub fn add_return(&mut self, r: &ReturnRecord) -> Result<(), MoneyError> {
        let c = self.currency;
        self.returns += 1;
        add(&mut self.returns_total, same(c, r.total)?)?;
        add(&mut self.net_total, -same(c, r.total)?)?;
        for t in &r.refunds {
            add(
                self.by_tender.entry(t.kind.as_str().into()).or_default(),
                -same(c, t.amount)?,
            )?;
        }
        for l in &r.lines {
            add(
                self.by_department.entry(l.category.clone()).or_default(),
                -same(c, l.refund)?,
            )?;
            add(
                self.by_tax.entry("refunded".into()).or_default(),
                -same(c, l.tax)?,
            )?;
            add(&mut self.tax, -same(c, l.tax)?)?;
        }
        Ok(())
    }

    /// Adds what a completed transaction's settlement carries: cash rounding, exemption.
    pub fn add_settlement(&mut self, s: &Settlement) -> Result<(), MoneyError> {
        add(
            &mut self.cash_rounding,
            same(self.currency, s.cash_rounding)?,
        )?;
        if s.exemption.is_some() {
            self.exempt_sales += 1;
        }
        Ok(())
    }

    /// Adds a cash movement.
    pub fn add_movement(&mut self, kind: TillMove, amount: Money) -> Result<(), MoneyError> {
        let v = same(self.currency, amount)?;
        match kind {
            TillMove::PaidIn => add(&mut self.paid_in, v),
            TillMove::PaidOut => add(&mut self.paid_out, v),
            TillMove::Drop => add(&mut self.drops, v),
        }
    }
}

/// A count of transactions and their amount in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub count: u64,
    pub amount: i64,
}

impl Tally {
    fn add(&mut self, amount: i64) -> Result<(), MoneyError> {
        self.count += 1;
        add(&mut self.amount, amount)
    }
}

/// Tax of one jurisdiction: collected on sales, refunded on returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxTally {
    pub collected: i64,
    pub refunded: i64,
}

/// The store's sales analysis: sales by hour of day (UTC) and by associate, tax per
/// jurisdiction (refunds split over the original line's jurisdictions in proportion to their
/// tax), returns with and without a receipt, and discounts per promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analysis {
    pub currency: Currency,
    /// Hour of day 0-23 (UTC) → sales completed in it and their totals.
    pub sales_by_hour: BTreeMap<u8, Tally>,
    /// Who completed the sales ("admin" or the token id) → count and totals.
    pub sales_by_associate: BTreeMap<String, Tally>,
    pub tax: BTreeMap<String, TaxTally>,
    pub returns_with_receipt: Tally,
    pub returns_without_receipt: Tally,
    /// Promotion id → the discount it gave.
    pub discounts: BTreeMap<String, i64>,
}

/// The key of a refund's tax that no sale line attributes to a jurisdiction (a return
/// without a receipt).
pub const UNATTRIBUTED: &str = "unattributed";

fn who(by: &protocol::event::Actor) -> String {
    match by {
        protocol::event::Actor::Token(t) => t.to_string(),
        protocol::event::Actor::Admin => "admin".into(),
        protocol::event::Actor::Device => "device".into(),
    }
}

impl Analysis {
    /// An empty analysis in `currency`.
    pub fn new(currency: Currency) -> Analysis {
        Analysis {
            currency,
            sales_by_hour: BTreeMap::new(),
            sales_by_associate: BTreeMap::new(),
            tax: BTreeMap::new(),
            returns_with_receipt: Tally::default(),
            returns_without_receipt: Tally::default(),
            discounts: BTreeMap::new(),
        }
    }

    /// Adds a sale completed at `at`.
    pub fn add_sale(&mut self, s: &SaleRecord, at: protocol::Timestamp) -> Result<(), MoneyError> {
        let c = self.currency;
        let total = same(c, s.total)?;
        let hour = at.0.div_euclid(3_600_000).rem_euclid(24) as u8;
        self.sales_by_hour.entry(hour).or_default().add(total)?;
        self.sales_by_associate
            .entry(who(&s.by))
            .or_default()
            .add(total)?;
        for l in &s.lines {
            for d in &l.discounts {
                add(
                    self.discounts.entry(d.rule.clone()).or_default(),
                    same(c, d.amount)?,
                )?;
            }
            for t in &l.taxes {
                let slot = &mut self
                    .tax
                    .entry(t.jurisdiction.clone())
                    .or_default()
                    .collected;
                add(slot, same(c, t.amount)?)?;
            }
        }
        Ok(())
    }

    /// Adds a return of `original` (`None`: without a receipt).
    pub fn add_return(
        &mut self,
        r: &ReturnRecord,
        original: Option<&SaleRecord>,
    ) -> Result<(), MoneyError> {
        let c = self.currency;
        let tally = if original.is_some() {
            &mut self.returns_with_receipt
        } else {
            &mut self.returns_without_receipt
        };
        tally.add(same(c, r.total)?)?;
        for l in &r.lines {
            let sold = original.and_then(|s| s.lines.iter().find(|x| x.line == l.line));
            let split: Vec<(String, Money)> = match sold.filter(|s| !s.taxes.is_empty()) {
                Some(s) => {
                    let weights: Vec<i64> = s.taxes.iter().map(|t| t.amount.minor).collect();
                    let parts = super::amount::allocate(l.tax, &weights)?;
                    s.taxes
                        .iter()
                        .map(|t| t.jurisdiction.clone())
                        .zip(parts)
                        .collect()
                }
                None => vec![(UNATTRIBUTED.to_owned(), l.tax)],
            };
            for (j, m) in split {
                if m.minor != 0 {
                    add(&mut self.tax.entry(j).or_default().refunded, same(c, m)?)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use protocol::event::Actor;
    use protocol::pos::TenderKind;
    use protocol::Timestamp;

    use super::*;
    use crate::domain::returns::tests::sale_of;
    use crate::domain::returns::{plan_return, Returned};

    #[test]
    fn the_analysis_splits_sales_by_hour_and_associate_and_refunded_tax_by_jurisdiction() {
        // 3 × 3.33 + 4 % (0.40) + 4.875 % (0.49) = 10.88.
        let sale = sale_of(false, 333, 3, &[(TenderKind::Cash, 2_000)]);
        let mut a = Analysis::new(sale.total.currency);
        a.add_sale(&sale, Timestamp(14 * 3_600_000 + 5)).unwrap();
        assert_eq!(
            a.sales_by_hour[&14],
            Tally {
                count: 1,
                amount: 1_088
            }
        );
        assert_eq!(a.sales_by_associate["admin"].count, 1);
        assert_eq!(a.tax["state"].collected, 40);
        assert_eq!(a.tax["city"].collected, 49);
        let ret = plan_return(
            &sale,
            &Returned::default(),
            &[(1, 3)],
            None,
            "r".into(),
            Actor::Admin,
        )
        .unwrap();
        a.add_return(&ret, Some(&sale)).unwrap();
        assert_eq!(a.tax["state"].refunded, 40);
        assert_eq!(a.tax["city"].refunded, 49);
        assert_eq!(
            a.returns_with_receipt,
            Tally {
                count: 1,
                amount: 1_088
            }
        );
        a.add_return(&ret, None).unwrap();
        assert_eq!(a.tax[UNATTRIBUTED].refunded, 89);
        assert_eq!(a.returns_without_receipt.count, 1);
    }
}
