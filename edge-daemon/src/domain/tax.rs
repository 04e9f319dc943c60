//! Tax: rates per tax class, each a stack of jurisdictions (state, county, city), on prices that
//! include tax (VAT) or exclude it (US sales tax).
//!
//! Rates are parts per million (8.875 % is 88 750). Tax is computed per line and per
//! jurisdiction on the line's net after discounts, rounded half away from zero:
//! - exclusive: `tax_j = net × r_j / 1 000 000`, added on top of the net;
//! - inclusive: `tax_j = net × r_j / (1 000 000 + Σr)`, contained in the net.
//!
//! # Rounding
//! - Per line ([`TaxRounding::PerLine`], the default): each line's tax of each jurisdiction is
//!   rounded on its own.
//! - Per document ([`TaxRounding::PerDocument`]): the exact tax of each jurisdiction and rate is
//!   summed over the document's lines and rounded once; that amount is then split over the lines
//!   in proportion to their nets ([`super::amount::allocate`]), so lines still add up to the
//!   document.
//!
//! # Exemptions and cash rounding
//! A sale may be exempted with a reason (by a manager, or by an associate when
//! [`TaxConfig::exemption_by`] allows): no line is taxed. Stores whose prices include tax take
//! no exemptions (the price would have to be re-computed without the contained tax).
//! [`TaxConfig::cash_increment`] rounds what is settled in cash to a multiple of that many
//! minor units (5: to 0.05), half up; see [`round_cash`].

use std::collections::BTreeMap;

use protocol::pos::LineTax;
use protocol::{Money, MoneyError};
use serde::{Deserialize, Serialize};

use super::amount::scale;

/// One part per million.
pub const PPM: i128 = 1_000_000;

/// One jurisdiction's rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxRate {
    pub jurisdiction: String,
    pub rate_ppm: u32,
}

/// How tax amounts are rounded (module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxRounding {
    #[default]
    PerLine,
    PerDocument,
}

/// Who may exempt a sale from tax.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExemptionBy {
    #[default]
    Manager,
    /// Any associate (a manager too).
    Associate,
}

/// The store's tax configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxConfig {
    /// Prices include tax (VAT) when true.
    pub inclusive: bool,
    /// Tax class id → its jurisdictions' rates. A class with no rates is untaxed.
    pub classes: BTreeMap<String, Vec<TaxRate>>,
    #[serde(default)]
    pub rounding: TaxRounding,
    #[serde(default)]
    pub exemption_by: ExemptionBy,
    /// Cash is settled in multiples of this many minor units (5: to 0.05); absent or 1: exact.
    #[serde(default)]
    pub cash_increment: Option<i64>,
}

/// Why tax cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxError {
    #[error("tax class {0:?} is not configured")]
    UnknownClass(String),
    #[error("tax class {class:?}: rate {rate_ppm} ppm of {jurisdiction:?} is above 100 %")]
    RateTooHigh {
        class: String,
        jurisdiction: String,
        rate_ppm: u32,
    },
    #[error("cash_increment {0} must be 1 to 100 minor units")]
    BadCashIncrement(i64),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// `exact` rounded to a multiple of `increment`, half up (toward +∞ at the midpoint).
pub fn round_cash(exact: i64, increment: Option<i64>) -> i64 {
    match increment {
        Some(inc) if inc > 1 => {
            let r = exact.rem_euclid(inc);
            if 2 * r >= inc {
                exact - r + inc
            } else {
                exact - r
            }
        }
        _ => exact,
    }
}

impl TaxConfig {
    /// The taxes of each line, `(tax class, net)`, under the rounding mode; every line is
    /// untaxed when `exempt`.
    pub fn document_taxes(
        &self,
        lines: &[(&str, Money)],
        exempt: bool,
    ) -> Result<Vec<Vec<LineTax>>, TaxError> {
        let mut out: Vec<Vec<LineTax>> = lines
            .iter()
            .map(|(class, net)| self.line_taxes(class, *net))
            .collect::<Result<_, _>>()?;
        if exempt {
            return Ok(vec![Vec::new(); lines.len()]);
        }
        if self.rounding == TaxRounding::PerLine {
            return Ok(out);
        }
        // Group every (line, tax) by jurisdiction, rate and denominator; round each group once.
        let mut groups: BTreeMap<(String, u32, i128), Vec<(usize, usize)>> = BTreeMap::new();
        for (i, (class, _)) in lines.iter().enumerate() {
            let den = self.denominator(class)?;
            for (k, t) in out[i].iter().enumerate() {
                groups
                    .entry((t.jurisdiction.clone(), t.rate_ppm, den))
                    .or_default()
                    .push((i, k));
            }
        }
        for ((_, rate, den), members) in groups {
            let Some(&(first, _)) = members.first() else {
                continue;
            };
            let currency = lines[first].1.currency;
            let exact: i128 = members
                .iter()
                .map(|(i, _)| i128::from(lines[*i].1.minor) * i128::from(rate))
                .sum();
            let rounded = super::amount::div_round(exact, den);
            let total = Money::new(
                i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?,
                currency,
            );
            let weights: Vec<i64> = members.iter().map(|(i, _)| lines[*i].1.minor).collect();
            let parts = super::amount::allocate(total, &weights)?;
            for ((i, k), part) in members.into_iter().zip(parts) {
                out[i][k].amount = part;
            }
        }
        Ok(out)
    }

    fn denominator(&self, class: &str) -> Result<i128, TaxError> {
        let rates = self
            .classes
            .get(class)
            .ok_or_else(|| TaxError::UnknownClass(class.to_owned()))?;
        let total_rate: i128 = rates.iter().map(|r| i128::from(r.rate_ppm)).sum();
        Ok(if self.inclusive {
            PPM + total_rate
        } else {
            PPM
        })
    }

    /// Checks every rate is at most 100 % and the cash increment.
    pub fn validate(&self) -> Result<(), TaxError> {
        if let Some(inc) = self.cash_increment {
            if !(1..=100).contains(&inc) {
                return Err(TaxError::BadCashIncrement(inc));
            }
        }
        for (class, rates) in &self.classes {
            if let Some(r) = rates.iter().find(|r| i128::from(r.rate_ppm) > PPM) {
                return Err(TaxError::RateTooHigh {
                    class: class.clone(),
                    jurisdiction: r.jurisdiction.clone(),
                    rate_ppm: r.rate_ppm,
                });
            }
        }
        Ok(())
    }

    /// The tax of each jurisdiction on a line of class `class` whose net is `net`.
    pub fn line_taxes(&self, class: &str, net: Money) -> Result<Vec<LineTax>, TaxError> {
        let rates = self
            .classes
            .get(class)
            .ok_or_else(|| TaxError::UnknownClass(class.to_owned()))?;
        let den = self.denominator(class)?;
        rates
            .iter()
            .map(|r| {
                Ok(LineTax {
                    jurisdiction: r.jurisdiction.clone(),
                    rate_ppm: r.rate_ppm,
                    amount: scale(net, i128::from(r.rate_ppm), den)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use protocol::Currency;

    use super::*;

    fn usd(m: i64) -> Money {
        Money::new(m, Currency::new("USD").unwrap())
    }

    fn nyc(inclusive: bool) -> TaxConfig {
        let rate = |j: &str, r| TaxRate {
            jurisdiction: j.into(),
            rate_ppm: r,
        };
        TaxConfig {
            inclusive,
            classes: BTreeMap::from([
                (
                    "standard".into(),
                    vec![rate("state", 40_000), rate("city", 48_750)],
                ),
                ("exempt".into(), vec![]),
            ]),
            ..Default::default()
        }
    }

    #[test]
    fn exclusive_tax_is_added_per_jurisdiction() {
        let t = nyc(false).line_taxes("standard", usd(1_999)).unwrap();
        // 19.99 × 4 % = 0.7996 → 0.80; × 4.875 % = 0.9745 → 0.97.
        assert_eq!(t[0].amount, usd(80));
        assert_eq!(t[1].amount, usd(97));
        assert!(nyc(false)
            .line_taxes("exempt", usd(500))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn inclusive_tax_is_contained_in_the_price() {
        let mut vat = nyc(true);
        vat.classes.insert(
            "vat".into(),
            vec![TaxRate {
                jurisdiction: "de".into(),
                rate_ppm: 190_000,
            }],
        );
        // 11.90 incl. 19 % VAT holds 1.90.
        let t = vat.line_taxes("vat", usd(1_190)).unwrap();
        assert_eq!(t[0].amount, usd(190));
    }

    #[test]
    fn document_rounding_rounds_each_jurisdiction_once() {
        // Three lines of 0.10 at 4 %: 0.004 each. Per line: 0 + 0 + 0; per document: 0.012 → 0.01.
        let lines = [
            ("standard", usd(10)),
            ("standard", usd(10)),
            ("standard", usd(10)),
        ];
        let per_line = nyc(false).document_taxes(&lines, false).unwrap();
        let state = |t: &Vec<Vec<LineTax>>| t.iter().map(|l| l[0].amount.minor).sum::<i64>();
        assert_eq!(state(&per_line), 0);
        let mut doc = nyc(false);
        doc.rounding = TaxRounding::PerDocument;
        let per_doc = doc.document_taxes(&lines, false).unwrap();
        assert_eq!(state(&per_doc), 1);
        assert_eq!(
            per_doc[0][0].amount,
            usd(1),
            "the leftover goes to the first line"
        );
        assert!(doc
            .document_taxes(&lines, true)
            .unwrap()
            .iter()
            .all(Vec::is_empty));
    }

    #[test]
    fn cash_rounds_half_up_to_the_increment() {
        assert_eq!(round_cash(1_002, Some(5)), 1_000);
        assert_eq!(round_cash(1_003, Some(5)), 1_005);
        assert_eq!(round_cash(1_007, Some(5)), 1_005);
        assert_eq!(round_cash(1_008, Some(5)), 1_010);
        assert_eq!(round_cash(-3, Some(5)), -5);
        assert_eq!(round_cash(1_003, None), 1_003);
        assert_eq!(round_cash(1_003, Some(1)), 1_003);
    }

    #[test]
    fn unknown_classes_and_absurd_rates_are_refused() {
        assert_eq!(
            nyc(false).line_taxes("food", usd(1)),
            Err(TaxError::UnknownClass("food".into()))
        );
        let mut bad = nyc(false);
        bad.classes.insert(
            "x".into(),
            vec![TaxRate {
                jurisdiction: "j".into(),
                rate_ppm: 1_000_001,
            }],
        );
        assert!(matches!(bad.validate(), Err(TaxError::RateTooHigh { .. })));
        assert_eq!(nyc(false).validate(), Ok(()));
    }
}
