//! Property tests of the domain rules: totals add up under both tax rounding modes, refunds
//! never exceed what was paid, cash rounding and exemptions keep every minor unit accounted
//! for, exchanges move exactly their balance, currencies never mix, and no money appears or
//! vanishes.

use std::collections::BTreeMap;

use proptest::prelude::*;
use protocol::event::Actor;
use protocol::pos::{CartOp, LineItem, Settlement, Tender, TenderKind};
use protocol::{Currency, Money, Timestamp};

use super::amount::{allocate, div_round};
use super::exchange::{plan_exchange, ExchangeRequest};
use super::promo::{Promotion, Reward, Target};
use super::returns::{plan_return, record_return, Returned};
use super::sale::{Cart, PricingContext, SaleError};
use super::tax::{TaxConfig, TaxRate, TaxRounding, PPM};

fn usd() -> Currency {
    Currency::new("USD").unwrap()
}

fn arb_reward() -> impl Strategy<Value = Reward> {
    prop_oneof![
        (0u32..=10_000).prop_map(|percent_bp| Reward::PercentOff { percent_bp }),
        (0i64..5_000).prop_map(|amount| Reward::AmountOff { amount }),
        (1u32..4, 1u32..3, 0u32..=10_000).prop_map(|(buy, get, percent_bp)| Reward::BuyXGetY {
            buy,
            get,
            percent_bp
        }),
        (0i64..20_000, 0u32..=10_000).prop_map(|(min_subtotal, percent_bp)| {
            Reward::ThresholdPercentOff {
                min_subtotal,
                percent_bp,
            }
        }),
        (0i64..20_000, 0i64..20_000).prop_map(|(min_subtotal, amount)| {
            Reward::ThresholdAmountOff {
                min_subtotal,
                amount,
            }
        }),
        (2u32..5, 0i64..50_000)
            .prop_map(|(quantity, price)| Reward::BundlePrice { quantity, price }),
    ]
}

fn arb_promos() -> impl Strategy<Value = Vec<Promotion>> {
    prop::collection::vec((arb_reward(), -3i32..3, any::<bool>(), 0usize..3), 0..5).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (reward, priority, exclusive, cat))| Promotion {
                id: format!("p{i}"),
                name: format!("promo {i}"),
                priority,
                exclusive,
                coupon: None,
                starts_at: None,
                ends_at: None,
                target: Target {
                    categories: if cat == 0 {
                        vec![]
                    } else {
                        vec![format!("c{cat}")]
                    },
                    skus: vec![],
                },
                reward,
                max_uses: None,
                max_uses_per_customer: None,
            })
            .collect()
    })
}

fn arb_tax() -> impl Strategy<Value = TaxConfig> {
    (
        any::<bool>(),
        prop::collection::vec(0u32..300_000, 0..4),
        any::<bool>(),
        prop_oneof![Just(None), Just(Some(5i64)), Just(Some(10)), Just(Some(25))],
    )
        .prop_map(
            |(inclusive, rates, per_document, cash_increment)| TaxConfig {
                rounding: if per_document {
                    TaxRounding::PerDocument
                } else {
                    TaxRounding::PerLine
                },
                cash_increment,
                exemption_by: Default::default(),
                inclusive,
                classes: BTreeMap::from([(
                    "t".into(),
                    rates
                        .into_iter()
                        .enumerate()
                        .map(|(i, rate_ppm)| TaxRate {
                            jurisdiction: format!("j{i}"),
                            rate_ppm,
                        })
                        .collect(),
                )]),
            },
        )
}

/// Lines as (price, quantity, category index).
fn arb_lines() -> impl Strategy<Value = Vec<(i64, i64, usize)>> {
    prop::collection::vec((0i64..100_000, 1i64..12, 0usize..3), 1..8)
}

fn cart_of(lines: &[(i64, i64, usize)]) -> Cart {
    let mut c = Cart::open(None, usd(), Actor::Admin);
    for (i, (price, qty, cat)) in lines.iter().enumerate() {
        let item = LineItem {
            sku: format!("s{i}"),
            name: format!("item {i}"),
            category: format!("c{cat}"),
            tax_class: "t".into(),
            unit_price: Money::new(*price, usd()),
        };
        let line = c.next_line();
        c.apply(&CartOp::AddLine {
            line,
            item,
            quantity: *qty,
        })
        .unwrap();
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// total = Σ line totals = subtotal − discounts + exclusive tax; no line goes negative.
    #[test]
    fn totals_are_the_sum_of_their_lines(
        lines in arb_lines(), promos in arb_promos(), tax in arb_tax()
    ) {
        let c = cart_of(&lines);
        let ctx = PricingContext { promotions: &promos, tax: &tax, at: Timestamp(0) };
        let p = c.price(&ctx).unwrap();
        let line_sum: i64 = p.lines.iter().map(|l| l.total.minor).sum();
        prop_assert_eq!(p.total.minor, line_sum);
        let exclusive_tax = if tax.inclusive { 0 } else { p.tax.minor };
        prop_assert_eq!(p.total.minor, p.subtotal.minor - p.discount.minor + exclusive_tax);
        for l in &p.lines {
            let d: i64 = l.discounts.iter().map(|d| d.amount.minor).sum();
            prop_assert_eq!(l.net.minor, l.gross.minor - d);
            prop_assert!(l.net.minor >= 0, "line {} is negative", l.line);
            prop_assert!(l.discounts.iter().all(|d| d.amount.minor > 0));
            prop_assert!(l.taxes.iter().all(|t| t.amount.minor >= 0));
            if tax.inclusive {
                let t: i64 = l.taxes.iter().map(|t| t.amount.minor).sum();
                prop_assert!(t <= l.net.minor);
            }
        }
        // Per document, each jurisdiction's tax is its exact sum rounded once.
        if tax.rounding == TaxRounding::PerDocument {
            let rates = &tax.classes["t"];
            let den = if tax.inclusive {
                PPM + rates.iter().map(|r| i128::from(r.rate_ppm)).sum::<i128>()
            } else {
                PPM
            };
            for (k, r) in rates.iter().enumerate() {
                let exact: i128 = p.lines.iter()
                    .map(|l| i128::from(l.net.minor) * i128::from(r.rate_ppm)).sum();
                let got: i64 = p.lines.iter().map(|l| l.taxes[k].amount.minor).sum();
                prop_assert_eq!(i128::from(got), div_round(exact, den));
            }
        }
        // Pricing is deterministic.
        prop_assert_eq!(c.price(&ctx).unwrap(), p);
    }

    /// Paid in cash, what the drawer keeps is the total plus the cash rounding, a multiple of
    /// the increment, and the rounding is at most half an increment; an exemption (exclusive
    /// prices) removes all tax and nothing else.
    #[test]
    fn cash_rounding_and_exemptions_neither_create_nor_lose_money(
        lines in arb_lines(), promos in arb_promos(), tax in arb_tax(), extra in 0i64..5_000,
    ) {
        let mut c = cart_of(&lines);
        let ctx = PricingContext { promotions: &promos, tax: &tax, at: Timestamp(0) };
        let before = c.price(&ctx).unwrap();
        if !tax.inclusive {
            let mut e = c.clone();
            e.apply(&CartOp::ExemptTax { reason: "r".into(), by: Actor::Admin }).unwrap();
            let x = e.price(&ctx).unwrap();
            prop_assert_eq!(x.tax.minor, 0);
            prop_assert_eq!(x.total.minor, before.total.minor - before.tax.minor);
            prop_assert_eq!(x.discount, before.discount);
        }
        if before.total.minor <= 0 {
            return Ok(());
        }
        let inc = tax.cash_increment.unwrap_or(1);
        prop_assert_eq!(before.cash_due.minor % inc, 0);
        prop_assert!(2 * (before.cash_due.minor - before.total.minor).abs() <= inc);
        c.apply(&CartOp::AddTender { tender: Tender { kind: TenderKind::Cash,
            amount: Money::new(before.cash_due.minor + extra, usd()), reference: None } })
            .unwrap();
        let p = c.price(&ctx).unwrap();
        let sale = c.complete(&p, Actor::Admin).unwrap();
        let kept = before.cash_due.minor + extra - sale.change.minor;
        prop_assert_eq!(kept, sale.total.minor + p.cash_rounding.minor);
        prop_assert_eq!(kept % inc, 0);
        prop_assert!(2 * p.cash_rounding.minor.abs() <= inc);
    }

    /// An exchange moves exactly its balance: per tender, new tenders minus change minus
    /// refunds add up to `sold.total − returned.total`, and the refund never exceeds the sale.
    #[test]
    fn exchanges_move_exactly_their_balance(
        lines in arb_lines(), new_lines in arb_lines(), promos in arb_promos(),
        tax in arb_tax(), card_share in 0i64..=100, cash_extra in 0i64..3_000,
    ) {
        let tax = TaxConfig { cash_increment: None, ..tax };
        let mut c = cart_of(&lines);
        let ctx = PricingContext { promotions: &promos, tax: &tax, at: Timestamp(0) };
        let total = c.price(&ctx).unwrap().total.minor;
        let card = total * card_share / 100;
        for (kind, amount, reference) in [(TenderKind::Card, card, Some("a")),
            (TenderKind::Cash, total - card, None)] {
            if amount > 0 {
                c.apply(&CartOp::AddTender { tender: Tender { kind,
                    amount: Money::new(amount, usd()), reference: reference.map(Into::into) } })
                    .unwrap();
            }
        }
        let original = c.complete(&c.price(&ctx).unwrap(), Actor::Admin).unwrap();
        let back: Vec<(u32, i64)> = original.lines.iter().map(|l| (l.line, l.quantity)).collect();
        let cart = cart_of(&new_lines);
        let new_total = cart.price(&ctx).unwrap().total.minor;
        let balance = new_total - original.total.minor;
        let tenders = if balance > 0 {
            vec![Tender { kind: TenderKind::Cash,
                amount: Money::new(balance + cash_extra, usd()), reference: None }]
        } else {
            vec![]
        };
        let req = ExchangeRequest { original: &original, before: &Returned::default(),
            lines: &back, cart: &cart, tenders: &tenders, till: None, reason: "x".into(),
            by: Actor::Admin };
        let rec = plan_exchange(&req, &ctx, Settlement::legacy(usd())).unwrap();
        prop_assert_eq!(rec.balance.minor, balance);
        let paid: i64 = rec.sold.tenders.iter().map(|t| t.amount.minor).sum();
        let refunded: i64 = rec.returned.refunds.iter().map(|t| t.amount.minor).sum();
        prop_assert_eq!(paid - rec.sold.change.minor - refunded, balance);
        prop_assert_eq!(refunded, original.total.minor);
        prop_assert_eq!(rec.sold.total.minor, new_total);
    }

    /// Any sequence of partial returns refunds at most what was paid, per line and in total,
    /// and returning everything refunds exactly the total; refunds never exceed the tenders.
    #[test]
    fn refunds_never_exceed_what_was_paid(
        lines in arb_lines(), promos in arb_promos(), tax in arb_tax(),
        card_share in 0i64..=100, steps in prop::collection::vec((0usize..8, 1i64..5), 0..20),
    ) {
        let mut c = cart_of(&lines);
        let ctx = PricingContext { promotions: &promos, tax: &tax, at: Timestamp(0) };
        let total = c.price(&ctx).unwrap().total.minor;
        let card = total * card_share / 100;
        if card > 0 {
            c.apply(&CartOp::AddTender { tender: Tender {
                kind: TenderKind::Card, amount: Money::new(card, usd()),
                reference: Some("auth".into()) } }).unwrap();
        }
        if total - card > 0 {
            c.apply(&CartOp::AddTender { tender: Tender {
                kind: TenderKind::Cash, amount: Money::new(total - card + 37, usd()),
                reference: None } }).unwrap();
        }
        let sale = c.complete(&c.price(&ctx).unwrap(), Actor::Admin).unwrap();
        let mut before = Returned::default();
        let mut refunded = 0i64;
        for (li, q) in steps {
            let Some(l) = sale.lines.get(li % sale.lines.len()) else { continue };
            let Ok(r) = plan_return(&sale, &before, &[(l.line, q)], None, "x".into(),
                Actor::Admin) else { continue };
            let tendered: i64 = r.refunds.iter().map(|t| t.amount.minor).sum();
            prop_assert_eq!(tendered, r.total.minor);
            refunded += r.total.minor;
            before = record_return(&sale, &before, &r).unwrap();
            prop_assert!(refunded <= sale.total.minor);
        }
        // Return whatever is left.
        let rest: Vec<(u32, i64)> = sale.lines.iter()
            .map(|l| (l.line, l.quantity - before.quantities.get(&l.line).copied().unwrap_or(0)))
            .filter(|(_, q)| *q > 0)
            .collect();
        if !rest.is_empty() {
            let r = plan_return(&sale, &before, &rest, None, "x".into(), Actor::Admin).unwrap();
            let tendered: i64 = r.refunds.iter().map(|t| t.amount.minor).sum();
            prop_assert_eq!(tendered, r.total.minor);
            refunded += r.total.minor;
        }
        prop_assert_eq!(refunded, sale.total.minor);
    }

    /// A cart in one currency refuses every amount in another, and stays as it was.
    #[test]
    fn money_never_mixes_currencies(lines in arb_lines(), price in 0i64..10_000) {
        let mut c = cart_of(&lines);
        let before = c.clone();
        let eur = Money::new(price, Currency::new("EUR").unwrap());
        let item = LineItem { sku: "x".into(), name: "x".into(), category: "c0".into(),
            tax_class: "t".into(), unit_price: eur };
        let ops = [
            CartOp::AddLine { line: c.next_line(), item, quantity: 1 },
            CartOp::OverridePrice { line: 1, unit_price: eur, reason: "r".into(),
                by: Actor::Admin },
            CartOp::AddTender { tender: Tender { kind: TenderKind::Cash,
                amount: Money::new(price + 1, eur.currency), reference: None } },
        ];
        for op in ops {
            let refused = matches!(c.apply(&op), Err(SaleError::Currency { .. }));
            prop_assert!(refused);
            prop_assert_eq!(&c, &before);
        }
    }

    /// Allocation splits an amount exactly, each part within one unit of its exact share.
    #[test]
    fn allocation_neither_creates_nor_loses_money(
        total in -1_000_000i64..1_000_000, weights in prop::collection::vec(0i64..10_000, 1..10)
    ) {
        let parts = allocate(Money::new(total, usd()), &weights).unwrap();
        prop_assert_eq!(parts.iter().map(|p| p.minor).sum::<i64>(), total);
        let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
        if sum > 0 {
            for (p, w) in parts.iter().zip(&weights) {
                let exact = i128::from(total) * i128::from(*w);
                prop_assert!((i128::from(p.minor) * sum - exact).abs() <= sum);
            }
        }
    }
}
