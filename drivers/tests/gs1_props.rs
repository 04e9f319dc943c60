//! Property tests of GS1 interpretation: GTIN check digits, element strings built from random
//! valid AIs, Digital Link values, and arbitrary bytes.

use drivers::gs1::{
    check_digit, encode_element_string, parse, parse_digital_link, parse_element_string, Ai, Gtin,
    ScanData, Value,
};
use proptest::prelude::*;

/// Characters of CSET 82 (what X-type AIs such as batch and serial allow).
const CSET82: &str = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_\
                      abcdefghijklmnopqrstuvwxyz";

fn digits(n: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, n)
        .prop_map(|v| v.iter().map(|d| (b'0' + d) as char).collect())
}

fn cset82(min: usize, max: usize) -> impl Strategy<Value = String> {
    let chars: Vec<char> = CSET82.chars().collect();
    proptest::collection::vec(proptest::sample::select(chars), min..=max)
        .prop_map(|v| v.into_iter().collect())
}

fn with_check(body: String) -> String {
    let c = check_digit(body.as_bytes()).unwrap();
    format!("{body}{c}")
}

/// A valid (AI, raw value) pair from a spread of AI kinds: keys with check digits, dates with
/// and without day 00, decimals, amounts, and variable-length text.
fn element() -> impl Strategy<Value = (String, String)> {
    let date = (0u8..100, 1u8..13, 0u8..29).prop_map(|(y, m, d)| format!("{y:02}{m:02}{d:02}"));
    prop_oneof![
        digits(13).prop_map(|b| ("01".to_string(), with_check(b))),
        digits(13).prop_map(|b| ("02".to_string(), with_check(b))),
        digits(17).prop_map(|b| ("00".to_string(), with_check(b))),
        cset82(1, 20).prop_map(|v| ("10".to_string(), v)),
        cset82(1, 20).prop_map(|v| ("21".to_string(), v)),
        (
            prop::sample::select(vec!["11", "13", "15", "16", "17"]),
            date.clone()
        )
            .prop_map(|(ai, d)| (ai.to_string(), d)),
        (0u8..6, digits(6)).prop_map(|(n, v)| (format!("310{n}"), v)),
        (0u8..6, digits(6)).prop_map(|(n, v)| (format!("320{n}"), v)),
        (0u8..10, 1usize..16)
            .prop_flat_map(|(n, len)| digits(len).prop_map(move |v| (format!("392{n}"), v))),
        (0u8..10, 1usize..16).prop_flat_map(
            |(n, len)| digits(len).prop_map(move |v| (format!("393{n}"), format!("978{v}")))
        ),
        digits(12).prop_map(|b| ("414".to_string(), with_check(b))),
        cset82(1, 30).prop_map(|v| ("240".to_string(), v)),
        cset82(1, 90).prop_map(|v| ("91".to_string(), v)),
        (1usize..9)
            .prop_flat_map(digits)
            .prop_map(|v| ("30".to_string(), v)),
    ]
}

proptest! {
    #[test]
    fn gtin_with_computed_check_digit_round_trips(
        len in prop::sample::select(vec![7usize, 11, 12, 13]),
        seed in digits(13),
    ) {
        let body = &seed[..len];
        let full = with_check(body.to_string());
        let gtin = Gtin::parse(&full).unwrap();
        prop_assert_eq!(gtin.as_str().len(), 14);
        prop_assert_eq!(gtin.as_str().trim_start_matches('0'), full.trim_start_matches('0'));
        prop_assert_eq!(Gtin::with_check_digit(body).unwrap(), gtin);
        prop_assert_eq!(Gtin::parse(gtin.as_str()).unwrap(), gtin);
        // Any other check digit is rejected.
        let last = full.as_bytes()[full.len() - 1];
        let wrong = format!("{}{}", body, (last - b'0' + 1) % 10);
        prop_assert!(Gtin::parse(&wrong).is_err());
        // Interpreted as an EAN/UPC scan (8 digits under ]E0 would be UPC-E: use ]E4).
        let aim = if full.len() == 8 { "]E4" } else { "]E0" };
        let scan = parse(format!("{aim}{full}").as_bytes()).unwrap();
        prop_assert_eq!(scan.data, ScanData::Gtin(gtin));
    }

    #[test]
    fn element_strings_parse_back_to_the_same_elements(
        elements in proptest::collection::vec(element(), 1..8),
    ) {
        let pairs: Vec<(Ai, &str)> = elements
            .iter()
            .map(|(ai, v)| (Ai::new(ai).unwrap(), v.as_str()))
            .collect();
        let encoded = encode_element_string(&pairs);
        let parsed = parse_element_string(encoded.as_bytes(), 0)
            .map_err(|e| TestCaseError::fail(format!("{encoded:?}: {e}")))?;
        prop_assert_eq!(parsed.len(), pairs.len());
        for ((ai, raw), (got_ai, value)) in pairs.iter().zip(&parsed) {
            prop_assert_eq!(ai, got_ai);
            // Each value, parsed alone, gives the same typed value.
            let alone = parse_element_string(format!("{ai}{raw}").as_bytes(), 0).unwrap();
            prop_assert_eq!(&alone[0].1, value);
            if let Value::Text(t) = value {
                prop_assert_eq!(t, raw);
            }
        }
        // The same data scanned from a GS1 DataMatrix.
        let scan = parse(format!("]d2{encoded}").as_bytes()).unwrap();
        prop_assert_eq!(scan.data, ScanData::Gs1 { elements: parsed });
    }

    #[test]
    fn digital_link_values_survive_percent_encoding(
        gtin in digits(13).prop_map(with_check),
        lot in cset82(1, 20),
        serial in cset82(1, 20),
    ) {
        let enc = |s: &str| -> String {
            s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() }
                else { format!("%{b:02X}") }).collect()
        };
        let uri = format!("https://example.org/01/{gtin}/10/{}/21/{}", enc(&lot), enc(&serial));
        let els = parse_digital_link(&uri, 0).unwrap().unwrap();
        prop_assert_eq!(&els[1], &(Ai::BATCH, Value::Text(lot)));
        prop_assert_eq!(&els[2], &(Ai::SERIAL, Value::Text(serial)));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse(&data);
        let _ = parse_element_string(&data, 0);
    }

    #[test]
    fn arbitrary_gs1_like_bytes_never_panic(
        prefix in prop::sample::select(vec!["", "]C1", "]d2", "]E0", "]Q1", "https://x/01/"]),
        body in proptest::collection::vec(
            prop::sample::select(b"0123456789\x1dABz%/?=&-".to_vec()), 0..80),
    ) {
        let mut data = prefix.as_bytes().to_vec();
        data.extend(body);
        let _ = parse(&data);
    }
}
