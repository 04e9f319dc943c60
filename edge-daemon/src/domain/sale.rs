//! The sale: a cart state machine, its pricing, tenders and completion.
//!
//! # States
//! `Open` → `Completed` (fully paid) or `Voided`. Only an open cart changes. Lines are frozen
//! once the first tender is taken: the amount due cannot move under a payment in progress.
//!
//! # Changes ([`CartOp`])
//! [`Cart::apply`] checks what a change needs without prices (line exists, quantity 1 to
//! [`MAX_QUANTITY`], same currency, coupon not entered twice, reason given for an override)
//! and applies it. The API calls it to decide, the store calls it again to project the
//! journaled change, so both see one rule.
//!
//! # Pricing
//! [`Cart::price`] gives each line `gross = unit × quantity`, its promotion discounts
//! ([`super::promo`]), `net = gross − discounts`, its taxes ([`super::tax`]) and
//! `total = net (+ tax when prices exclude it)`. The sale's total is the sum of the line totals,
//! which equals `subtotal − discount + exclusive tax`.
//!
//! # Tenders
//! Cash may exceed what is due (change is given); any other tender may not, and needs a
//! reference (terminal authorisation, gift card, credit note). A sale completes only when the
//! tenders cover the total; the change must not exceed the cash taken.

use protocol::event::Actor;
use protocol::pos::{CartOp, LineItem, SaleRecord, SoldLine, TaxExemption, Tender, TenderKind};
use protocol::{Currency, CustomerId, Money, MoneyError, Timestamp};
use serde::{Deserialize, Serialize};

use super::promo::{best_discounts, PromoLine, Promotion};
use super::tax::{round_cash, TaxConfig, TaxError};

/// The largest quantity of one line.
pub const MAX_QUANTITY: i64 = 9_999;
/// The most lines a cart holds.
pub const MAX_LINES: usize = 500;
/// The longest free text (reasons, references).
pub const MAX_TEXT: usize = 200;

/// Where a cart stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CartState {
    Open,
    Completed,
    Voided,
}

/// A line of a cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub line: u32,
    pub item: LineItem,
    pub quantity: i64,
    /// A manager's unit price and reason.
    pub override_price: Option<(Money, String)>,
}

/// A sale in progress (or finished).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    pub till: Option<String>,
    pub currency: Currency,
    pub opened_by: Actor,
    pub state: CartState,
    pub lines: Vec<CartLine>,
    pub coupons: Vec<String>,
    pub customer: Option<CustomerId>,
    pub tenders: Vec<Tender>,
    /// Set when the sale was exempted from tax.
    pub exemption: Option<TaxExemption>,
    next_line: u32,
}

/// Why a sale operation is refused. `field` names the request field at fault where one is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaleError {
    #[error("the sale is {0:?}, not open")]
    NotOpen(CartState),
    #[error("the sale has no line {0}")]
    UnknownLine(u32),
    #[error("quantity {0} is outside 1 to {MAX_QUANTITY}")]
    BadQuantity(i64),
    #[error("the sale is in {sale}, the amount is in {found}")]
    Currency { sale: Currency, found: Currency },
    #[error("lines cannot change once a tender was taken")]
    LinesFrozen,
    #[error("coupon {0:?} was already entered for this sale")]
    CouponTwice(String),
    #[error("a sale holds at most {MAX_LINES} lines")]
    TooManyLines,
    #[error("{0}")]
    BadTender(String),
    #[error("{0}")]
    BadText(String),
    #[error("the tenders cover {paid} of {total} minor units")]
    NotFullyPaid { paid: i64, total: i64 },
    #[error("a sale needs at least one line")]
    Empty,
    #[error("a price cannot be negative")]
    NegativePrice,
    #[error("prices include tax in this store; a sale cannot be exempted")]
    ExemptInclusive,
    #[error("{0}")]
    Money(#[from] MoneyError),
    #[error("{0}")]
    Tax(#[from] TaxError),
}

impl SaleError {
    /// The request field this error is about, for problem documents.
    pub fn field(&self) -> &'static str {
        match self {
            SaleError::UnknownLine(_) => "line",
            SaleError::BadQuantity(_) => "quantity",
            SaleError::Currency { .. } | SaleError::BadTender(_) => "amount",
            SaleError::CouponTwice(_) => "code",
            SaleError::BadText(_) => "reason",
            SaleError::NegativePrice => "unit_price",
            SaleError::ExemptInclusive => "reason",
            SaleError::NotFullyPaid { .. } => "tenders",
            _ => "sale",
        }
    }
}

/// What pricing needs besides the cart.
#[derive(Debug, Clone, Copy)]
pub struct PricingContext<'a> {
    pub promotions: &'a [Promotion],
    pub tax: &'a TaxConfig,
    pub at: Timestamp,
}

/// A priced cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priced {
    pub lines: Vec<SoldLine>,
    pub tax_inclusive: bool,
    pub subtotal: Money,
    pub discount: Money,
    pub tax: Money,
    pub total: Money,
    /// What the tenders cover so far.
    pub paid: Money,
    /// `total + cash_rounding − paid`; negative means change is due.
    pub due: Money,
    /// What is left to pay if it is paid in cash: rounded to the cash increment.
    pub cash_due: Money,
    /// The cash rounding of the tenders taken so far (zero without cash).
    pub cash_rounding: Money,
}

/// Checks a free-text field: 1 to [`MAX_TEXT`] bytes after trimming.
pub fn check_text(what: &str, s: &str) -> Result<(), SaleError> {
    let t = s.trim();
    if t.is_empty() || s.len() > MAX_TEXT {
        return Err(SaleError::BadText(format!(
            "{what} must be 1 to {MAX_TEXT} bytes"
        )));
    }
    Ok(())
}

fn check_quantity(q: i64) -> Result<(), SaleError> {
    if (1..=MAX_QUANTITY).contains(&q) {
        Ok(())
    } else {
        Err(SaleError::BadQuantity(q))
    }
}

impl Cart {
    /// A new open cart.
    pub fn open(till: Option<String>, currency: Currency, by: Actor) -> Cart {
        Cart {
            till,
            currency,
            opened_by: by,
            state: CartState::Open,
            lines: Vec::new(),
            coupons: Vec::new(),
            customer: None,
            tenders: Vec::new(),
            exemption: None,
            next_line: 1,
        }
    }

    /// The number the next added line gets.
    pub fn next_line(&self) -> u32 {
        self.next_line
    }

    fn same_currency(&self, m: Money) -> Result<(), SaleError> {
        if m.currency == self.currency {
            Ok(())
        } else {
            Err(SaleError::Currency {
                sale: self.currency,
                found: m.currency,
            })
        }
    }

    fn line_mut(&mut self, line: u32) -> Result<&mut CartLine, SaleError> {
        self.lines
            .iter_mut()
            .find(|l| l.line == line)
            .ok_or(SaleError::UnknownLine(line))
    }

    fn require_open(&self) -> Result<(), SaleError> {
        match self.state {
            CartState::Open => Ok(()),
            other => Err(SaleError::NotOpen(other)),
        }
    }

    fn require_unfrozen(&self) -> Result<(), SaleError> {
        self.require_open()?;
        if self.tenders.is_empty() {
            Ok(())
        } else {
            Err(SaleError::LinesFrozen)
        }
    }

    /// Checks and applies one change; on error the cart is unchanged.
    pub fn apply(&mut self, op: &CartOp) -> Result<(), SaleError> {
        match op {
            CartOp::AddLine {
                line,
                item,
                quantity,
            } => {
                self.require_unfrozen()?;
                check_quantity(*quantity)?;
                self.same_currency(item.unit_price)?;
                if item.unit_price.minor < 0 {
                    return Err(SaleError::NegativePrice);
                }
                if self.lines.len() >= MAX_LINES {
                    return Err(SaleError::TooManyLines);
                }
                if *line != self.next_line {
                    return Err(SaleError::UnknownLine(*line));
                }
                self.lines.push(CartLine {
                    line: *line,
                    item: item.clone(),
                    quantity: *quantity,
                    override_price: None,
                });
                self.next_line += 1;
            }
            CartOp::SetQuantity { line, quantity } => {
                self.require_unfrozen()?;
                if *quantity == 0 {
                    self.line_mut(*line)?;
                    self.lines.retain(|l| l.line != *line);
                } else {
                    check_quantity(*quantity)?;
                    self.line_mut(*line)?.quantity = *quantity;
                }
            }
            CartOp::OverridePrice {
                line,
                unit_price,
                reason,
                by: _,
            } => {
                self.require_unfrozen()?;
                self.same_currency(*unit_price)?;
                check_text("reason", reason)?;
                if unit_price.minor < 0 {
                    return Err(SaleError::NegativePrice);
                }
                self.line_mut(*line)?.override_price = Some((*unit_price, reason.clone()));
            }
            CartOp::ApplyCoupon { code } => {
                self.require_unfrozen()?;
                if self.coupons.contains(code) {
                    return Err(SaleError::CouponTwice(code.clone()));
                }
                self.coupons.push(code.clone());
            }
            CartOp::AttachCustomer { customer } => {
                self.require_open()?;
                self.customer = Some(*customer);
            }
            CartOp::ExemptTax { reason, by } => {
                self.require_unfrozen()?;
                check_text("reason", reason)?;
                self.exemption = Some(TaxExemption {
                    reason: reason.clone(),
                    by: by.clone(),
                });
            }
            CartOp::AddTender { tender } => {
                self.require_open()?;
                self.same_currency(tender.amount)?;
                if tender.amount.minor <= 0 {
                    return Err(SaleError::BadTender("a tender must be positive".into()));
                }
                if self.lines.is_empty() {
                    return Err(SaleError::Empty);
                }
                if tender.kind != TenderKind::Cash {
                    let r = tender.reference.as_deref().unwrap_or("");
                    check_text("reference", r).map_err(|_| {
                        SaleError::BadTender(format!(
                            "a {} tender needs a reference of 1 to {MAX_TEXT} bytes",
                            tender.kind.as_str()
                        ))
                    })?;
                }
                self.tenders.push(tender.clone());
            }
        }
        Ok(())
    }

    /// Prices the cart under `ctx`.
    pub fn price(&self, ctx: &PricingContext<'_>) -> Result<Priced, SaleError> {
        let cur = self.currency;
        let mut promo_lines = Vec::with_capacity(self.lines.len());
        for l in &self.lines {
            let unit = l.override_price.as_ref().map_or(l.item.unit_price, |o| o.0);
            promo_lines.push(PromoLine {
                sku: l.item.sku.clone(),
                category: l.item.category.clone(),
                quantity: l.quantity,
                unit_price: unit,
                gross: unit.checked_mul(l.quantity)?,
            });
        }
        let discounts = best_discounts(ctx.promotions, &self.coupons, &promo_lines, ctx.at, cur)?;
        if self.exemption.is_some() && ctx.tax.inclusive {
            return Err(SaleError::ExemptInclusive);
        }
        let mut nets = Vec::with_capacity(self.lines.len());
        for (p, d) in promo_lines.iter().zip(&discounts) {
            let off = Money::checked_sum(cur, d.iter().map(|d| d.amount))?;
            nets.push(p.gross.checked_sub(off)?);
        }
        let classes: Vec<(&str, Money)> = self
            .lines
            .iter()
            .zip(&nets)
            .map(|(l, n)| (l.item.tax_class.as_str(), *n))
            .collect();
        let taxes = ctx.tax.document_taxes(&classes, self.exemption.is_some())?;
        let mut lines = Vec::with_capacity(self.lines.len());
        for ((((l, p), discounts), net), taxes) in self
            .lines
            .iter()
            .zip(&promo_lines)
            .zip(discounts)
            .zip(nets)
            .zip(taxes)
        {
            let tax = Money::checked_sum(cur, taxes.iter().map(|t| t.amount))?;
            let total = if ctx.tax.inclusive {
                net
            } else {
                net.checked_add(tax)?
            };
            lines.push(SoldLine {
                line: l.line,
                item: l.item.clone(),
                quantity: l.quantity,
                unit_price: p.unit_price,
                override_reason: l.override_price.as_ref().map(|o| o.1.clone()),
                gross: p.gross,
                discounts,
                net,
                taxes,
                total,
            });
        }
        let sum = |f: &dyn Fn(&SoldLine) -> Money| Money::checked_sum(cur, lines.iter().map(f));
        let subtotal = sum(&|l| l.gross)?;
        let net = sum(&|l| l.net)?;
        let tax = Money::checked_sum(
            cur,
            lines.iter().flat_map(|l| l.taxes.iter().map(|t| t.amount)),
        )?;
        let total = sum(&|l| l.total)?;
        let paid = Money::checked_sum(cur, self.tenders.iter().map(|t| t.amount))?;
        let cash_paid = Money::checked_sum(
            cur,
            self.tenders
                .iter()
                .filter(|t| t.kind == TenderKind::Cash)
                .map(|t| t.amount),
        )?;
        // What cash has to cover, rounded to the store's cash increment.
        let exact = total.checked_sub(paid.checked_sub(cash_paid)?)?;
        let cash_due = if exact.minor > 0 {
            Money::new(round_cash(exact.minor, ctx.tax.cash_increment), cur)
        } else {
            exact
        };
        let cash_rounding = if cash_paid.minor > 0 {
            cash_due.checked_sub(exact)?
        } else {
            Money::zero(cur)
        };
        Ok(Priced {
            tax_inclusive: ctx.tax.inclusive,
            subtotal,
            discount: subtotal.checked_sub(net)?,
            tax,
            total,
            due: total.checked_add(cash_rounding)?.checked_sub(paid)?,
            paid,
            cash_due,
            cash_rounding,
            lines,
        })
    }

    /// Checks that `tender` may be taken now, given the cart's pricing `priced`.
    pub fn check_tender(&self, priced: &Priced, tender: &Tender) -> Result<(), SaleError> {
        let mut probe = self.clone();
        probe.apply(&CartOp::AddTender {
            tender: tender.clone(),
        })?;
        if priced.due.minor <= 0 {
            return Err(SaleError::BadTender("the sale is already paid".into()));
        }
        if tender.kind != TenderKind::Cash && tender.amount.minor > priced.due.minor {
            return Err(SaleError::BadTender(format!(
                "a {} tender cannot exceed the {} due; only cash gives change",
                tender.kind.as_str(),
                priced.due.minor
            )));
        }
        Ok(())
    }

    /// The completed sale's record, if the tenders cover `priced`'s total.
    pub fn complete(&self, priced: &Priced, by: Actor) -> Result<SaleRecord, SaleError> {
        self.require_open()?;
        if self.lines.is_empty() {
            return Err(SaleError::Empty);
        }
        if priced.due.minor > 0 {
            return Err(SaleError::NotFullyPaid {
                paid: priced.paid.minor,
                total: priced.total.minor,
            });
        }
        let change = priced.due.checked_neg()?;
        let cash = Money::checked_sum(
            self.currency,
            self.tenders
                .iter()
                .filter(|t| t.kind == TenderKind::Cash)
                .map(|t| t.amount),
        )?;
        if change.minor > cash.minor {
            return Err(SaleError::BadTender(format!(
                "the tenders exceed the total by {}, more than the cash taken ({})",
                change.minor, cash.minor
            )));
        }
        Ok(SaleRecord {
            till: self.till.clone(),
            customer: self.customer,
            coupons: self.coupons.clone(),
            lines: priced.lines.clone(),
            tax_inclusive: priced.tax_inclusive,
            subtotal: priced.subtotal,
            discount: priced.discount,
            tax: priced.tax,
            total: priced.total,
            tenders: self.tenders.clone(),
            change,
            by,
        })
    }

    /// The completed cart of a sale decided in one step (the new items of an exchange).
    pub fn of_record(rec: &SaleRecord) -> Cart {
        let lines: Vec<CartLine> = rec
            .lines
            .iter()
            .map(|l| CartLine {
                line: l.line,
                item: l.item.clone(),
                quantity: l.quantity,
                override_price: l
                    .override_reason
                    .as_ref()
                    .map(|r| (l.unit_price, r.clone())),
            })
            .collect();
        Cart {
            till: rec.till.clone(),
            currency: rec.total.currency,
            opened_by: rec.by.clone(),
            state: CartState::Completed,
            next_line: lines.iter().map(|l| l.line + 1).max().unwrap_or(1),
            lines,
            coupons: rec.coupons.clone(),
            customer: rec.customer,
            tenders: rec.tenders.clone(),
            exemption: None,
        }
    }

    /// Marks the cart completed (the store does this when it projects the sale).
    pub fn mark(&mut self, state: CartState) -> Result<(), SaleError> {
        self.require_open()?;
        self.state = state;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::promo::{Reward, Target};
    use crate::domain::tax::TaxRate;

    pub(crate) fn usd() -> Currency {
        Currency::new("USD").unwrap()
    }

    pub(crate) fn item(sku: &str, price: i64) -> LineItem {
        LineItem {
            sku: sku.into(),
            name: format!("Item {sku}"),
            category: "general".into(),
            tax_class: "standard".into(),
            unit_price: Money::new(price, usd()),
        }
    }

    pub(crate) fn tax(inclusive: bool) -> TaxConfig {
        TaxConfig {
            inclusive,
            classes: BTreeMap::from([(
                "standard".into(),
                vec![
                    TaxRate {
                        jurisdiction: "state".into(),
                        rate_ppm: 40_000,
                    },
                    TaxRate {
                        jurisdiction: "city".into(),
                        rate_ppm: 48_750,
                    },
                ],
            )]),
            ..Default::default()
        }
    }

    fn add(c: &mut Cart, sku: &str, price: i64, quantity: i64) {
        let line = c.next_line();
        c.apply(&CartOp::AddLine {
            line,
            item: item(sku, price),
            quantity,
        })
        .unwrap();
    }

    fn cash(amount: i64) -> Tender {
        Tender {
            kind: TenderKind::Cash,
            amount: Money::new(amount, usd()),
            reference: None,
        }
    }

    #[test]
    fn a_cash_sale_prices_tenders_and_gives_change() {
        let t = tax(false);
        let ctx = PricingContext {
            promotions: &[],
            tax: &t,
            at: Timestamp(0),
        };
        let mut c = Cart::open(Some("till-1".into()), usd(), Actor::Admin);
        add(&mut c, "a", 1_999, 2);
        add(&mut c, "b", 500, 1);
        let p = c.price(&ctx).unwrap();
        assert_eq!(p.subtotal.minor, 4_498);
        // 39.98: 1.60 + 1.95; 5.00: 0.20 + 0.24.
        assert_eq!(p.tax.minor, 160 + 195 + 20 + 24);
        assert_eq!(p.total.minor, 4_498 + 399);
        assert!(matches!(
            c.complete(&p, Actor::Admin),
            Err(SaleError::NotFullyPaid { .. })
        ));
        c.check_tender(&p, &cash(5_000)).unwrap();
        c.apply(&CartOp::AddTender {
            tender: cash(5_000),
        })
        .unwrap();
        let p = c.price(&ctx).unwrap();
        let rec = c.complete(&p, Actor::Admin).unwrap();
        assert_eq!(rec.change.minor, 5_000 - 4_897);
    }

    #[test]
    fn cards_cannot_overpay_and_need_a_reference() {
        let t = tax(true);
        let ctx = PricingContext {
            promotions: &[],
            tax: &t,
            at: Timestamp(0),
        };
        let mut c = Cart::open(None, usd(), Actor::Admin);
        add(&mut c, "a", 1_000, 1);
        let p = c.price(&ctx).unwrap();
        assert_eq!(p.total.minor, 1_000);
        let card = |amount, reference: Option<&str>| Tender {
            kind: TenderKind::Card,
            amount: Money::new(amount, usd()),
            reference: reference.map(Into::into),
        };
        assert!(c.check_tender(&p, &card(1_001, Some("auth-1"))).is_err());
        assert!(c.check_tender(&p, &card(1_000, None)).is_err());
        c.check_tender(&p, &card(1_000, Some("auth-1"))).unwrap();
    }

    #[test]
    fn structural_rules_refuse_and_leave_the_cart_unchanged() {
        let mut c = Cart::open(None, usd(), Actor::Admin);
        add(&mut c, "a", 100, 1);
        let before = c.clone();
        let eur = Currency::new("EUR").unwrap();
        let mut foreign = item("x", 100);
        foreign.unit_price = Money::new(100, eur);
        let cases = [
            CartOp::SetQuantity {
                line: 9,
                quantity: 1,
            },
            CartOp::SetQuantity {
                line: 1,
                quantity: -1,
            },
            CartOp::AddLine {
                line: 2,
                item: item("b", 1),
                quantity: 0,
            },
            CartOp::AddLine {
                line: 2,
                item: foreign,
                quantity: 1,
            },
            CartOp::OverridePrice {
                line: 1,
                unit_price: Money::new(1, usd()),
                reason: " ".into(),
                by: Actor::Admin,
            },
        ];
        for op in cases {
            assert!(c.apply(&op).is_err(), "{op:?}");
            assert_eq!(c, before);
        }
        c.apply(&CartOp::ApplyCoupon { code: "X".into() }).unwrap();
        assert_eq!(
            c.apply(&CartOp::ApplyCoupon { code: "X".into() }),
            Err(SaleError::CouponTwice("X".into()))
        );
        c.apply(&CartOp::AddTender { tender: cash(1) }).unwrap();
        assert_eq!(
            c.apply(&CartOp::SetQuantity {
                line: 1,
                quantity: 2
            }),
            Err(SaleError::LinesFrozen)
        );
        c.mark(CartState::Voided).unwrap();
        assert!(matches!(
            c.apply(&CartOp::AddTender { tender: cash(1) }),
            Err(SaleError::NotOpen(CartState::Voided))
        ));
    }

    #[test]
    fn overrides_and_promotions_price_lines() {
        let t = tax(false);
        let promos = [Promotion {
            id: "ten".into(),
            name: "10 % off".into(),
            priority: 0,
            exclusive: false,
            coupon: None,
            starts_at: None,
            ends_at: None,
            target: Target::default(),
            reward: Reward::PercentOff { percent_bp: 1_000 },
            max_uses: None,
            max_uses_per_customer: None,
        }];
        let ctx = PricingContext {
            promotions: &promos,
            tax: &t,
            at: Timestamp(0),
        };
        let mut c = Cart::open(None, usd(), Actor::Admin);
        add(&mut c, "a", 2_000, 1);
        c.apply(&CartOp::OverridePrice {
            line: 1,
            unit_price: Money::new(1_000, usd()),
            reason: "damaged box".into(),
            by: Actor::Admin,
        })
        .unwrap();
        let p = c.price(&ctx).unwrap();
        let l = &p.lines[0];
        assert_eq!(l.gross.minor, 1_000);
        assert_eq!(l.discounts[0].rule, "ten");
        assert_eq!(l.net.minor, 900);
        assert_eq!(l.override_reason.as_deref(), Some("damaged box"));
        assert_eq!(p.discount.minor, 100);
    }
}
