//! GS1 element strings: AIs and values, with GS (0x1D) after variable-length values.

use super::ai::{interpret, lookup, Ai, Value};
use super::error::Gs1Error;

/// The group separator that stands for FNC1 in transmitted data.
pub const GS: u8 = 0x1d;

/// Parses an element string (without its symbology identifier) into AIs and typed values.
///
/// A leading GS (a transmitted leading FNC1) and redundant separators are skipped. A value of
/// predefined length (e.g. (01), (17), (310n)) is cut at its length; any other value runs to
/// the next GS or the end. `base` is added to every error position.
///
/// ```
/// use drivers::gs1::{parse_element_string, Ai, Value};
/// let els = parse_element_string(b"0109506000134352\x1d10AB-123\x1d21XYZ", 0).unwrap();
/// assert_eq!(els[1], (Ai::BATCH, Value::Text("AB-123".into())));
/// ```
pub fn parse_element_string(data: &[u8], base: usize) -> Result<Vec<(Ai, Value)>, Gs1Error> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        if data[i] == GS {
            i += 1;
            continue;
        }
        let (ai, def) = lookup(&data[i..]).ok_or(Gs1Error::UnknownAi { position: base + i })?;
        let start = i + ai.as_str().len();
        let rest = &data[start..];
        let end = match (def.predefined, def.fixed_len()) {
            (true, Some(n)) => {
                // Data that ends (or hits a separator) before the value does is too short.
                let avail = rest.iter().take(n).take_while(|&&b| b != GS).count();
                if avail < n {
                    let position = base + start;
                    return Err(Gs1Error::TooShort {
                        ai,
                        position,
                        len: avail,
                        min: n,
                    });
                }
                start + n
            }
            _ => start + rest.iter().position(|&b| b == GS).unwrap_or(rest.len()),
        };
        let value = interpret(ai, def, &data[start..end], base + start)?;
        out.push((ai, value));
        i = end;
    }
    Ok(out)
}

/// Encodes (AI, raw value) pairs as an element string: a GS after every value whose AI has
/// no predefined length, except after the last one. No leading FNC1 and no validation.
///
/// ```
/// use drivers::gs1::{encode_element_string, Ai};
/// let s = encode_element_string(&[(Ai::GTIN, "09506000134352"), (Ai::BATCH, "A1"),
///     (Ai::EXPIRY, "261231")]);
/// assert_eq!(s, "010950600013435210A1\u{1d}17261231");
/// ```
pub fn encode_element_string(elements: &[(Ai, &str)]) -> String {
    let mut s = String::new();
    for (i, (ai, value)) in elements.iter().enumerate() {
        s.push_str(ai.as_str());
        s.push_str(value);
        if i + 1 < elements.len() && !ai.is_predefined_length() {
            s.push(char::from(GS));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::ai::{Decimal, Gs1Date};
    use super::super::gtin::Gtin;
    use super::*;

    fn ai(s: &str) -> Ai {
        Ai::new(s).unwrap()
    }

    #[test]
    fn reference_example_from_protocols_md() {
        let data = b"010506091751001110628S93R\x1d17241000218898847482518646";
        let els = parse_element_string(data, 0).unwrap();
        assert_eq!(
            els,
            vec![
                (
                    Ai::GTIN,
                    Value::Gtin(Gtin::parse("05060917510011").unwrap())
                ),
                (Ai::BATCH, Value::Text("628S93R".into())),
                (
                    Ai::EXPIRY,
                    Value::Date(Gs1Date {
                        yy: 24,
                        month: 10,
                        day: None
                    })
                ),
                (Ai::SERIAL, Value::Text("8898847482518646".into())),
            ]
        );
    }

    #[test]
    fn weights_prices_and_amounts_are_integers_with_decimals() {
        let data = b"0109506000134352310300125032023456783922199\x1d3932978123456";
        let els = parse_element_string(data, 0).unwrap();
        assert_eq!(
            els[1],
            (
                ai("3103"),
                Value::Decimal(Decimal {
                    value: 1250,
                    decimals: 3
                })
            )
        );
        assert_eq!(
            els[2],
            (
                ai("3202"),
                Value::Decimal(Decimal {
                    value: 345678,
                    decimals: 2
                })
            )
        );
        assert_eq!(
            els[3],
            (
                ai("3922"),
                Value::Decimal(Decimal {
                    value: 199,
                    decimals: 2
                })
            )
        );
        let amount = Decimal {
            value: 123456,
            decimals: 2,
        };
        assert_eq!(
            els[4],
            (
                ai("3932"),
                Value::Amount {
                    currency: "978".into(),
                    amount
                }
            )
        );
    }

    #[test]
    fn sscc_and_other_keys_check_digits() {
        let els = parse_element_string(b"00106141411234567897", 0).unwrap();
        assert_eq!(
            els,
            vec![(Ai::SSCC, Value::Sscc("106141411234567897".into()))]
        );
        assert_eq!(
            parse_element_string(b"00106141411234567898", 0),
            Err(Gs1Error::CheckDigit {
                ai: Ai::SSCC,
                position: 2,
                expected: 7,
                found: 8
            })
        );
        assert_eq!(
            parse_element_string(b"0109506000134353", 4),
            Err(Gs1Error::CheckDigit {
                ai: Ai::GTIN,
                position: 6,
                expected: 2,
                found: 3
            })
        );
        // GLN (414) with a wrong check digit.
        assert!(matches!(
            parse_element_string(b"4145412345000012", 0),
            Err(Gs1Error::CheckDigit { .. })
        ));
        assert!(parse_element_string(b"4145412345000013", 0).is_ok());
    }

    #[test]
    fn separators_leading_redundant_and_trailing_are_tolerated() {
        let want = parse_element_string(b"10ABC\x1d21X", 0).unwrap();
        assert_eq!(
            parse_element_string(b"\x1d10ABC\x1d21X\x1d", 0).unwrap(),
            want
        );
        assert_eq!(parse_element_string(b"10ABC\x1d\x1d21X", 0).unwrap(), want);
        // A redundant GS after a predefined-length value.
        assert_eq!(
            parse_element_string(b"0109506000134352\x1d10X", 0).unwrap(),
            parse_element_string(b"010950600013435210X", 0).unwrap()
        );
    }

    #[test]
    fn errors_name_the_ai_and_position() {
        assert_eq!(
            parse_element_string(b"01095060001343", 0),
            Err(Gs1Error::TooShort {
                ai: Ai::GTIN,
                position: 2,
                len: 12,
                min: 14
            })
        );
        assert_eq!(
            parse_element_string(b"0109506000\x1d134352", 0),
            Err(Gs1Error::TooShort {
                ai: Ai::GTIN,
                position: 2,
                len: 8,
                min: 14
            })
        );
        assert_eq!(
            parse_element_string(b"10\x1d21X", 0),
            Err(Gs1Error::TooShort {
                ai: Ai::BATCH,
                position: 2,
                len: 0,
                min: 1
            })
        );
        // A missing separator: batch swallows the serial and gets too long.
        assert_eq!(
            parse_element_string(b"10ABCDEFGHIJ21KLMNOPQRSTUV", 0),
            Err(Gs1Error::TooLong {
                ai: Ai::BATCH,
                position: 2,
                len: 24,
                max: 20
            })
        );
        assert_eq!(
            parse_element_string(b"10AB C", 0),
            Err(Gs1Error::InvalidCharacter {
                ai: Ai::BATCH,
                position: 4,
                ch: ' '
            })
        );
        assert_eq!(
            parse_element_string(b"17241332", 0),
            Err(Gs1Error::InvalidDate {
                ai: Ai::EXPIRY,
                position: 2,
                value: "241332".into()
            })
        );
        assert_eq!(
            parse_element_string(b"0109506000134352\x1d04XYZ", 0),
            Err(Gs1Error::UnknownAi { position: 17 })
        );
        assert!(matches!(
            parse_element_string(b"3103x01250", 0),
            Err(Gs1Error::InvalidCharacter {
                position: 4,
                ch: 'x',
                ..
            })
        ));
        assert!(matches!(
            parse_element_string("10AB\u{e9}".as_bytes(), 0),
            Err(Gs1Error::InvalidCharacter {
                position: 4,
                ch: '\u{fffd}',
                ..
            })
        ));
    }

    #[test]
    fn fixed_length_without_predefined_length_needs_a_separator() {
        // (422) is N3 but not in the predefined table: it ends at GS.
        let els = parse_element_string(b"422276\x1d10A", 0).unwrap();
        assert_eq!(els[0], (ai("422"), Value::Text("276".into())));
        assert!(matches!(
            parse_element_string(b"42227610A", 0),
            Err(Gs1Error::TooLong { position: 3, .. })
        ));
    }

    #[test]
    fn composite_values_and_optional_parts() {
        // (8003) GRAI: N1 zero, N13 with check digit, optional serial.
        let els = parse_element_string(b"800305412345000013ABC", 0).unwrap();
        assert_eq!(els[0].1, Value::Text("05412345000013ABC".into()));
        assert!(parse_element_string(b"800305412345000013", 0).is_ok());
        // (7003) expiry date and time.
        assert_eq!(
            parse_element_string(b"70032412311230", 0).unwrap()[0].1,
            Value::Text("2412311230".into())
        );
        assert!(parse_element_string(b"70032413311230", 0).is_err());
        // (7006) a YYMMDD date without day 00.
        assert_eq!(
            parse_element_string(b"7006240101", 0).unwrap()[0].1,
            Value::Date(Gs1Date {
                yy: 24,
                month: 1,
                day: Some(1)
            })
        );
        assert!(parse_element_string(b"7006240100", 0).is_err());
    }

    #[test]
    fn encode_inserts_separators_only_where_needed() {
        let s = encode_element_string(&[
            (Ai::GTIN, "09506000134352"),
            (Ai::BATCH, "A1"),
            (Ai::EXPIRY, "261231"),
            (Ai::SERIAL, "S1"),
        ]);
        assert_eq!(s, "010950600013435210A1\u{1d}1726123121S1");
    }
}
