//! Returns against an original sale.
//!
//! # Rules
//! - Only lines of the original sale, at most the quantity sold minus what earlier returns took.
//! - A returned unit is refunded at the price paid: its share of the line's paid total, which
//!   already holds the line's discounts (including its share of cart-level ones) and, where
//!   prices exclude tax, its tax. Shares are `⌊total × k / sold⌋` differences, so returning all
//!   units, in any steps, refunds exactly the line's total and never more.
//! - The refund goes back to the original tenders: non-cash tenders first, in the sale's order,
//!   each up to what it paid minus what was refunded to it before; cash (net of change) last.
//!   A sale whose cash was rounded down took less than its total; what its refunds lack for
//!   that is given in cash, so returning everything refunds exactly the total.
//!
//! # Without a receipt
//! [`plan_no_receipt`] prices each item by the catalog policy's basis (the caller resolves the
//! unit price), adds tax where prices exclude it, refuses a total above the policy's limit, and
//! refunds the whole in the policy's tender (cash, or a store credit note).

use std::collections::BTreeMap;

use protocol::event::Actor;
use protocol::pos::{LineItem, ReturnRecord, ReturnedLine, SaleRecord, Tender, TenderKind};
use protocol::{Money, MoneyError, Timestamp};
use serde::{Deserialize, Serialize};

use super::amount::share_floor;
use super::catalog::{NoReceiptPolicy, NoReceiptRefund};
use super::tax::{TaxConfig, TaxError};

/// What earlier returns took from a sale.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Returned {
    /// Line number → units returned.
    pub quantities: BTreeMap<u32, i64>,
    /// Minor units refunded to each of the sale's tenders, by index.
    pub refunded: BTreeMap<u32, i64>,
}

/// Why a return is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnError {
    #[error("a return needs at least one line")]
    Empty,
    #[error("the original sale has no line {0}")]
    UnknownLine(u32),
    #[error("line {0} is listed twice")]
    Twice(u32),
    #[error("quantity {0} must be positive")]
    BadQuantity(i64),
    #[error("line {line}: {sold} sold, {returned} already returned, cannot return {asked} more")]
    MoreThanSold {
        line: u32,
        sold: i64,
        returned: i64,
        asked: i64,
    },
    #[error("the refund {total} is above the limit of {limit} for a return without a receipt")]
    OverLimit { total: i64, limit: i64 },
    #[error("{0}")]
    Tax(#[from] TaxError),
    #[error("{0}")]
    Money(#[from] MoneyError),
}

impl ReturnError {
    /// The request field this error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ReturnError::BadQuantity(_) | ReturnError::MoreThanSold { .. } => "quantity",
            ReturnError::Money(_) | ReturnError::Tax(_) => "sale",
            ReturnError::OverLimit { .. } => "items",
            _ => "lines",
        }
    }
}

/// A return of `lines` (line number, quantity) of `sale`, given what `before` took.
pub fn plan_return(
    sale: &SaleRecord,
    before: &Returned,
    lines: &[(u32, i64)],
    till: Option<String>,
    reason: String,
    by: Actor,
) -> Result<ReturnRecord, ReturnError> {
    if lines.is_empty() {
        return Err(ReturnError::Empty);
    }
    let cur = sale.total.currency;
    let mut out = Vec::with_capacity(lines.len());
    for (i, (line, qty)) in lines.iter().enumerate() {
        if lines[..i].iter().any(|(l, _)| l == line) {
            return Err(ReturnError::Twice(*line));
        }
        if *qty <= 0 {
            return Err(ReturnError::BadQuantity(*qty));
        }
        let sold = sale
            .lines
            .iter()
            .find(|l| l.line == *line)
            .ok_or(ReturnError::UnknownLine(*line))?;
        let returned = before.quantities.get(line).copied().unwrap_or(0);
        if returned + qty > sold.quantity {
            return Err(ReturnError::MoreThanSold {
                line: *line,
                sold: sold.quantity,
                returned,
                asked: *qty,
            });
        }
        let q = i128::from(sold.quantity);
        let share = |m: Money| -> Result<Money, MoneyError> {
            let upto = share_floor(m, i128::from(returned + qty), q)?;
            upto.checked_sub(share_floor(m, i128::from(returned), q)?)
        };
        let tax = Money::checked_sum(cur, sold.taxes.iter().map(|t| t.amount))?;
        out.push(ReturnedLine {
            line: *line,
            sku: sold.item.sku.clone(),
            category: sold.item.category.clone(),
            quantity: *qty,
            refund: share(sold.total)?,
            tax: share(tax)?,
        });
    }
    let total = Money::checked_sum(cur, out.iter().map(|l| l.refund))?;
    let refunds = refund_tenders(sale, before, total)?;
    Ok(ReturnRecord {
        till,
        lines: out,
        total,
        refunds,
        reason,
        by,
    })
}

/// Splits `total` over the sale's tenders by the rule of the module docs.
fn refund_tenders(
    sale: &SaleRecord,
    before: &Returned,
    total: Money,
) -> Result<Vec<Tender>, MoneyError> {
    let mut order: Vec<usize> = (0..sale.tenders.len()).collect();
    order.sort_by_key(|i| (sale.tenders[*i].kind == TenderKind::Cash, *i));
    let mut change_left = sale.change.minor;
    let mut capacity = vec![0i64; sale.tenders.len()];
    // Change comes out of the cash tenders, last first.
    for (i, t) in sale.tenders.iter().enumerate().rev() {
        let mut cap = t.amount.minor;
        if t.kind == TenderKind::Cash {
            let c = change_left.min(cap);
            cap -= c;
            change_left -= c;
        }
        let done = before.refunded.get(&(i as u32)).copied().unwrap_or(0);
        capacity[i] = (cap - done).max(0);
    }
    let mut left = total.minor;
    let mut out = Vec::new();
    for i in order {
        if left <= 0 {
            break;
        }
        let take = left.min(capacity[i]);
        if take > 0 {
            let t = &sale.tenders[i];
            out.push(Tender {
                kind: t.kind,
                amount: Money::new(take, total.currency),
                reference: t.reference.clone(),
            });
            left -= take;
        }
    }
    // What is left comes from cash rounding: a cash sale rounded down took less than its
    // total, and its last refund gives back the exact amount, in cash.
    if left > 0 {
        if let Some(i) = (0..sale.tenders.len())
            .rev()
            .find(|i| sale.tenders[*i].kind == TenderKind::Cash)
        {
            match out.iter_mut().find(|t| t.kind == TenderKind::Cash) {
                Some(cash) => cash.amount.minor += left,
                None => out.push(Tender {
                    kind: TenderKind::Cash,
                    amount: Money::new(left, total.currency),
                    reference: sale.tenders[i].reference.clone(),
                }),
            }
        }
    }
    Ok(out)
}

/// What a return without a receipt takes back: items priced by the policy's basis.
#[derive(Debug, Clone)]
pub struct NoReceipt<'a> {
    /// Each item with its unit price under the policy's basis, and the quantity.
    pub items: &'a [(LineItem, i64)],
    pub policy: &'a NoReceiptPolicy,
    pub tax: &'a TaxConfig,
    /// The credit note's number, for a store credit refund.
    pub credit_note: String,
    pub till: Option<String>,
    pub reason: String,
    pub by: Actor,
}

/// A return without a receipt by the rules of the module docs.
pub fn plan_no_receipt(req: &NoReceipt<'_>) -> Result<ReturnRecord, ReturnError> {
    let first = req.items.first().ok_or(ReturnError::Empty)?;
    let cur = first.0.unit_price.currency;
    let mut lines = Vec::with_capacity(req.items.len());
    for (i, (item, qty)) in req.items.iter().enumerate() {
        if *qty <= 0 || *qty > super::sale::MAX_QUANTITY {
            return Err(ReturnError::BadQuantity(*qty));
        }
        let net = item.unit_price.checked_mul(*qty)?;
        let taxes = req.tax.line_taxes(&item.tax_class, net)?;
        let tax = Money::checked_sum(cur, taxes.iter().map(|t| t.amount))?;
        let refund = if req.tax.inclusive {
            net
        } else {
            net.checked_add(tax)?
        };
        lines.push(ReturnedLine {
            line: i as u32 + 1,
            sku: item.sku.clone(),
            category: item.category.clone(),
            quantity: *qty,
            refund,
            tax,
        });
    }
    let total = Money::checked_sum(cur, lines.iter().map(|l| l.refund))?;
    if total.minor > req.policy.limit {
        return Err(ReturnError::OverLimit {
            total: total.minor,
            limit: req.policy.limit,
        });
    }
    let (kind, reference) = match req.policy.refund {
        NoReceiptRefund::Cash => (TenderKind::Cash, None),
        NoReceiptRefund::StoreCredit => (TenderKind::StoreCredit, Some(req.credit_note.clone())),
    };
    let refunds = if total.minor > 0 {
        vec![Tender {
            kind,
            amount: total,
            reference,
        }]
    } else {
        Vec::new()
    };
    Ok(ReturnRecord {
        till: req.till.clone(),
        lines,
        total,
        refunds,
        reason: req.reason.clone(),
        by: req.by.clone(),
    })
}

/// One day in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// Whether a sale completed at `sold_at` may still be returned at `now` under a window of
/// `days` (none: always). The window ends `days × 24 h` after the sale, exclusive.
pub fn within_window(sold_at: Timestamp, now: Timestamp, days: Option<u32>) -> bool {
    days.is_none_or(|d| now < sold_at.plus_millis(i64::from(d).saturating_mul(DAY_MS)))
}

/// What `before` becomes after `rec`, a return of `sale`.
pub fn record_return(
    sale: &SaleRecord,
    before: &Returned,
    rec: &ReturnRecord,
) -> Result<Returned, ReturnError> {
    let mut next = before.clone();
    for l in &rec.lines {
        *next.quantities.entry(l.line).or_default() += l.quantity;
    }
    // Refunds are matched back to the sale's tenders in the order they were given out.
    let mut used = vec![false; sale.tenders.len()];
    for r in &rec.refunds {
        let idx = sale
            .tenders
            .iter()
            .enumerate()
            .position(|(i, t)| !used[i] && t.kind == r.kind && t.reference == r.reference);
        if let Some(i) = idx {
            used[i] = true;
            *next.refunded.entry(i as u32).or_default() += r.amount.minor;
        }
    }
    Ok(next)
}

#[cfg(test)]
pub(crate) mod tests {
    use protocol::pos::CartOp;

    use super::*;
    use crate::domain::sale::tests::{item, tax, usd};
    use crate::domain::sale::{Cart, PricingContext};

    fn sale(tenders: &[(TenderKind, i64)]) -> SaleRecord {
        sale_of(false, 333, 3, tenders)
    }

    /// A completed sale of `quantity` units at `price`, paid by `tenders` (referenced).
    pub(crate) fn sale_of(
        inclusive: bool,
        price: i64,
        quantity: i64,
        tenders: &[(TenderKind, i64)],
    ) -> SaleRecord {
        let t = tax(inclusive);
        let ctx = PricingContext {
            promotions: &[],
            tax: &t,
            at: Timestamp(0),
        };
        let mut c = Cart::open(None, usd(), Actor::Admin);
        c.apply(&CartOp::AddLine {
            line: 1,
            item: item("a", price),
            quantity,
        })
        .unwrap();
        for (kind, amount) in tenders {
            c.apply(&CartOp::AddTender {
                tender: Tender {
                    kind: *kind,
                    amount: Money::new(*amount, usd()),
                    reference: Some("ref".into()),
                },
            })
            .unwrap();
        }
        c.complete(&c.price(&ctx).unwrap(), Actor::Admin).unwrap()
    }

    #[test]
    fn returning_every_unit_in_steps_refunds_exactly_the_total() {
        let s = sale(&[(TenderKind::Cash, 2_000)]);
        // 9.99 + 8.875 % = 0.40 + 0.49 → 10.88.
        assert_eq!(s.total.minor, 1_088);
        let mut before = Returned::default();
        let mut refunded = 0;
        for _ in 0..3 {
            let r = plan_return(&s, &before, &[(1, 1)], None, "r".into(), Actor::Admin).unwrap();
            refunded += r.total.minor;
            before = record_return(&s, &before, &r).unwrap();
        }
        assert_eq!(refunded, s.total.minor);
        assert!(matches!(
            plan_return(&s, &before, &[(1, 1)], None, "r".into(), Actor::Admin),
            Err(ReturnError::MoreThanSold { .. })
        ));
    }

    #[test]
    fn refunds_go_to_cards_first_and_cash_net_of_change() {
        let s = sale(&[(TenderKind::Card, 500), (TenderKind::Cash, 1_000)]);
        assert_eq!(s.change.minor, 500 + 1_000 - 1_088);
        let r = plan_return(
            &s,
            &Returned::default(),
            &[(1, 3)],
            None,
            "r".into(),
            Actor::Admin,
        )
        .unwrap();
        let split: Vec<_> = r.refunds.iter().map(|t| (t.kind, t.amount.minor)).collect();
        assert_eq!(
            split,
            vec![(TenderKind::Card, 500), (TenderKind::Cash, 588)]
        );
    }

    #[test]
    fn return_windows_end_after_whole_days() {
        let sold = Timestamp(1_000);
        assert!(within_window(sold, Timestamp(i64::MAX), None));
        assert!(within_window(
            sold,
            Timestamp(1_000 + 30 * DAY_MS - 1),
            Some(30)
        ));
        assert!(!within_window(
            sold,
            Timestamp(1_000 + 30 * DAY_MS),
            Some(30)
        ));
        assert!(!within_window(sold, sold, Some(0)));
    }

    #[test]
    fn returns_without_a_receipt_follow_the_policy() {
        let policy = NoReceiptPolicy {
            basis: protocol::pos::PriceBasis::LowestPrice,
            refund: NoReceiptRefund::StoreCredit,
            limit: 2_000,
        };
        let t = tax(false);
        let items = [(item("a", 900), 2)];
        let req = NoReceipt {
            items: &items,
            policy: &policy,
            tax: &t,
            credit_note: "CN-1".into(),
            till: None,
            reason: "no receipt".into(),
            by: Actor::Admin,
        };
        let r = plan_no_receipt(&req).unwrap();
        // 18.00 + 4 % (0.72) + 4.875 % (0.88) = 19.60.
        assert_eq!(r.total.minor, 1_960);
        assert_eq!(r.lines[0].tax.minor, 72 + 88);
        assert_eq!(r.refunds.len(), 1);
        assert_eq!(r.refunds[0].kind, TenderKind::StoreCredit);
        assert_eq!(r.refunds[0].reference.as_deref(), Some("CN-1"));
        let three = [(item("a", 900), 3)];
        assert_eq!(
            plan_no_receipt(&NoReceipt {
                items: &three,
                ..req.clone()
            }),
            Err(ReturnError::OverLimit {
                total: 2_940,
                limit: 2_000
            })
        );
        assert_eq!(
            plan_no_receipt(&NoReceipt { items: &[], ..req }),
            Err(ReturnError::Empty)
        );
    }

    #[test]
    fn bad_returns_are_refused() {
        let s = sale(&[(TenderKind::Cash, 2_000)]);
        let none = Returned::default();
        let go =
            |lines: &[(u32, i64)]| plan_return(&s, &none, lines, None, "r".into(), Actor::Admin);
        assert_eq!(go(&[]), Err(ReturnError::Empty));
        assert_eq!(go(&[(7, 1)]), Err(ReturnError::UnknownLine(7)));
        assert_eq!(go(&[(1, 0)]), Err(ReturnError::BadQuantity(0)));
        assert_eq!(go(&[(1, 1), (1, 1)]), Err(ReturnError::Twice(1)));
        assert!(matches!(
            go(&[(1, 4)]),
            Err(ReturnError::MoreThanSold { .. })
        ));
    }
}
