//! Interpretation of scan data: AIM symbology identifiers, GTINs, GS1 element strings and
//! GS1 Digital Link URIs.
//!
//! [`parse`] turns the bytes of one scan (as framed by [`crate::scanner`]) into a typed
//! [`Scan`]. It does no I/O and never panics on any input (fuzz target `gs1_parse`).
//!
//! # How data is classified
//! 1. A leading `]Cm` AIM identifier becomes [`Scan::symbology`] and is stripped.
//! 2. GS1 symbologies (`]C1`, `]e0`, `]d2`, `]Q3`, `]J1`), or data that starts with GS (0x1D, a
//!    transmitted FNC1), or data without an identifier that contains a GS, are element
//!    strings: [`ScanData::Gs1`]. Errors are returned, never downgraded to plain text.
//! 3. `]E0`/`]E4` (and `]I1` with 14 digits) are GTINs with a verified check digit; 8 digits
//!    under `]E0` are UPC-E and are expanded to the UPC-A they stand for.
//! 4. An `http(s)://` URI whose path holds a GS1 primary key (e.g. `/01/{gtin}`) is a
//!    [`ScanData::DigitalLink`]; any other URI is plain text.
//! 5. Without an identifier, 8, 12, 13 or 14 digits with a valid check digit are a GTIN.
//! 6. Everything else is [`ScanData::Plain`].
//!
//! # Layout
//! - `aim`: [`Symbology`]. - `gtin`: [`Gtin`], [`check_digit`]. - `ai` and `ai_table`: [`Ai`],
//!   the AI table generated from the GS1 Barcode Syntax Dictionary (`gen_ai_table.py`), typed
//!   [`Value`]s. - `element`: element strings. - `digital_link`: Digital Link URIs.
//!
//! # Current limitations
//! - Of the dictionary's linters only check digits (`csum`) and dates (`yymmd0`, `yymmdd`) are
//!   applied; ISO country/currency codes, `csumalpha`, `pcenc` and AI pairing rules (`req`,
//!   `ex`) are not checked. The table is the dictionary revision named in `ai_table.rs`.
//! - EAN add-ons (`]E1`–`]E3`) are returned as plain text, not split into GTIN + add-on.
//! - GTIN-8 and UPC-E cannot be told apart without an AIM identifier: 8 digits without one
//!   are taken as GTIN-8.
//! - Compressed Digital Link URIs and the bracketed human-readable form `(01)…(10)…` are not
//!   parsed (they come out as plain text).
//! - The century of a date is not resolved here: see [`Gs1Date::full_year`].
//! - Every AIM identifier is read as three characters; the length digit some `]Y…` forms
//!   carry is left in the data.

mod ai;
mod ai_table;
mod aim;
mod digital_link;
mod element;
mod error;
mod gtin;

pub use ai::{Ai, Decimal, Gs1Date, Value};
pub use aim::Symbology;
pub use digital_link::parse_digital_link;
pub use element::{encode_element_string, parse_element_string, GS};
pub use error::Gs1Error;
pub use gtin::{check_digit, Gtin};

/// One interpreted scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The symbology, if the scanner sent an AIM identifier.
    pub symbology: Option<Symbology>,
    /// The data.
    pub data: ScanData,
}

/// What a scan contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanData {
    /// A GTIN (EAN/UPC/ITF-14), check digit verified, normalised to 14 digits.
    Gtin(Gtin),
    /// GS1 element strings, in the order of the data.
    Gs1 {
        /// The AIs and their typed values.
        elements: Vec<(Ai, Value)>,
    },
    /// A GS1 Digital Link URI.
    DigitalLink {
        /// The URI as scanned.
        uri: String,
        /// Primary key, path qualifiers, then query-string AIs.
        elements: Vec<(Ai, Value)>,
    },
    /// Anything else, as text.
    Plain(String),
}

impl Scan {
    /// Interprets the bytes of one scan; see the [module docs](self) for the rules.
    pub fn parse(data: &[u8]) -> Result<Scan, Gs1Error> {
        parse(data)
    }

    /// The trade item's GTIN: the scanned GTIN, or AI (01) of element strings or a Digital Link.
    pub fn gtin(&self) -> Option<Gtin> {
        match &self.data {
            ScanData::Gtin(g) => Some(*g),
            _ => match self.data.element(Ai::GTIN) {
                Some(Value::Gtin(g)) => Some(*g),
                _ => None,
            },
        }
    }
}

impl ScanData {
    /// The elements, for element strings and Digital Links; empty otherwise.
    pub fn elements(&self) -> &[(Ai, Value)] {
        match self {
            ScanData::Gs1 { elements } | ScanData::DigitalLink { elements, .. } => elements,
            _ => &[],
        }
    }

    /// The value of the first element with this AI.
    pub fn element(&self, ai: Ai) -> Option<&Value> {
        self.elements()
            .iter()
            .find(|(a, _)| *a == ai)
            .map(|(_, v)| v)
    }
}

/// Interprets the bytes of one scan (without its suffix) into a [`Scan`].
///
/// ```
/// use drivers::gs1::{parse, Ai, ScanData, Symbology, Value};
/// let scan = parse(b"]C10109506000134352\x1d10AB12").unwrap();
/// assert_eq!(scan.symbology, Some(Symbology::Gs1_128));
/// assert_eq!(scan.data.element(Ai::BATCH), Some(&Value::Text("AB12".into())));
/// assert!(matches!(parse(b"]E05901234123457").unwrap().data, ScanData::Gtin(_)));
/// assert!(parse(b"]E05901234123458").is_err());
/// ```
pub fn parse(input: &[u8]) -> Result<Scan, Gs1Error> {
    let (symbology, skip) = match Symbology::from_prefix(input) {
        Some((s, n)) => (Some(s), n),
        None => (None, 0),
    };
    let data = &input[skip..];
    if data.is_empty() {
        return Err(Gs1Error::Empty);
    }
    let scan = |data| Ok(Scan { symbology, data });

    let element_strings = match symbology {
        Some(s) => s.carries_element_strings() || data[0] == GS,
        None => data.contains(&GS),
    };
    if element_strings {
        let elements = parse_element_string(data, skip)?;
        if elements.is_empty() {
            return Err(Gs1Error::Empty);
        }
        return scan(ScanData::Gs1 { elements });
    }

    let text = std::str::from_utf8(data).map_err(|e| Gs1Error::NotUtf8 {
        position: skip + e.valid_up_to(),
    })?;
    match symbology {
        Some(Symbology::Ean13) if data.len() == 8 => {
            return scan(ScanData::Gtin(gtin::expand_upc_e(data, skip)?));
        }
        Some(Symbology::Ean13 | Symbology::Ean8) => {
            return scan(ScanData::Gtin(Gtin::parse_at(data, skip)?));
        }
        Some(Symbology::Itf14) if data.len() == 14 => {
            return scan(ScanData::Gtin(Gtin::parse_at(data, skip)?));
        }
        None if matches!(data.len(), 8 | 12 | 13 | 14) => {
            if let Ok(g) = Gtin::parse_at(data, skip) {
                return scan(ScanData::Gtin(g));
            }
        }
        _ => {}
    }
    if let Some(elements) = parse_digital_link(text, skip)? {
        return scan(ScanData::DigitalLink {
            uri: text.to_owned(),
            elements,
        });
    }
    scan(ScanData::Plain(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gtin(s: &str) -> ScanData {
        ScanData::Gtin(Gtin::parse(s).unwrap())
    }

    #[test]
    fn retail_barcodes_become_gtins() {
        let s = parse(b"]E05901234123457").unwrap();
        assert_eq!(
            s,
            Scan {
                symbology: Some(Symbology::Ean13),
                data: gtin("5901234123457")
            }
        );
        assert_eq!(parse(b"]E001234565").unwrap().data, gtin("00012345000065"));
        assert_eq!(parse(b"]E496385074").unwrap().data, gtin("96385074"));
        assert_eq!(
            parse(b"]I109506000134352").unwrap().data,
            gtin("09506000134352")
        );
        assert_eq!(
            parse(b"5901234123457").unwrap(),
            Scan {
                symbology: None,
                ..s
            }
        );
        assert_eq!(
            parse(b"]E05901234123458"),
            Err(Gs1Error::GtinCheckDigit {
                position: 3,
                expected: 7,
                found: 8
            })
        );
        assert_eq!(
            parse(b"]E0590123412"),
            Err(Gs1Error::GtinLength {
                position: 3,
                len: 9
            })
        );
    }

    #[test]
    fn numbers_that_are_not_gtins_stay_plain() {
        assert_eq!(
            parse(b"5901234123458").unwrap().data,
            ScanData::Plain("5901234123458".into())
        );
        assert_eq!(
            parse(b"]I1123456").unwrap().data,
            ScanData::Plain("123456".into())
        );
        let s = parse(b"]C0ABC-1").unwrap();
        assert_eq!(s.symbology, Some(Symbology::Code128));
        assert_eq!(s.data, ScanData::Plain("ABC-1".into()));
        assert_eq!(
            parse(b"]E2 12345").unwrap().data,
            ScanData::Plain(" 12345".into())
        );
        assert_eq!(
            parse("Grüße".as_bytes()).unwrap().data,
            ScanData::Plain("Grüße".into())
        );
    }

    #[test]
    fn gs1_symbologies_and_separators_mean_element_strings() {
        let want = vec![
            (
                Ai::GTIN,
                Value::Gtin(Gtin::parse("09506000134352").unwrap()),
            ),
            (Ai::BATCH, Value::Text("AB12".into())),
        ];
        for input in [
            &b"]C10109506000134352\x1d10AB12"[..],
            b"]d2\x1d0109506000134352\x1d10AB12\x1d",
            b"]Q3010950600013435210AB12",
            b"]e0010950600013435210AB12",
            b"\x1d010950600013435210AB12",
            b"10AB12\x1d0109506000134352",
        ] {
            let scan = parse(input).unwrap();
            let mut els = scan.data.elements().to_vec();
            els.sort_by_key(|(ai, _)| *ai);
            assert_eq!(els, want, "{input:?}");
            assert_eq!(scan.gtin(), Some(Gtin::parse("09506000134352").unwrap()));
        }
        assert_eq!(
            parse(b"]C10109506000134353"),
            Err(Gs1Error::CheckDigit {
                ai: Ai::GTIN,
                position: 5,
                expected: 2,
                found: 3
            })
        );
        assert_eq!(
            parse(b"]C1\x1d99"),
            Err(Gs1Error::TooShort {
                ai: Ai::new("99").unwrap(),
                position: 6,
                len: 0,
                min: 1
            })
        );
    }

    #[test]
    fn digital_links_and_plain_links() {
        let uri = "https://id.gs1.org/01/09506000134352/10/ABC123?17=261200";
        let scan = parse(format!("]Q1{uri}").as_bytes()).unwrap();
        assert_eq!(scan.symbology, Some(Symbology::QrCode));
        let ScanData::DigitalLink { uri: u, elements } = &scan.data else {
            panic!("{scan:?}")
        };
        assert_eq!((u.as_str(), elements.len()), (uri, 3));
        assert_eq!(
            scan.data.element(Ai::EXPIRY),
            Some(&Value::Date(Gs1Date {
                yy: 26,
                month: 12,
                day: None
            }))
        );
        assert_eq!(scan.gtin(), Some(Gtin::parse("09506000134352").unwrap()));
        let plain = parse(b"https://example.com/menu").unwrap();
        assert_eq!(
            plain.data,
            ScanData::Plain("https://example.com/menu".into())
        );
        assert_eq!(plain.gtin(), None);
        assert_eq!(
            parse(b"https://id.gs1.org/01/09506000134352/10/A%2"),
            Err(Gs1Error::PercentEncoding { position: 41 })
        );
    }

    #[test]
    fn empty_and_binary_data() {
        assert_eq!(parse(b""), Err(Gs1Error::Empty));
        assert_eq!(parse(b"]C1"), Err(Gs1Error::Empty));
        assert_eq!(parse(b"\x1d\x1d"), Err(Gs1Error::Empty));
        assert_eq!(parse(b"]C0ab\xff"), Err(Gs1Error::NotUtf8 { position: 5 }));
        assert!(parse(b"\x1d\xff").is_err());
    }
}
