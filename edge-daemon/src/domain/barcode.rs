//! Barcodes as the catalog stores them and as scanners read them.
//!
//! A code of 8, 12, 13 or 14 digits is a GTIN: its check digit must be right, and it is stored
//! and looked up as its GTIN-14 (zero padded), so an EAN-13 scan finds a product listed by its
//! GTIN-14 and a UPC-A scan finds one listed by its EAN-13. Anything else is a store code (for
//! shelf labels and in-house items): 1 to 32 ASCII letters, digits or `-`, compared upper-case.

use drivers::gs1::Gtin;

/// The longest store code.
pub const MAX_STORE_CODE: usize = 32;

/// A barcode in its lookup form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Barcode {
    /// The 14 digits.
    Gtin(String),
    /// The upper-cased store code.
    Store(String),
}

/// Why a barcode is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarcodeError {
    #[error("{code:?} has the length of a GTIN but is not one: {reason}")]
    BadGtin { code: String, reason: String },
    #[error(
        "{code:?} is not a store code: 1 to {MAX_STORE_CODE} ASCII letters, digits or '-' allowed"
    )]
    BadStoreCode { code: String },
}

impl Barcode {
    /// Normalises a scanned or listed code. Surrounding white space is ignored.
    pub fn parse(raw: &str) -> Result<Barcode, BarcodeError> {
        let code = raw.trim();
        let digits = !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit());
        if digits && matches!(code.len(), 8 | 12 | 13 | 14) {
            return Gtin::parse(code)
                .map(|g| Barcode::Gtin(g.as_str().to_owned()))
                .map_err(|e| BarcodeError::BadGtin {
                    code: code.to_owned(),
                    reason: e.to_string(),
                });
        }
        let ok = (1..=MAX_STORE_CODE).contains(&code.len())
            && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(BarcodeError::BadStoreCode {
                code: code.to_owned(),
            });
        }
        Ok(Barcode::Store(code.to_ascii_uppercase()))
    }

    /// The key under which the store indexes it: `g` + 14 digits, or `s` + the store code.
    pub fn key(&self) -> String {
        match self {
            Barcode::Gtin(d) => format!("g{d}"),
            Barcode::Store(c) => format!("s{c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtins_of_every_length_normalise_to_gtin_14() {
        let cases = [
            ("96385074", "00000096385074"),
            ("036000291452", "00036000291452"),
            ("5901234123457", "05901234123457"),
            ("05901234123457", "05901234123457"),
            (" 4006381333931\n", "04006381333931"),
        ];
        for (raw, want) in cases {
            assert_eq!(Barcode::parse(raw), Ok(Barcode::Gtin(want.into())), "{raw}");
        }
        // UPC-A and its EAN-13 form are one key.
        assert_eq!(
            Barcode::parse("036000291452").unwrap().key(),
            Barcode::parse("0036000291452").unwrap().key()
        );
    }

    #[test]
    fn a_wrong_check_digit_is_refused() {
        let err = Barcode::parse("5901234123458").unwrap_err();
        assert!(matches!(err, BarcodeError::BadGtin { .. }), "{err}");
    }

    #[test]
    fn store_codes_are_case_insensitive_and_bounded() {
        assert_eq!(
            Barcode::parse("sku-42"),
            Ok(Barcode::Store("SKU-42".into()))
        );
        assert_eq!(Barcode::parse("12345"), Ok(Barcode::Store("12345".into())));
        for bad in ["", "   ", "a b", "é", &"x".repeat(33)] {
            assert!(Barcode::parse(bad).is_err(), "{bad:?}");
        }
    }
}
