//! Tax: rates per tax class, each a stack of jurisdictions (state, county, city), on prices that
//! include tax (VAT) or exclude it (US sales tax).
//!
//! Rates are parts per million (8.875 % is 88 750). Tax is computed per line and per
//! jurisdiction on the line's net after discounts, rounded half away from zero:
//! - exclusive: `tax_j = net × r_j / 1 000 000`, added on top of the net;
//! - inclusive: `tax_j = net × r_j / (1 000 000 + Σr)`, contained in the net.

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

/// The store's tax configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxConfig {
    /// Prices include tax (VAT) when true.
    pub inclusive: bool,
    /// Tax class id → its jurisdictions' rates. A class with no rates is untaxed.
    pub classes: BTreeMap<String, Vec<TaxRate>>,
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
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl TaxConfig {
    /// Checks every rate is at most 100 %.
    pub fn validate(&self) -> Result<(), TaxError> {
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
        let total_rate: i128 = rates.iter().map(|r| i128::from(r.rate_ppm)).sum();
        let den = if self.inclusive {
            PPM + total_rate
        } else {
            PPM
        };
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
