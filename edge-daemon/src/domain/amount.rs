//! Integer arithmetic on minor units: rounding, rates and proportional shares.
//!
//! Intermediate products are computed in `i128`, so `amount × rate` cannot overflow; a result
//! that does not fit `i64` is [`MoneyError::Overflow`].

use protocol::{Currency, Money, MoneyError};

/// `n / d` rounded half away from zero. `d` must be positive.
pub fn div_round(n: i128, d: i128) -> i128 {
    debug_assert!(d > 0);
    let q = n / d;
    let r = n % d;
    if 2 * r.abs() >= d {
        q + n.signum()
    } else {
        q
    }
}

fn fit(v: i128, currency: Currency) -> Result<Money, MoneyError> {
    i64::try_from(v)
        .map(|minor| Money::new(minor, currency))
        .map_err(|_| MoneyError::Overflow)
}

/// `m × num / den`, rounded half away from zero.
pub fn scale(m: Money, num: i128, den: i128) -> Result<Money, MoneyError> {
    fit(div_round(i128::from(m.minor) * num, den), m.currency)
}

/// `m × num / den`, rounded toward zero: a share that never exceeds the exact one.
pub fn share_floor(m: Money, num: i128, den: i128) -> Result<Money, MoneyError> {
    fit(i128::from(m.minor) * num / den, m.currency)
}

/// Splits `total` over `weights` in proportion, exactly: the parts sum to `total`. Each part is
/// first rounded toward zero; the leftover minor units go one each to the earliest parts with
/// a non-zero weight. All weights zero gives the whole amount to the first part.
pub fn allocate(total: Money, weights: &[i64]) -> Result<Vec<Money>, MoneyError> {
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if weights.is_empty() {
        return Ok(Vec::new());
    }
    let mut parts: Vec<Money> = if sum == 0 {
        let mut v = vec![Money::zero(total.currency); weights.len()];
        v[0] = total;
        return Ok(v);
    } else {
        weights
            .iter()
            .map(|w| share_floor(total, i128::from(*w), sum))
            .collect::<Result<_, _>>()?
    };
    let given = Money::checked_sum(total.currency, parts.iter().copied())?;
    let mut left = total.checked_sub(given)?.minor;
    let step = left.signum();
    for (part, w) in parts.iter_mut().zip(weights) {
        if left == 0 {
            break;
        }
        if *w != 0 {
            part.minor += step;
            left -= step;
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(m: i64) -> Money {
        Money::new(m, Currency::new("EUR").unwrap())
    }

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(div_round(5, 10), 1);
        assert_eq!(div_round(4, 10), 0);
        assert_eq!(div_round(-5, 10), -1);
        assert_eq!(div_round(-4, 10), 0);
        assert_eq!(div_round(15, 10), 2);
        assert_eq!(div_round(25, 10), 3);
    }

    #[test]
    fn allocation_is_exact_and_proportional() {
        let parts = allocate(eur(100), &[1, 1, 1]).unwrap();
        assert_eq!(parts, vec![eur(34), eur(33), eur(33)]);
        let parts = allocate(eur(-10), &[300, 100]).unwrap();
        assert_eq!(parts, vec![eur(-8), eur(-2)]);
        let parts = allocate(eur(7), &[0, 0]).unwrap();
        assert_eq!(parts, vec![eur(7), eur(0)]);
        let parts = allocate(eur(5), &[0, 2, 3]).unwrap();
        assert_eq!(parts, vec![eur(0), eur(2), eur(3)]);
    }

    #[test]
    fn scaling_reports_overflow() {
        assert_eq!(scale(eur(i64::MAX), 2, 1), Err(MoneyError::Overflow));
        assert_eq!(scale(eur(1000), 88_750, 1_000_000), Ok(eur(89)));
    }
}
