//! Cash management: a till session from its float to its closing count.
//!
//! # Rules
//! - A till opens with a float (zero or more). Opening a till that is open is refused.
//! - Cash sales add what the customer paid in cash minus the change; cash refunds take out.
//! - Pay-ins add; pay-outs and safe drops take out, and never more than the drawer should hold.
//! - Closing needs no sale in progress on the till and a blind count (by denomination); the
//!   difference `counted − expected` is the over (positive) or short (negative).

use protocol::pos::{Tender, TenderKind, TillMove};
use protocol::{Currency, Money, MoneyError};
use serde::{Deserialize, Serialize};

/// A till session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Till {
    pub id: String,
    pub open: bool,
    pub float: Money,
    pub cash_sales: Money,
    pub cash_refunds: Money,
    pub paid_in: Money,
    pub paid_out: Money,
    pub drops: Money,
    /// Set when closed.
    pub counted: Option<Money>,
    pub expected_at_close: Option<Money>,
}

/// Why a till operation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CashError {
    #[error("till {0:?} is already open")]
    AlreadyOpen(String),
    #[error("till {0:?} is not open")]
    NotOpen(String),
    #[error("the amount must be positive")]
    NotPositive,
    #[error("the float cannot be negative")]
    NegativeFloat,
    #[error("the till is in {till}, the amount is in {found}")]
    Currency { till: Currency, found: Currency },
    #[error("{asked} is more than the {expected} the drawer should hold")]
    MoreThanInDrawer { asked: i64, expected: i64 },
    #[error("{0} sale(s) are in progress on this till")]
    SalesInProgress(usize),
    #[error("denomination {value} × {count}: both must be positive")]
    BadDenomination { value: i64, count: i64 },
    #[error("{0}")]
    Money(#[from] MoneyError),
}

impl CashError {
    /// The request field this error is about.
    pub fn field(&self) -> &'static str {
        match self {
            CashError::BadDenomination { .. } => "denominations",
            CashError::NegativeFloat => "float",
            CashError::AlreadyOpen(_) | CashError::NotOpen(_) | CashError::SalesInProgress(_) => {
                "till"
            }
            _ => "amount",
        }
    }
}

/// The total of a count by denomination: `(value in minor units, count)` pairs.
pub fn count(currency: Currency, denominations: &[(i64, i64)]) -> Result<Money, CashError> {
    let mut total = Money::zero(currency);
    for (value, n) in denominations {
        if *value <= 0 || *n < 0 {
            return Err(CashError::BadDenomination {
                value: *value,
                count: *n,
            });
        }
        total = total.checked_add(Money::new(*value, currency).checked_mul(*n)?)?;
    }
    Ok(total)
}

/// Cash a sale or return moved through the drawer: cash tenders, minus `change` given back.
pub fn cash_of(tenders: &[Tender], change: Money) -> Result<Money, MoneyError> {
    let cash = Money::checked_sum(
        change.currency,
        tenders
            .iter()
            .filter(|t| t.kind == TenderKind::Cash)
            .map(|t| t.amount),
    )?;
    cash.checked_sub(change)
}

impl Till {
    /// A new session of till `id` with `float`; `current` is the till's last session, if any.
    pub fn open(current: Option<&Till>, id: &str, float: Money) -> Result<Till, CashError> {
        if current.is_some_and(|t| t.open) {
            return Err(CashError::AlreadyOpen(id.to_owned()));
        }
        if float.minor < 0 {
            return Err(CashError::NegativeFloat);
        }
        let zero = Money::zero(float.currency);
        Ok(Till {
            id: id.to_owned(),
            open: true,
            float,
            cash_sales: zero,
            cash_refunds: zero,
            paid_in: zero,
            paid_out: zero,
            drops: zero,
            counted: None,
            expected_at_close: None,
        })
    }

    fn check(&self, m: Money) -> Result<(), CashError> {
        if !self.open {
            return Err(CashError::NotOpen(self.id.clone()));
        }
        if m.currency != self.float.currency {
            return Err(CashError::Currency {
                till: self.float.currency,
                found: m.currency,
            });
        }
        Ok(())
    }

    /// What the drawer should hold now.
    pub fn expected(&self) -> Result<Money, MoneyError> {
        self.float
            .checked_add(self.cash_sales)?
            .checked_add(self.paid_in)?
            .checked_sub(self.cash_refunds)?
            .checked_sub(self.paid_out)?
            .checked_sub(self.drops)
    }

    /// A pay-in, pay-out or drop of `amount`.
    pub fn movement(&mut self, kind: TillMove, amount: Money) -> Result<(), CashError> {
        self.check(amount)?;
        if amount.minor <= 0 {
            return Err(CashError::NotPositive);
        }
        let expected = self.expected()?;
        if kind != TillMove::PaidIn && amount.minor > expected.minor {
            return Err(CashError::MoreThanInDrawer {
                asked: amount.minor,
                expected: expected.minor,
            });
        }
        let slot = match kind {
            TillMove::PaidIn => &mut self.paid_in,
            TillMove::PaidOut => &mut self.paid_out,
            TillMove::Drop => &mut self.drops,
        };
        *slot = slot.checked_add(amount)?;
        Ok(())
    }

    /// A sale's net cash (`cash_of`) entering the drawer.
    pub fn record_sale(&mut self, cash: Money) -> Result<(), CashError> {
        self.check(cash)?;
        self.cash_sales = self.cash_sales.checked_add(cash)?;
        Ok(())
    }

    /// Cash refunded from the drawer.
    pub fn record_refund(&mut self, cash: Money) -> Result<(), CashError> {
        self.check(cash)?;
        self.cash_refunds = self.cash_refunds.checked_add(cash)?;
        Ok(())
    }

    /// Closes with a count; `sales_in_progress` open carts on this till refuse it.
    /// Returns `(expected, over_short)`.
    pub fn close(
        &mut self,
        counted: Money,
        sales_in_progress: usize,
    ) -> Result<(Money, Money), CashError> {
        self.check(counted)?;
        if sales_in_progress > 0 {
            return Err(CashError::SalesInProgress(sales_in_progress));
        }
        let expected = self.expected()?;
        let over_short = counted.checked_sub(expected)?;
        self.open = false;
        self.counted = Some(counted);
        self.expected_at_close = Some(expected);
        Ok((expected, over_short))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(m: i64) -> Money {
        Money::new(m, Currency::new("USD").unwrap())
    }

    #[test]
    fn a_shift_balances_to_over_short() {
        let mut t = Till::open(None, "till-1", usd(10_000)).unwrap();
        t.record_sale(usd(2_500)).unwrap();
        t.movement(TillMove::PaidIn, usd(1_000)).unwrap();
        t.movement(TillMove::PaidOut, usd(300)).unwrap();
        t.movement(TillMove::Drop, usd(5_000)).unwrap();
        t.record_refund(usd(200)).unwrap();
        assert_eq!(t.expected().unwrap(), usd(8_000));
        assert_eq!(t.close(usd(8_000), 1), Err(CashError::SalesInProgress(1)));
        let counted = count(usd(0).currency, &[(2_000, 3), (1_000, 1), (100, 9)]).unwrap();
        let (expected, diff) = t.close(counted, 0).unwrap();
        assert_eq!(expected, usd(8_000));
        assert_eq!(diff, usd(-100));
        assert!(!t.open);
        assert_eq!(
            t.movement(TillMove::PaidIn, usd(1)),
            Err(CashError::NotOpen("till-1".into()))
        );
        assert!(Till::open(Some(&t), "till-1", usd(0)).is_ok());
    }

    #[test]
    fn bad_cash_operations_are_refused() {
        let mut t = Till::open(None, "t", usd(100)).unwrap();
        assert_eq!(
            Till::open(Some(&t), "t", usd(1)),
            Err(CashError::AlreadyOpen("t".into()))
        );
        assert_eq!(
            Till::open(None, "t", usd(-1)),
            Err(CashError::NegativeFloat)
        );
        assert_eq!(
            t.movement(TillMove::PaidIn, usd(0)),
            Err(CashError::NotPositive)
        );
        assert!(matches!(
            t.movement(TillMove::PaidOut, usd(101)),
            Err(CashError::MoreThanInDrawer { .. })
        ));
        let eur = Money::new(1, Currency::new("EUR").unwrap());
        assert!(matches!(
            t.movement(TillMove::PaidIn, eur),
            Err(CashError::Currency { .. })
        ));
        assert!(count(usd(0).currency, &[(0, 1)]).is_err());
        assert!(count(usd(0).currency, &[(5, -1)]).is_err());
    }
}
