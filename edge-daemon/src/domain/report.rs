//! X and Z reports: totals of a till session (or of the whole store) by tender, tax
//! jurisdiction and department, built from the completed sale and return records alone.
//!
//! An X report is the running report of an open session; a Z report is the same report frozen
//! when the till closes. Tender totals are net: cash tendered minus change, minus refunds.

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
