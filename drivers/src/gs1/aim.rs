//! AIM symbology identifiers (ISO/IEC 15424): `]` + code character + modifier.

use std::fmt;

/// The symbology a scan came from, as told by its AIM identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Symbology {
    /// `]E0`: EAN-13, UPC-A or UPC-E (UPC-E arrives as 8 digits).
    Ean13,
    /// `]E1`: a 2-digit add-on alone.
    EanAddOn2,
    /// `]E2`: a 5-digit add-on alone.
    EanAddOn5,
    /// `]E3`: EAN-13/UPC with its add-on in one transmission.
    Ean13WithAddOn,
    /// `]E4`: EAN-8.
    Ean8,
    /// `]I1`: ITF with a check digit (ITF-14 carries a GTIN-14).
    Itf14,
    /// `]C0`: plain Code 128.
    Code128,
    /// `]C1`: GS1-128 (FNC1 in first position): element strings.
    Gs1_128,
    /// `]e0`: GS1 DataBar: element strings.
    Gs1DataBar,
    /// `]d1`: plain Data Matrix.
    DataMatrix,
    /// `]d2`: GS1 DataMatrix: element strings.
    Gs1DataMatrix,
    /// `]Q1`: plain QR Code (a GS1 Digital Link URI usually comes in one).
    QrCode,
    /// `]Q3`: GS1 QR Code: element strings.
    Gs1QrCode,
    /// `]J1`: GS1 DotCode: element strings.
    Gs1DotCode,
    /// Any other identifier, kept as its two characters (e.g. `]A0` Code 39, `]L0` PDF417).
    Other {
        /// The code character, e.g. `A`.
        code: char,
        /// The modifier character, e.g. `0`.
        modifier: char,
    },
}

impl Symbology {
    /// Reads an AIM identifier at the start of `data`; returns it and its length (3).
    pub fn from_prefix(data: &[u8]) -> Option<(Symbology, usize)> {
        match data {
            [b']', code, modifier, ..]
                if code.is_ascii_alphabetic() && modifier.is_ascii_alphanumeric() =>
            {
                Some((
                    Self::from_chars(char::from(*code), char::from(*modifier)),
                    3,
                ))
            }
            _ => None,
        }
    }

    fn from_chars(code: char, modifier: char) -> Symbology {
        match (code, modifier) {
            ('E', '0') => Symbology::Ean13,
            ('E', '1') => Symbology::EanAddOn2,
            ('E', '2') => Symbology::EanAddOn5,
            ('E', '3') => Symbology::Ean13WithAddOn,
            ('E', '4') => Symbology::Ean8,
            ('I', '1') => Symbology::Itf14,
            ('C', '0') => Symbology::Code128,
            ('C', '1') => Symbology::Gs1_128,
            ('e', '0') => Symbology::Gs1DataBar,
            ('d', '1') => Symbology::DataMatrix,
            ('d', '2') => Symbology::Gs1DataMatrix,
            ('Q', '1') => Symbology::QrCode,
            ('Q', '3') => Symbology::Gs1QrCode,
            ('J', '1') => Symbology::Gs1DotCode,
            (code, modifier) => Symbology::Other { code, modifier },
        }
    }

    /// The identifier's code and modifier characters.
    pub fn chars(&self) -> (char, char) {
        match *self {
            Symbology::Ean13 => ('E', '0'),
            Symbology::EanAddOn2 => ('E', '1'),
            Symbology::EanAddOn5 => ('E', '2'),
            Symbology::Ean13WithAddOn => ('E', '3'),
            Symbology::Ean8 => ('E', '4'),
            Symbology::Itf14 => ('I', '1'),
            Symbology::Code128 => ('C', '0'),
            Symbology::Gs1_128 => ('C', '1'),
            Symbology::Gs1DataBar => ('e', '0'),
            Symbology::DataMatrix => ('d', '1'),
            Symbology::Gs1DataMatrix => ('d', '2'),
            Symbology::QrCode => ('Q', '1'),
            Symbology::Gs1QrCode => ('Q', '3'),
            Symbology::Gs1DotCode => ('J', '1'),
            Symbology::Other { code, modifier } => (code, modifier),
        }
    }

    /// Whether the data is GS1 element strings (the symbology's leading FNC1 became this id).
    pub fn carries_element_strings(&self) -> bool {
        matches!(
            self,
            Symbology::Gs1_128
                | Symbology::Gs1DataBar
                | Symbology::Gs1DataMatrix
                | Symbology::Gs1QrCode
                | Symbology::Gs1DotCode
        )
    }
}

impl fmt::Display for Symbology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (code, modifier) = self.chars();
        write!(f, "]{code}{modifier}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_round_trip() {
        for id in [
            "]E0", "]E1", "]E2", "]E3", "]E4", "]I1", "]C0", "]C1", "]e0", "]d1", "]d2",
        ]
        .iter()
        .chain(&["]Q1", "]Q3", "]J1", "]A0", "]L2", "]z0"])
        {
            let (s, n) = Symbology::from_prefix(id.as_bytes()).unwrap();
            assert_eq!((s.to_string().as_str(), n), (*id, 3));
        }
        assert_eq!(
            Symbology::from_prefix(b"]C1010"),
            Some((Symbology::Gs1_128, 3))
        );
        assert!(Symbology::from_prefix(b"]C").is_none());
        assert!(Symbology::from_prefix(b"]1C").is_none());
        assert!(Symbology::from_prefix(b"C1]").is_none());
        assert!(Symbology::Gs1DataMatrix.carries_element_strings());
        assert!(!Symbology::QrCode.carries_element_strings());
    }
}
