//! GTINs and the GS1 check digit.

use std::fmt;

use super::error::Gs1Error;

/// The GS1 check digit of `digits` (the data digits without the check digit).
///
/// Weights 3, 1, 3, 1… from the rightmost data digit; check = (10 − sum mod 10) mod 10. Returns
/// `None` if `digits` holds a byte that is not an ASCII digit.
///
/// ```
/// assert_eq!(drivers::gs1::check_digit(b"590123412345"), Some(7));
/// assert_eq!(drivers::gs1::check_digit(b"0950600013435"), Some(2));
/// ```
pub fn check_digit(digits: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, b) in digits.iter().rev().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let weight = if i % 2 == 0 { 3 } else { 1 };
        sum += weight * u32::from(b - b'0');
    }
    // The remainder is < 10, so the cast cannot truncate.
    Some(((10 - sum % 10) % 10) as u8)
}

/// A Global Trade Item Number with a verified check digit, normalised to 14 digits.
///
/// GTIN-8, GTIN-12 (UPC-A) and GTIN-13 (EAN-13) are left-padded with zeros, as in AI (01) and
/// in GS1 Digital Link.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gtin([u8; 14]);

impl Gtin {
    /// Parses a GTIN-8, -12, -13 or -14 and verifies its check digit.
    ///
    /// ```
    /// let gtin = drivers::gs1::Gtin::parse("5901234123457").unwrap();
    /// assert_eq!(gtin.as_str(), "05901234123457");
    /// ```
    pub fn parse(s: &str) -> Result<Gtin, Gs1Error> {
        Self::parse_at(s.as_bytes(), 0)
    }

    /// Like [`Gtin::parse`], with error positions offset by `position`.
    pub(crate) fn parse_at(digits: &[u8], position: usize) -> Result<Gtin, Gs1Error> {
        if let Some(i) = digits.iter().position(|b| !b.is_ascii_digit()) {
            return Err(Gs1Error::GtinNonDigit {
                position: position + i,
            });
        }
        if !matches!(digits.len(), 8 | 12 | 13 | 14) {
            return Err(Gs1Error::GtinLength {
                position,
                len: digits.len(),
            });
        }
        let (body, check) = digits.split_at(digits.len() - 1);
        let expected = check_digit(body).unwrap_or(0);
        let found = check[0] - b'0';
        if expected != found {
            return Err(Gs1Error::GtinCheckDigit {
                position,
                expected,
                found,
            });
        }
        let mut out = [b'0'; 14];
        out[14 - digits.len()..].copy_from_slice(digits);
        Ok(Gtin(out))
    }

    /// Builds a GTIN from its data digits (7, 11, 12 or 13 of them) by appending the check digit.
    ///
    /// ```
    /// let gtin = drivers::gs1::Gtin::with_check_digit("590123412345").unwrap();
    /// assert_eq!(gtin.as_str(), "05901234123457");
    /// ```
    pub fn with_check_digit(body: &str) -> Result<Gtin, Gs1Error> {
        let check = check_digit(body.as_bytes()).ok_or_else(|| {
            let i = body.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(0);
            Gs1Error::GtinNonDigit { position: i }
        })?;
        let mut full = body.as_bytes().to_vec();
        full.push(b'0' + check);
        Self::parse_at(&full, 0)
    }

    /// The 14 digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The shortest standard form: GTIN-8, -12, -13 or -14, by stripping padding zeros.
    pub fn short_form(&self) -> &str {
        let s = self.as_str();
        for len in [8, 12, 13] {
            if s[..14 - len].bytes().all(|b| b == b'0') {
                return &s[14 - len..];
            }
        }
        s
    }
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gtin({})", self.as_str())
    }
}

/// Expands a UPC-E number (8 digits: number system 0 or 1, six digits, check digit) to the
/// UPC-A it stands for, and verifies the check digit.
pub(crate) fn expand_upc_e(d: &[u8], position: usize) -> Result<Gtin, Gs1Error> {
    if d.len() != 8 || !d.iter().all(u8::is_ascii_digit) || d[0] > b'1' {
        return Gtin::parse_at(d, position);
    }
    let (ns, x, check) = (d[0], &d[1..7], d[7]);
    let mut a = Vec::with_capacity(12);
    a.push(ns);
    match x[5] {
        b'0'..=b'2' => {
            a.extend_from_slice(&[x[0], x[1], x[5], b'0', b'0', b'0', b'0', x[2], x[3], x[4]])
        }
        b'3' => a.extend_from_slice(&[x[0], x[1], x[2], b'0', b'0', b'0', b'0', b'0', x[3], x[4]]),
        b'4' => a.extend_from_slice(&[x[0], x[1], x[2], x[3], b'0', b'0', b'0', b'0', b'0', x[4]]),
        _ => a.extend_from_slice(&[x[0], x[1], x[2], x[3], x[4], b'0', b'0', b'0', b'0', x[5]]),
    }
    a.push(check);
    Gtin::parse_at(&a, position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_from_the_reference() {
        assert_eq!(check_digit(b"590123412345"), Some(7));
        assert_eq!(check_digit(b"0950600013435"), Some(2));
        assert_eq!(check_digit(b"9638507"), Some(4)); // EAN-8 96385074
        assert_eq!(check_digit(b"03600029145"), Some(2)); // UPC-A 036000291452
        assert_eq!(check_digit(b"12a"), None);
    }

    #[test]
    fn all_lengths_normalise_to_14() {
        for (input, want) in [
            ("96385074", "00000096385074"),
            ("036000291452", "00036000291452"),
            ("5901234123457", "05901234123457"),
            ("09506000134352", "09506000134352"),
        ] {
            let g = Gtin::parse(input).unwrap();
            assert_eq!(g.as_str(), want);
        }
        assert_eq!(
            Gtin::parse("5901234123457").unwrap().short_form(),
            "5901234123457"
        );
        assert_eq!(Gtin::parse("96385074").unwrap().short_form(), "96385074");
        assert_eq!(
            Gtin::parse("036000291452").unwrap().short_form(),
            "036000291452"
        );
    }

    #[test]
    fn bad_gtins_are_typed_errors() {
        assert_eq!(
            Gtin::parse("5901234123458"),
            Err(Gs1Error::GtinCheckDigit {
                position: 0,
                expected: 7,
                found: 8
            })
        );
        assert_eq!(
            Gtin::parse("123456789"),
            Err(Gs1Error::GtinLength {
                position: 0,
                len: 9
            })
        );
        assert_eq!(
            Gtin::parse("59012341234x"),
            Err(Gs1Error::GtinNonDigit { position: 11 })
        );
        assert_eq!(
            Gtin::parse(""),
            Err(Gs1Error::GtinLength {
                position: 0,
                len: 0
            })
        );
    }

    #[test]
    fn upc_e_expands_to_upc_a() {
        assert_eq!(
            expand_upc_e(b"01234565", 0).unwrap().as_str(),
            "00012345000065"
        );
        // Last digit 3 and 4 cases: 0 1 2 3 4 3 -> 0 1 2 3 0 0 0 0 0 4 ... built from body.
        let a = Gtin::with_check_digit("01230000045").unwrap();
        let e = format!("0123453{}", &a.as_str()[13..]);
        assert_eq!(expand_upc_e(e.as_bytes(), 0).unwrap(), a);
        let a = Gtin::with_check_digit("01234000005").unwrap();
        let e = format!("0123454{}", &a.as_str()[13..]);
        assert_eq!(expand_upc_e(e.as_bytes(), 0).unwrap(), a);
        assert!(matches!(
            expand_upc_e(b"01234566", 0),
            Err(Gs1Error::GtinCheckDigit { .. })
        ));
    }
}
