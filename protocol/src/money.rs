//! Money: integer minor units with an ISO 4217 currency. No floats anywhere.
//!
//! Arithmetic is checked: adding two currencies or overflowing `i64` is an error, never a
//! silently wrong amount.

use serde::{Deserialize, Serialize};

/// Why a money operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency code {0:?} is not three upper-case ASCII letters")]
    BadCurrency(String),
    #[error("cannot combine {left} with {right}: different currencies")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("amount overflows the range of minor units")]
    Overflow,
}

/// An ISO 4217 alphabetic code, such as `EUR` or `USD`.
///
/// Serialized as the string `"EUR"` in human-readable formats (JSON) and as its three raw bytes
/// in binary ones (postcard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Validates a three-letter upper-case code.
    pub fn new(code: &str) -> Result<Currency, MoneyError> {
        let b = code.as_bytes();
        match b {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => {
                Ok(Currency([*a, *b, *c]))
            }
            _ => Err(MoneyError::BadCurrency(code.to_owned())),
        }
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(self.as_str())
        } else {
            s.serialize_newtype_struct("Currency", &self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            return Currency::new(&s).map_err(serde::de::Error::custom);
        }
        let raw = <[u8; 3]>::deserialize(d)?;
        let s = std::str::from_utf8(&raw).map_err(serde::de::Error::custom)?;
        Currency::new(s).map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money: `minor` units (cents, pence) of `currency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    /// `minor` units of `currency`.
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Zero of `currency`.
    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`, refusing mixed currencies and overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// `self - other`, refusing mixed currencies and overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// `self × n`, refusing overflow.
    pub fn checked_mul(self, n: i64) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_mul(n).ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// `-self`, refusing overflow (`i64::MIN`).
    pub fn checked_neg(self) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_neg().ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// Sums `items` in `currency`; an empty iterator gives zero.
    pub fn checked_sum(
        currency: Currency,
        items: impl IntoIterator<Item = Money>,
    ) -> Result<Money, MoneyError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), Money::checked_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::new("EUR").unwrap()
    }

    fn usd() -> Currency {
        Currency::new("USD").unwrap()
    }

    #[test]
    fn currency_accepts_three_upper_case_letters() {
        for code in ["EUR", "USD", "GBP", "JPY", "AAA", "ZZZ"] {
            let c = Currency::new(code).unwrap();
            assert_eq!(c.as_str(), code);
            assert_eq!(c.to_string(), code);
        }
    }

    #[test]
    fn currency_refuses_bad_codes() {
        for code in [
            "", "E", "EU", "EURO", "eur", "Eur", "EU1", "E-R", " EU", "EUR ", "ÉUR", "€",
        ] {
            assert_eq!(
                Currency::new(code),
                Err(MoneyError::BadCurrency(code.to_owned())),
                "{code:?}"
            );
        }
    }

    #[test]
    fn adds_and_subtracts_in_one_currency() {
        let a = Money::new(1_250, eur());
        let b = Money::new(-300, eur());
        assert_eq!(a.checked_add(b), Ok(Money::new(950, eur())));
        assert_eq!(a.checked_sub(b), Ok(Money::new(1_550, eur())));
        assert_eq!(a.checked_mul(3), Ok(Money::new(3_750, eur())));
        assert_eq!(a.checked_mul(-1), Ok(Money::new(-1_250, eur())));
        assert_eq!(b.checked_neg(), Ok(Money::new(300, eur())));
        assert_eq!(Money::zero(usd()), Money::new(0, usd()));
    }

    #[test]
    fn mixed_currencies_are_refused() {
        let e = Money::new(100, eur());
        let u = Money::new(100, usd());
        let mismatch = MoneyError::CurrencyMismatch {
            left: eur(),
            right: usd(),
        };
        assert_eq!(e.checked_add(u), Err(mismatch.clone()));
        assert_eq!(e.checked_sub(u), Err(mismatch));
        assert_eq!(
            u.checked_add(e),
            Err(MoneyError::CurrencyMismatch {
                left: usd(),
                right: eur()
            })
        );
        // Zero is not a wildcard: zero dollars is still dollars.
        assert!(e.checked_add(Money::zero(usd())).is_err());
    }

    #[test]
    fn overflow_is_refused() {
        let max = Money::new(i64::MAX, eur());
        let min = Money::new(i64::MIN, eur());
        let one = Money::new(1, eur());
        assert_eq!(max.checked_add(one), Err(MoneyError::Overflow));
        assert_eq!(min.checked_sub(one), Err(MoneyError::Overflow));
        assert_eq!(max.checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(min.checked_mul(-1), Err(MoneyError::Overflow));
        assert_eq!(min.checked_neg(), Err(MoneyError::Overflow));
        // The edges themselves are fine.
        assert_eq!(max.checked_sub(one), Ok(Money::new(i64::MAX - 1, eur())));
        assert_eq!(max.checked_neg(), Ok(Money::new(-i64::MAX, eur())));
    }

    #[test]
    fn checked_sum_adds_everything_or_fails() {
        let items = [100, 250, -50].map(|m| Money::new(m, eur()));
        assert_eq!(Money::checked_sum(eur(), items), Ok(Money::new(300, eur())));
        assert_eq!(Money::checked_sum(usd(), []), Ok(Money::zero(usd())));

        let mixed = [Money::new(1, eur()), Money::new(1, usd())];
        assert_eq!(
            Money::checked_sum(eur(), mixed),
            Err(MoneyError::CurrencyMismatch {
                left: eur(),
                right: usd()
            })
        );
        // The sum's currency is checked even for the first item.
        assert!(Money::checked_sum(usd(), [Money::new(1, eur())]).is_err());

        let big = [Money::new(i64::MAX, eur()), Money::new(1, eur())];
        assert_eq!(Money::checked_sum(eur(), big), Err(MoneyError::Overflow));
    }

    #[test]
    fn json_uses_the_currency_code() {
        let m = Money::new(-1_999, eur());
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"minor":-1999,"currency":"EUR"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        assert!(serde_json::from_str::<Currency>(r#""eur""#).is_err());
        assert!(serde_json::from_str::<Currency>(r#""EURO""#).is_err());
    }

    #[test]
    fn postcard_uses_three_raw_bytes_and_validates_them() {
        let bytes = postcard::to_stdvec(&Money::new(1, usd())).unwrap();
        // minor: zigzag varint of 1 = 0x02; currency: the three ASCII bytes, no length prefix.
        assert_eq!(bytes, [0x02, b'U', b'S', b'D']);
        assert_eq!(
            postcard::from_bytes::<Money>(&bytes).unwrap(),
            Money::new(1, usd())
        );
        assert!(postcard::from_bytes::<Currency>(b"usd").is_err());
        assert!(postcard::from_bytes::<Currency>(&[0xff, 0xfe, 0x41]).is_err());
    }
}
