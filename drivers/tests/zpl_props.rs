//! Property tests of the ZPL encoder and `~HS` parser.

use drivers::zpl::sim::SimLabel;
use drivers::zpl::{hex_escape, hex_unescape, HostStatus, Label};
use proptest::prelude::*;

proptest! {
    #[test]
    fn escaping_round_trips_and_stays_inert(text in any::<String>()) {
        let escaped = hex_escape(&text);
        prop_assert!(escaped.bytes().all(|b| (0x20..=0x7E).contains(&b)));
        prop_assert!(!escaped.contains('^') && !escaped.contains('~'));
        prop_assert_eq!(hex_unescape(&escaped), text);
    }

    #[test]
    fn text_survives_a_label(text in any::<String>(), h in 1u16..200) {
        let mut label = Label::new(812, 1218);
        label.text(0, 0, h, &text);
        let zpl = label.to_zpl();
        let parsed = SimLabel::parse(&zpl);
        prop_assert_eq!(parsed.data_of("A0"), vec![text.as_str()]);
    }

    #[test]
    fn host_status_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = HostStatus::parse(&bytes);
    }

    #[test]
    fn host_status_parser_on_near_valid_input(
        fields in prop::collection::vec("[0-9]{0,3}|x", 0..30),
        splits in (0usize..30, 0usize..30),
    ) {
        let (a, b) = (splits.0.min(fields.len()), splits.1.min(fields.len()));
        let (a, b) = (a.min(b), a.max(b));
        let s = |f: &[String]| f.join(",");
        let (s1, s2, s3) = (s(&fields[..a]), s(&fields[a..b]), s(&fields[b..]));
        let reply = format!("\x02{s1}\x03\r\n\x02{s2}\x03\r\n\x02{s3}\x03");
        let _ = HostStatus::parse(reply.as_bytes());
    }
}
