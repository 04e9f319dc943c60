//! Exchanges: items of an original sale taken back and new items sold in one transaction.
//!
//! # Rules
//! - The items taken back follow [`super::returns`]: lines of the original sale, at most what
//!   is left of them, refunded at the price paid to the original tenders.
//! - The new items are a cart priced like any sale ([`super::sale`]): promotions, tax.
//! - The refund pays for the new items first: the refund's tenders, in their order, become the
//!   new sale's first tenders up to the smaller of the two totals. The rest is the balance:
//!   - positive: the customer pays it with new tenders (cash may give change);
//!   - negative: what is left of the refund goes back to the original tenders;
//!   - zero: nothing moves.
//! - A new tender is refused when the balance is not positive.
//!
//! The record keeps the whole refund and the whole new sale (see
//! [`protocol::pos::ExchangeRecord`]), so reports add it as one return and one sale and every
//! tender nets to what really moved; returning an exchanged item later refunds it to the
//! tenders that paid for it.

use protocol::event::Actor;
use protocol::pos::{CartOp, ExchangeRecord, SaleRecord, Settlement, Tender};
use protocol::{Money, MoneyError};

use super::returns::{plan_return, ReturnError, Returned};
use super::sale::{Cart, PricingContext, SaleError};

/// Why an exchange is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    #[error("{0}")]
    Return(#[from] ReturnError),
    #[error("{0}")]
    Sale(#[from] SaleError),
    #[error("the exchange refunds {0} minor units; it takes no tender")]
    NoTenderNeeded(i64),
    #[error("an exchange needs at least one new item")]
    NoNewItems,
    #[error("{0}")]
    Money(#[from] MoneyError),
}

impl ExchangeError {
    /// The request field this error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ExchangeError::Return(e) => match e {
                ReturnError::Empty | ReturnError::UnknownLine(_) | ReturnError::Twice(_) => {
                    "return_lines"
                }
                other => other.field(),
            },
            ExchangeError::Sale(e) => e.field(),
            ExchangeError::NoTenderNeeded(_) => "tenders",
            ExchangeError::NoNewItems => "items",
            ExchangeError::Money(_) => "sale",
        }
    }
}

/// What an exchange asks for.
#[derive(Debug, Clone)]
pub struct ExchangeRequest<'a> {
    /// The original sale and what earlier returns took from it.
    pub original: &'a SaleRecord,
    pub before: &'a Returned,
    /// (line of the original sale, quantity) to take back.
    pub lines: &'a [(u32, i64)],
    /// The new items, an open cart without tenders.
    pub cart: &'a Cart,
    /// Tenders for a positive balance.
    pub tenders: &'a [Tender],
    pub till: Option<String>,
    pub reason: String,
    pub by: Actor,
}

/// Plans the exchange by the rules of the module docs.
pub fn plan_exchange(
    req: &ExchangeRequest<'_>,
    ctx: &PricingContext<'_>,
    settlement: Settlement,
) -> Result<ExchangeRecord, ExchangeError> {
    let returned = plan_return(
        req.original,
        req.before,
        req.lines,
        req.till.clone(),
        req.reason.clone(),
        req.by.clone(),
    )?;
    if req.cart.lines.is_empty() {
        return Err(ExchangeError::NoNewItems);
    }
    let mut cart = req.cart.clone();
    let priced = cart.price(ctx)?;
    let balance = priced.total.checked_sub(returned.total)?;
    if balance.minor <= 0 && !req.tenders.is_empty() {
        return Err(ExchangeError::NoTenderNeeded(-balance.minor));
    }
    // The refund pays for the new items first, tender by tender.
    let mut credit = priced.total.minor.min(returned.total.minor);
    for r in &returned.refunds {
        if credit <= 0 {
            break;
        }
        let take = credit.min(r.amount.minor);
        credit -= take;
        let tender = Tender {
            amount: Money::new(take, r.amount.currency),
            ..r.clone()
        };
        cart.apply(&CartOp::AddTender { tender })?;
    }
    for t in req.tenders {
        let priced = cart.price(ctx)?;
        cart.check_tender(&priced, t)?;
        cart.apply(&CartOp::AddTender { tender: t.clone() })?;
    }
    let sold = cart.complete(&cart.price(ctx)?, req.by.clone())?;
    Ok(ExchangeRecord {
        returned,
        sold,
        balance,
        settlement,
    })
}

#[cfg(test)]
mod tests {
    use protocol::pos::TenderKind;
    use protocol::Timestamp;

    use super::*;
    use crate::domain::returns::tests::sale_of;
    use crate::domain::sale::tests::{item, tax, usd};

    fn ctx_sale(tenders: &[(TenderKind, i64)]) -> SaleRecord {
        sale_of(true, 2_000, 2, tenders)
    }

    fn new_items(price: i64) -> Cart {
        let mut c = Cart::open(None, usd(), Actor::Admin);
        c.apply(&CartOp::AddLine {
            line: 1,
            item: item("b", price),
            quantity: 1,
        })
        .unwrap();
        c
    }

    fn settled() -> Settlement {
        Settlement::legacy(usd())
    }

    fn plan(
        original: &SaleRecord,
        cart: &Cart,
        tenders: &[Tender],
    ) -> Result<ExchangeRecord, ExchangeError> {
        let t = tax(true);
        let ctx = PricingContext {
            promotions: &[],
            tax: &t,
            at: Timestamp(0),
        };
        let req = ExchangeRequest {
            original,
            before: &Returned::default(),
            lines: &[(1, 1)],
            cart,
            tenders,
            till: None,
            reason: "size".into(),
            by: Actor::Admin,
        };
        plan_exchange(&req, &ctx, settled())
    }

    /// What each tender kind really moved: tendered − change − refunded.
    fn net(rec: &ExchangeRecord, kind: TenderKind) -> i64 {
        let paid: i64 = rec
            .sold
            .tenders
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.amount.minor)
            .sum();
        let back: i64 = rec
            .returned
            .refunds
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.amount.minor)
            .sum();
        let change = if kind == TenderKind::Cash {
            rec.sold.change.minor
        } else {
            0
        };
        paid - change - back
    }

    #[test]
    fn a_dearer_item_is_paid_by_the_refund_and_a_new_tender() {
        let original = ctx_sale(&[(TenderKind::Card, 4_000)]);
        let cash = Tender {
            kind: TenderKind::Cash,
            amount: Money::new(1_000, usd()),
            reference: None,
        };
        let rec = plan(&original, &new_items(2_500), &[cash]).unwrap();
        assert_eq!(rec.returned.total.minor, 2_000);
        assert_eq!(rec.sold.total.minor, 2_500);
        assert_eq!(rec.balance.minor, 500);
        assert_eq!(rec.sold.change.minor, 500);
        assert_eq!(net(&rec, TenderKind::Card), 0);
        assert_eq!(net(&rec, TenderKind::Cash), 500);
    }

    #[test]
    fn a_cheaper_item_refunds_the_difference_to_the_original_tender() {
        let original = ctx_sale(&[(TenderKind::Card, 4_000)]);
        let rec = plan(&original, &new_items(1_200), &[]).unwrap();
        assert_eq!(rec.balance.minor, -800);
        assert_eq!(net(&rec, TenderKind::Card), -800);
        let cash = Tender {
            kind: TenderKind::Cash,
            amount: Money::new(100, usd()),
            reference: None,
        };
        assert_eq!(
            plan(&original, &new_items(1_200), &[cash]),
            Err(ExchangeError::NoTenderNeeded(800))
        );
    }

    #[test]
    fn an_even_exchange_moves_no_money_and_a_short_one_is_refused() {
        let original = ctx_sale(&[(TenderKind::Card, 4_000)]);
        let rec = plan(&original, &new_items(2_000), &[]).unwrap();
        assert_eq!(rec.balance.minor, 0);
        assert_eq!(net(&rec, TenderKind::Card), 0);
        assert!(matches!(
            plan(&original, &new_items(2_001), &[]),
            Err(ExchangeError::Sale(SaleError::NotFullyPaid { .. }))
        ));
        let empty = Cart::open(None, usd(), Actor::Admin);
        assert_eq!(plan(&original, &empty, &[]), Err(ExchangeError::NoNewItems));
    }
}
