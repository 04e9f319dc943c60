//! Property tests of the ESC/POS encoder and status parsers.

use drivers::escpos::status::{next_incoming, Incoming};
use drivers::escpos::{
    encode, Align, Barcode, Block, CodePage, Column, ColumnWidth, Cut, DrawerKick, DrawerPin, Font,
    Paper, PrinterProfile, PrinterStatus, QrCode, RasterImage, Receipt, Style, Underline,
};
use proptest::prelude::*;

fn align() -> impl Strategy<Value = Align> {
    prop_oneof![Just(Align::Left), Just(Align::Center), Just(Align::Right)]
}

fn style() -> impl Strategy<Value = Style> {
    (any::<[bool; 4]>(), 0u8..3, align()).prop_map(|(b, u, align)| Style {
        bold: b[0],
        underline: [Underline::None, Underline::Thin, Underline::Thick][usize::from(u)],
        double_width: b[1],
        double_height: b[2],
        inverted: b[3],
        align,
    })
}

fn width() -> impl Strategy<Value = ColumnWidth> {
    prop_oneof![
        any::<u16>().prop_map(ColumnWidth::Fixed),
        Just(ColumnWidth::Auto),
        Just(ColumnWidth::Fill)
    ]
}

fn block() -> impl Strategy<Value = Block> {
    prop_oneof![
        (any::<String>(), style()).prop_map(|(text, style)| Block::Text { text, style }),
        (
            prop::collection::vec((any::<String>(), width(), align()), 0..5),
            style()
        )
            .prop_map(|(cols, style)| Block::Row {
                columns: cols
                    .into_iter()
                    .map(|(t, w, a)| Column::new(t, w, a))
                    .collect(),
                style,
            }),
        any::<char>().prop_map(Block::Separator),
        (any::<String>(), align()).prop_filter_map("invalid", |(s, align)| {
            Some(Block::Barcode {
                barcode: Barcode::code128(&s).ok()?,
                align,
            })
        }),
        ("[0-9]{12}", align()).prop_map(|(s, align)| Block::Barcode {
            barcode: Barcode::ean13(&s).unwrap(),
            align,
        }),
        (
            prop::collection::vec(any::<u8>(), 1..300),
            1u8..=16,
            align()
        )
            .prop_map(|(d, m, align)| Block::Qr {
                qr: QrCode::new(d).unwrap().with_module_size(m).unwrap(),
                align
            }),
        (1u16..700, 1u16..300, align()).prop_map(|(w, h, align)| Block::Image {
            image: RasterImage::from_fn(w, h, |x, y| (x ^ y) & 1 == 0).unwrap(),
            align,
        }),
        any::<u8>().prop_map(Block::Feed),
        any::<bool>().prop_map(|b| Block::Cut(if b { Cut::Full } else { Cut::Partial })),
        (any::<bool>(), 2u16..=510, 0u16..=510).prop_filter_map("invalid", |(p, on, off)| {
            let pin = if p { DrawerPin::Pin5 } else { DrawerPin::Pin2 };
            Some(Block::Kick(DrawerKick::new(pin, on, off).ok()?))
        }),
    ]
}

fn profile() -> impl Strategy<Value = PrinterProfile> {
    (
        any::<bool>(),
        any::<bool>(),
        0u16..100,
        0u16..1000,
        prop::sample::subsequence(CodePage::ALL.to_vec(), 0..4),
    )
        .prop_map(|(p, f, cpl, dots, pages)| {
            let paper = if p { Paper::Mm58 } else { Paper::Mm80 };
            let font = if f { Font::A } else { Font::B };
            PrinterProfile {
                chars_per_line: cpl,
                dots_per_line: dots,
                ..PrinterProfile::new(paper, font)
            }
            .with_code_pages(pages)
        })
}

proptest! {
    #[test]
    fn encoder_never_panics(blocks in prop::collection::vec(block(), 0..12), p in profile()) {
        let bytes = encode(&Receipt { blocks }, &p);
        prop_assert_eq!(&bytes[..2], &[0x1B, 0x40]);
    }

    #[test]
    fn ascii_text_appears_verbatim(
        words in prop::collection::vec("[!-~]{1,20}", 1..8),
        s in style(),
        wide in any::<bool>(),
    ) {
        let p = PrinterProfile::new(Paper::Mm80, if wide { Font::A } else { Font::B });
        let text = words.join(" ");
        let bytes = encode(&Receipt { blocks: vec![Block::Text { text, style: s }] }, &p);
        // Lines may wrap between words, never inside a word shorter than a line.
        for w in &words {
            prop_assert!(bytes.windows(w.len()).any(|win| win == w.as_bytes()), "{w:?}");
        }
    }

    #[test]
    fn short_ascii_line_appears_whole(text in "[ -~]{0,24}") {
        let text = text.trim().to_owned();
        let p = PrinterProfile::default();
        let r = Receipt { blocks: vec![Block::Text { text: text.clone(), style: Style::plain() }] };
        let bytes = encode(&r, &p);
        prop_assert!(bytes.windows(text.len().max(1)).any(|w| w == text.as_bytes())
            || text.is_empty());
    }

    #[test]
    fn rows_never_exceed_the_line(
        cols in prop::collection::vec(("[a-z€é]{0,30}", width(), align()), 1..5),
        cpl in 1u16..80,
    ) {
        let p = PrinterProfile { chars_per_line: cpl, ..PrinterProfile::default() }
            .with_code_pages(vec![CodePage::Cp858]);
        let columns = cols.into_iter().map(|(t, w, a)| Column::new(t, w, a)).collect();
        let row = Block::Row { columns, style: Style::plain() };
        let bytes = encode(&Receipt { blocks: vec![row] }, &p);
        // Init and font (5 bytes), the line with at most one code page switch (3), LF.
        let line = &bytes[5..bytes.len() - 1];
        let switches = line.windows(2).filter(|w| w == &[0x1B, 0x74]).count();
        prop_assert!(switches <= 1);
        let printable = line.len() - 3 * switches;
        prop_assert!(printable <= usize::from(cpl), "{printable} > {cpl}");
    }

    #[test]
    fn status_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = PrinterStatus::from_asb(&bytes);
        if let Ok(four) = <[u8; 4]>::try_from(&bytes[..bytes.len().min(4)]) {
            let _ = PrinterStatus::from_realtime(four);
        }
        let mut rest = &bytes[..];
        while let Some((msg, used)) = next_incoming(rest) {
            prop_assert!(used >= 1 && used <= rest.len());
            if let Incoming::Asb(m) = msg {
                prop_assert!(PrinterStatus::from_asb(&m).is_ok());
            }
            rest = &rest[used..];
        }
        prop_assert!(rest.len() < 4);
    }
}
