//! Promotions and coupons.
//!
//! # Rules
//! - A promotion applies while in effect (`starts_at ≤ t < ends_at`) and, if it has a coupon
//!   code, only to carts where that code was entered.
//! - It targets lines by category or SKU (both empty: every line) and gives one [`Reward`]:
//!   percent or amount off each matching unit, buy X get Y (the cheapest units of each group of
//!   X + Y matching units get the percentage off), or a cart threshold (percent or amount off
//!   the matching lines once their total reaches a minimum, split in proportion to them), or a
//!   fixed-price bundle (every N matching units, dearest first, for a price).
//! - A coupon may be limited in total uses and per customer ([`check_coupon_uses`]); the store
//!   counts redemptions from completed sales, whose records list their coupons and whether the
//!   cloud was reachable. The cloud reconciles: it reports each coupon's fleet-wide count and
//!   the journal sequence it counted through, and the store adds its own later redemptions
//!   (`Reader::coupon_uses`).
//! - Stacking: every non-exclusive promotion applies in order of priority (highest first, then
//!   id), each to what the earlier ones left of a line. An exclusive promotion applies alone.
//!   The engine computes the stacked outcome and each exclusive one and keeps the largest total
//!   discount for the customer; ties go to the stacked outcome, then to the earlier exclusive
//!   promotion in that order. The result is therefore deterministic.
//! - No discount makes a line negative, and each discount names the promotion that gave it.

use std::collections::BTreeSet;

use protocol::pos::LineDiscount;
use protocol::{Currency, Money, MoneyError, Timestamp};
use serde::{Deserialize, Serialize};

use super::amount::{allocate, scale};

/// 100 % in basis points.
pub const BP: i128 = 10_000;

/// Which lines a promotion looks at. Both lists empty: every line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub skus: Vec<String>,
}

impl Target {
    fn matches(&self, sku: &str, category: &str) -> bool {
        (self.categories.is_empty() && self.skus.is_empty())
            || self.categories.iter().any(|c| c == category)
            || self.skus.iter().any(|s| s == sku)
    }
}

/// What a promotion gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reward {
    /// Percent off each matching line, in basis points (1 000 = 10 %).
    PercentOff { percent_bp: u32 },
    /// This many minor units off each matching unit.
    AmountOff { amount: i64 },
    /// Of every `buy + get` matching units, the `get` cheapest get `percent_bp` off.
    BuyXGetY { buy: u32, get: u32, percent_bp: u32 },
    /// Percent off the matching lines once they total at least `min_subtotal`.
    ThresholdPercentOff { min_subtotal: i64, percent_bp: u32 },
    /// An amount off the matching lines once they total at least `min_subtotal`.
    ThresholdAmountOff { min_subtotal: i64, amount: i64 },
    /// Every `quantity` matching units (dearest first) together cost `price`: a fixed-price
    /// bundle. The saving is split over the bundle's units in proportion to their prices; a
    /// bundle dearer than its units gives nothing.
    BundlePrice { quantity: u32, price: i64 },
}

/// An automatic promotion, or a coupon's promotion when `coupon` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Promotion {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub exclusive: bool,
    #[serde(default)]
    pub coupon: Option<String>,
    #[serde(default)]
    pub starts_at: Option<Timestamp>,
    #[serde(default)]
    pub ends_at: Option<Timestamp>,
    #[serde(default)]
    pub target: Target,
    pub reward: Reward,
    /// For a coupon: how many sales may redeem it in all, and per customer.
    #[serde(default)]
    pub max_uses: Option<u32>,
    #[serde(default)]
    pub max_uses_per_customer: Option<u32>,
}

/// Why a promotion or a coupon is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromotionError {
    #[error("promotion {id:?}: {reason}")]
    Invalid { id: String, reason: String },
    #[error("no promotion has the coupon code {0:?}")]
    UnknownCoupon(String),
    #[error("coupon {0:?} is not valid at this time")]
    CouponNotValidNow(String),
    #[error("coupon {code:?} is used up: {used} of {max} uses{who}")]
    CouponUsedUp {
        code: String,
        used: u32,
        max: u32,
        /// Empty, or " by this customer".
        who: &'static str,
    },
    #[error("coupon {0:?} is limited per customer; attach the customer to the sale")]
    CouponNeedsCustomer(String),
}

/// Checks a coupon's use limits: `used` sales redeemed it so far, `by_customer` of them for
/// the sale's customer (`None`: no customer attached).
pub fn check_coupon_uses(
    p: &Promotion,
    code: &str,
    used: u32,
    by_customer: Option<u32>,
) -> Result<(), PromotionError> {
    if let Some(max) = p.max_uses {
        if used >= max {
            return Err(PromotionError::CouponUsedUp {
                code: code.to_owned(),
                used,
                max,
                who: "",
            });
        }
    }
    if let Some(max) = p.max_uses_per_customer {
        let mine = by_customer.ok_or_else(|| PromotionError::CouponNeedsCustomer(code.into()))?;
        if mine >= max {
            return Err(PromotionError::CouponUsedUp {
                code: code.to_owned(),
                used: mine,
                max,
                who: " by this customer",
            });
        }
    }
    Ok(())
}

impl Promotion {
    fn in_effect(&self, at: Timestamp) -> bool {
        self.starts_at.is_none_or(|s| s <= at) && self.ends_at.is_none_or(|e| at < e)
    }

    /// Checks amounts, percentages and targets (`categories` known, `sku_known`).
    pub fn validate(
        &self,
        categories: &BTreeSet<&str>,
        sku_known: &dyn Fn(&str) -> bool,
    ) -> Result<(), PromotionError> {
        let bad = |reason: String| PromotionError::Invalid {
            id: self.id.clone(),
            reason,
        };
        let pct = |bp: u32| {
            if i128::from(bp) > BP {
                Err(bad(format!("percent_bp {bp} is above 10000 (100 %)")))
            } else {
                Ok(())
            }
        };
        let non_negative = |what: &str, v: i64| {
            if v < 0 {
                Err(bad(format!("{what} is negative")))
            } else {
                Ok(())
            }
        };
        match &self.reward {
            Reward::PercentOff { percent_bp } => pct(*percent_bp)?,
            Reward::AmountOff { amount } => non_negative("amount", *amount)?,
            Reward::BuyXGetY {
                buy,
                get,
                percent_bp,
            } => {
                pct(*percent_bp)?;
                if *buy == 0 || *get == 0 {
                    return Err(bad("buy and get must be at least 1".into()));
                }
            }
            Reward::ThresholdPercentOff {
                min_subtotal,
                percent_bp,
            } => {
                pct(*percent_bp)?;
                non_negative("min_subtotal", *min_subtotal)?;
            }
            Reward::ThresholdAmountOff {
                min_subtotal,
                amount,
            } => {
                non_negative("min_subtotal", *min_subtotal)?;
                non_negative("amount", *amount)?;
            }
            Reward::BundlePrice { quantity, price } => {
                non_negative("price", *price)?;
                if *quantity < 2 {
                    return Err(bad("a bundle has at least 2 units".into()));
                }
            }
        }
        if let Some(c) = self
            .target
            .categories
            .iter()
            .find(|c| !categories.contains(c.as_str()))
        {
            return Err(bad(format!("unknown category {c:?}")));
        }
        if let Some(s) = self.target.skus.iter().find(|s| !sku_known(s)) {
            return Err(bad(format!("unknown SKU {s:?}")));
        }
        if let Some(code) = &self.coupon {
            if code.is_empty() || code.len() > 32 || !code.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(bad(
                    "coupon code must be 1 to 32 visible ASCII characters".into()
                ));
            }
        }
        if let (Some(s), Some(e)) = (self.starts_at, self.ends_at) {
            if e <= s {
                return Err(bad("ends_at is not after starts_at".into()));
            }
        }
        Ok(())
    }
}

/// Checks that `code` belongs to a promotion in effect at `at`.
pub fn check_coupon(promos: &[Promotion], code: &str, at: Timestamp) -> Result<(), PromotionError> {
    let mut found = false;
    for p in promos.iter().filter(|p| p.coupon.as_deref() == Some(code)) {
        found = true;
        if p.in_effect(at) {
            return Ok(());
        }
    }
    Err(if found {
        PromotionError::CouponNotValidNow(code.to_owned())
    } else {
        PromotionError::UnknownCoupon(code.to_owned())
    })
}

/// A cart line as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoLine {
    pub sku: String,
    pub category: String,
    pub quantity: i64,
    pub unit_price: Money,
    /// `unit_price × quantity`.
    pub gross: Money,
}

/// One promotion's discount per line (same order as the lines), from what is `left`.
fn discounts_of(
    p: &Promotion,
    lines: &[PromoLine],
    left: &[Money],
    currency: Currency,
) -> Result<Vec<Money>, MoneyError> {
    let zero = Money::zero(currency);
    let hit: Vec<bool> = lines
        .iter()
        .map(|l| p.target.matches(&l.sku, &l.category))
        .collect();
    let mut out = vec![zero; lines.len()];
    match &p.reward {
        Reward::PercentOff { percent_bp } => {
            for i in (0..lines.len()).filter(|i| hit[*i]) {
                out[i] = scale(left[i], i128::from(*percent_bp), BP)?;
            }
        }
        Reward::AmountOff { amount } => {
            for i in (0..lines.len()).filter(|i| hit[*i]) {
                let off = Money::new(*amount, currency).checked_mul(lines[i].quantity)?;
                out[i] = if off.minor < left[i].minor {
                    off
                } else {
                    left[i]
                };
            }
        }
        Reward::BuyXGetY {
            buy,
            get,
            percent_bp,
        } => {
            let units = matching_units(lines, &hit);
            let group = (*buy + *get) as usize;
            for chunk in units.chunks(group).filter(|c| c.len() == group) {
                for (price, i) in &chunk[*buy as usize..] {
                    let off = scale(Money::new(*price, currency), i128::from(*percent_bp), BP)?;
                    out[*i] = out[*i].checked_add(off)?;
                }
            }
            cap(&mut out, left);
        }
        Reward::BundlePrice { quantity, price } => {
            let units = matching_units(lines, &hit);
            let group = *quantity as usize;
            for chunk in units.chunks(group).filter(|c| c.len() == group) {
                let worth: i64 = chunk.iter().map(|(p, _)| *p).sum();
                if worth <= *price {
                    continue;
                }
                let weights: Vec<i64> = chunk.iter().map(|(p, _)| *p).collect();
                let parts = allocate(Money::new(worth - price, currency), &weights)?;
                for ((_, i), part) in chunk.iter().zip(parts) {
                    out[*i] = out[*i].checked_add(part)?;
                }
            }
            cap(&mut out, left);
        }
        Reward::ThresholdPercentOff {
            min_subtotal,
            percent_bp,
        } => {
            let base = matching_total(&hit, left, currency)?;
            if base.minor > 0 && base.minor >= *min_subtotal {
                let off = scale(base, i128::from(*percent_bp), BP)?;
                out = spread(off, &hit, left, currency)?;
            }
        }
        Reward::ThresholdAmountOff {
            min_subtotal,
            amount,
        } => {
            let base = matching_total(&hit, left, currency)?;
            if base.minor > 0 && base.minor >= *min_subtotal {
                let off = Money::new((*amount).min(base.minor), currency);
                out = spread(off, &hit, left, currency)?;
            }
        }
    }
    Ok(out)
}

/// Every matching unit as (unit price, line index), dearest first (ties: earlier line first).
fn matching_units(lines: &[PromoLine], hit: &[bool]) -> Vec<(i64, usize)> {
    let mut units: Vec<(i64, usize)> = Vec::new();
    for i in (0..lines.len()).filter(|i| hit[*i]) {
        let n = usize::try_from(lines[i].quantity).unwrap_or(0);
        units.extend(std::iter::repeat_n((lines[i].unit_price.minor, i), n));
    }
    units.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    units
}

/// No line's discount exceeds what is left of it.
fn cap(out: &mut [Money], left: &[Money]) {
    for (o, l) in out.iter_mut().zip(left) {
        if o.minor > l.minor {
            *o = *l;
        }
    }
}

fn matching_total(hit: &[bool], left: &[Money], currency: Currency) -> Result<Money, MoneyError> {
    Money::checked_sum(
        currency,
        left.iter().zip(hit).filter(|(_, h)| **h).map(|(m, _)| *m),
    )
}

/// Splits `off` over the matching lines in proportion to what is left of them.
fn spread(
    off: Money,
    hit: &[bool],
    left: &[Money],
    currency: Currency,
) -> Result<Vec<Money>, MoneyError> {
    let weights: Vec<i64> = left
        .iter()
        .zip(hit)
        .map(|(m, h)| if *h { m.minor } else { 0 })
        .collect();
    let parts = allocate(off, &weights)?;
    Ok(parts
        .into_iter()
        .zip(hit)
        .map(|(p, h)| if *h { p } else { Money::zero(currency) })
        .collect())
}

/// Runs `promos` in order over `lines`, each on what the earlier ones left.
fn run(
    promos: &[&Promotion],
    lines: &[PromoLine],
    currency: Currency,
) -> Result<(Vec<Vec<LineDiscount>>, i64), MoneyError> {
    let mut left: Vec<Money> = lines.iter().map(|l| l.gross).collect();
    let mut given: Vec<Vec<LineDiscount>> = vec![Vec::new(); lines.len()];
    let mut total = 0i64;
    for p in promos {
        let d = discounts_of(p, lines, &left, currency)?;
        for (i, amount) in d.into_iter().enumerate() {
            if amount.minor > 0 {
                left[i] = left[i].checked_sub(amount)?;
                total = total
                    .checked_add(amount.minor)
                    .ok_or(MoneyError::Overflow)?;
                given[i].push(LineDiscount {
                    rule: p.id.clone(),
                    amount,
                });
            }
        }
    }
    Ok((given, total))
}

/// The discounts on each line (in `lines` order) under the stacking rules of the module docs.
pub fn best_discounts(
    promos: &[Promotion],
    coupons: &[String],
    lines: &[PromoLine],
    at: Timestamp,
    currency: Currency,
) -> Result<Vec<Vec<LineDiscount>>, MoneyError> {
    let mut eligible: Vec<&Promotion> = promos
        .iter()
        .filter(|p| p.in_effect(at))
        .filter(|p| p.coupon.as_ref().is_none_or(|c| coupons.contains(c)))
        .collect();
    eligible.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
    let stacked: Vec<&Promotion> = eligible.iter().copied().filter(|p| !p.exclusive).collect();
    let mut best = run(&stacked, lines, currency)?;
    for p in eligible.iter().filter(|p| p.exclusive) {
        let alone = run(&[*p], lines, currency)?;
        if alone.1 > best.1 {
            best = alone;
        }
    }
    Ok(best.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::new("EUR").unwrap()
    }

    fn line(sku: &str, cat: &str, qty: i64, price: i64) -> PromoLine {
        PromoLine {
            sku: sku.into(),
            category: cat.into(),
            quantity: qty,
            unit_price: Money::new(price, eur()),
            gross: Money::new(price * qty, eur()),
        }
    }

    fn promo(
        id: &str,
        priority: i32,
        exclusive: bool,
        target: Target,
        reward: Reward,
    ) -> Promotion {
        Promotion {
            id: id.into(),
            name: id.into(),
            priority,
            exclusive,
            coupon: None,
            starts_at: None,
            ends_at: None,
            target,
            reward,
            max_uses: None,
            max_uses_per_customer: None,
        }
    }

    fn amounts(d: &[Vec<LineDiscount>]) -> Vec<Vec<(String, i64)>> {
        d.iter()
            .map(|l| l.iter().map(|x| (x.rule.clone(), x.amount.minor)).collect())
            .collect()
    }

    fn cats(c: &[&str]) -> Target {
        Target {
            categories: c.iter().map(|s| s.to_string()).collect(),
            skus: vec![],
        }
    }

    #[test]
    fn percent_off_a_category_names_its_rule() {
        let lines = [line("a", "shoes", 2, 5_000), line("b", "socks", 1, 999)];
        let p = promo(
            "shoes10",
            0,
            false,
            cats(&["shoes"]),
            Reward::PercentOff { percent_bp: 1_000 },
        );
        let d = best_discounts(&[p], &[], &lines, Timestamp(0), eur()).unwrap();
        assert_eq!(amounts(&d), vec![vec![("shoes10".into(), 1_000)], vec![]]);
    }

    #[test]
    fn buy_two_get_one_free_discounts_the_cheapest_of_each_group() {
        let lines = [line("a", "t", 2, 1_000), line("b", "t", 2, 600)];
        let p = promo(
            "3for2",
            0,
            false,
            Target::default(),
            Reward::BuyXGetY {
                buy: 2,
                get: 1,
                percent_bp: 10_000,
            },
        );
        // Units 1000, 1000, 600 | 600: one full group, its cheapest (600) is free.
        let d = best_discounts(&[p], &[], &lines, Timestamp(0), eur()).unwrap();
        assert_eq!(amounts(&d), vec![vec![], vec![("3for2".into(), 600)]]);
    }

    #[test]
    fn stacking_applies_in_priority_order_on_what_is_left() {
        let lines = [line("a", "t", 1, 10_000)];
        let ten = promo(
            "ten",
            5,
            false,
            Target::default(),
            Reward::PercentOff { percent_bp: 1_000 },
        );
        let five = promo(
            "five-eur",
            1,
            false,
            Target::default(),
            Reward::AmountOff { amount: 500 },
        );
        let d = best_discounts(&[five, ten], &[], &lines, Timestamp(0), eur()).unwrap();
        assert_eq!(
            amounts(&d),
            vec![vec![("ten".into(), 1_000), ("five-eur".into(), 500)]]
        );
    }

    #[test]
    fn an_exclusive_promotion_wins_only_when_better_for_the_customer() {
        let lines = [line("a", "t", 1, 10_000)];
        let ten = promo(
            "ten",
            0,
            false,
            Target::default(),
            Reward::PercentOff { percent_bp: 1_000 },
        );
        let big = promo(
            "vip",
            0,
            true,
            Target::default(),
            Reward::PercentOff { percent_bp: 2_500 },
        );
        let small = promo(
            "tiny",
            0,
            true,
            Target::default(),
            Reward::AmountOff { amount: 100 },
        );
        let all = [ten.clone(), big, small.clone()];
        let d = best_discounts(&all, &[], &lines, Timestamp(0), eur()).unwrap();
        assert_eq!(amounts(&d), vec![vec![("vip".into(), 2_500)]]);
        let d = best_discounts(&[ten, small], &[], &lines, Timestamp(0), eur()).unwrap();
        assert_eq!(amounts(&d), vec![vec![("ten".into(), 1_000)]]);
    }

    #[test]
    fn thresholds_spread_over_matching_lines_and_coupons_gate_promotions() {
        let lines = [line("a", "t", 1, 3_000), line("b", "t", 1, 1_000)];
        let mut p = promo(
            "spend40",
            0,
            false,
            Target::default(),
            Reward::ThresholdAmountOff {
                min_subtotal: 4_000,
                amount: 1_000,
            },
        );
        p.coupon = Some("SAVE10".into());
        let without = best_discounts(&[p.clone()], &[], &lines, Timestamp(0), eur()).unwrap();
        assert_eq!(amounts(&without), vec![vec![], vec![]]);
        let with = best_discounts(
            &[p.clone()],
            &["SAVE10".into()],
            &lines,
            Timestamp(0),
            eur(),
        )
        .unwrap();
        assert_eq!(
            amounts(&with),
            vec![vec![("spend40".into(), 750)], vec![("spend40".into(), 250)]]
        );
        let short = [line("a", "t", 1, 3_999)];
        let d = best_discounts(&[p], &["SAVE10".into()], &short, Timestamp(0), eur()).unwrap();
        assert_eq!(amounts(&d), vec![vec![]]);
    }

    #[test]
    fn coupons_are_checked_against_their_window() {
        let mut p = promo(
            "c",
            0,
            false,
            Target::default(),
            Reward::AmountOff { amount: 1 },
        );
        p.coupon = Some("WELCOME".into());
        p.ends_at = Some(Timestamp(100));
        let ps = [p];
        assert_eq!(check_coupon(&ps, "WELCOME", Timestamp(5)), Ok(()));
        assert_eq!(
            check_coupon(&ps, "WELCOME", Timestamp(100)),
            Err(PromotionError::CouponNotValidNow("WELCOME".into()))
        );
        assert_eq!(
            check_coupon(&ps, "NOPE", Timestamp(5)),
            Err(PromotionError::UnknownCoupon("NOPE".into()))
        );
    }

    #[test]
    fn a_bundle_sells_its_units_at_the_fixed_price() {
        // Any 3 for 20.00.
        let lines = [
            line("a", "t", 2, 1_000),
            line("b", "t", 2, 600),
            line("c", "t", 1, 800),
        ];
        let p = promo(
            "3for20",
            0,
            false,
            Target::default(),
            Reward::BundlePrice {
                quantity: 3,
                price: 2_000,
            },
        );
        let d = best_discounts(std::slice::from_ref(&p), &[], &lines, Timestamp(0), eur()).unwrap();
        // Units dearest first: 1000, 1000, 800 | 600, 600. One bundle worth 28.00: save 8.00,
        // split 1000:1000:800 → 286 + 286 + 228 (leftover unit to the first).
        assert_eq!(
            amounts(&d),
            vec![
                vec![("3for20".into(), 572)],
                vec![],
                vec![("3for20".into(), 228)]
            ]
        );
        let cheap = [line("a", "t", 3, 500)];
        let d = best_discounts(&[p], &[], &cheap, Timestamp(0), eur()).unwrap();
        assert_eq!(
            amounts(&d),
            vec![vec![]],
            "a bundle dearer than its units gives nothing"
        );
    }

    #[test]
    fn coupon_use_limits_count_in_total_and_per_customer() {
        let mut p = promo(
            "c",
            0,
            false,
            Target::default(),
            Reward::AmountOff { amount: 1 },
        );
        p.max_uses = Some(2);
        assert_eq!(check_coupon_uses(&p, "C", 1, None), Ok(()));
        assert!(matches!(
            check_coupon_uses(&p, "C", 2, None),
            Err(PromotionError::CouponUsedUp {
                used: 2,
                max: 2,
                ..
            })
        ));
        p.max_uses_per_customer = Some(1);
        assert_eq!(
            check_coupon_uses(&p, "C", 0, None),
            Err(PromotionError::CouponNeedsCustomer("C".into()))
        );
        assert_eq!(check_coupon_uses(&p, "C", 1, Some(0)), Ok(()));
        assert!(check_coupon_uses(&p, "C", 1, Some(1)).is_err());
    }

    #[test]
    fn discounts_never_exceed_the_line() {
        let lines = [line("a", "t", 3, 100)];
        let p = promo(
            "huge",
            0,
            false,
            Target::default(),
            Reward::AmountOff { amount: 1_000 },
        );
        let d = best_discounts(&[p], &[], &lines, Timestamp(0), eur()).unwrap();
        assert_eq!(amounts(&d), vec![vec![("huge".into(), 300)]]);
    }
}
