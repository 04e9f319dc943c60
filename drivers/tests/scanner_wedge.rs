//! Keyboard-wedge scanners without a device: recorded `input_event` streams (checked-in
//! fixtures and streams generated here) fed through the decoder, then interpreted.

use std::path::Path;
use std::time::Duration;

use drivers::gs1::{Ai, Gtin, ScanData, Symbology, Value};
use drivers::scanner::keycodes::*;
use drivers::scanner::wedge::{read_events, EVENT_SIZE};
use drivers::scanner::{FrameEnd, InputEvent, Layout, Mods, Suffix, WedgeConfig, WedgeDecoder};

fn fixture(name: &str) -> Vec<InputEvent> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scanner")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    read_events(&bytes).unwrap()
}

/// The test's own generator: the byte stream a wedge scanner with `layout` produces for
/// `text` + Enter, written independently of the library's `encode_keystrokes`.
fn generate(layout: Layout, text: &str, start_ms: u64, key_ms: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut t = Duration::from_millis(start_ms);
    let mut emit = |t: Duration, kind: u16, code: u16, value: i32| {
        out.extend_from_slice(
            &InputEvent {
                time: t,
                kind,
                code,
                value,
            }
            .to_bytes(),
        );
    };
    let mut keys: Vec<(u16, Mods, bool)> = Vec::new();
    for c in text.chars() {
        if c == '\u{1d}' {
            keys.push((KEY_RIGHTBRACE, Mods::default(), true));
        } else {
            let (k, m) = layout
                .keystroke(c)
                .unwrap_or_else(|| panic!("cannot type {c:?}"));
            keys.push((k, m, false));
        }
    }
    keys.push((KEY_ENTER, Mods::default(), false));
    for (key, mods, ctrl) in keys {
        let mut held = Vec::new();
        if ctrl {
            held.push(KEY_LEFTCTRL);
        }
        if mods.shift {
            held.push(KEY_RIGHTSHIFT);
        }
        if mods.altgr {
            held.push(KEY_RIGHTALT);
        }
        for &m in &held {
            emit(t, EV_KEY, m, 1);
            emit(t, EV_SYN, SYN_REPORT, 0);
        }
        emit(t, EV_MSC, 4, 0x70000 + i32::from(key));
        emit(t, EV_KEY, key, 1);
        emit(t, EV_SYN, SYN_REPORT, 0);
        let up = t + Duration::from_micros(key_ms * 400);
        emit(up, EV_KEY, key, 0);
        emit(up, EV_SYN, SYN_REPORT, 0);
        for &m in held.iter().rev() {
            emit(up, EV_KEY, m, 0);
            emit(up, EV_SYN, SYN_REPORT, 0);
        }
        t += Duration::from_millis(key_ms);
    }
    out
}

#[test]
fn fixture_us_ean13_with_enter() {
    let events = fixture("us_ean13_enter.bin");
    assert_eq!(events.len(), 75);
    let scans = WedgeDecoder::decode_all(WedgeConfig::default(), &events);
    assert_eq!(scans.len(), 1);
    assert_eq!(scans[0].data, b"]E05901234123457");
    assert_eq!(scans[0].end, FrameEnd::Suffix);
    let scan = scans[0].interpret().unwrap();
    assert_eq!(scan.symbology, Some(Symbology::Ean13));
    assert_eq!(
        scan.data,
        ScanData::Gtin(Gtin::parse("05901234123457").unwrap())
    );
}

#[test]
fn fixture_de_gs1_with_ctrl_gs_and_idle_split() {
    let events = fixture("de_gs1_ctrl_gs_idle.bin");
    let config = WedgeConfig {
        layout: Layout::De,
        ..WedgeConfig::default()
    };
    let scans = WedgeDecoder::decode_all(config, &events);
    assert_eq!(scans.len(), 2, "{scans:?}");
    assert_eq!(scans[0].data, b"0109506000134352\x1d10AB-12");
    assert_eq!(scans[0].end, FrameEnd::Idle);
    let first = scans[0].interpret().unwrap();
    assert_eq!(
        first.data.element(Ai::BATCH),
        Some(&Value::Text("AB-12".into()))
    );
    assert_eq!(first.gtin(), Some(Gtin::parse("09506000134352").unwrap()));
    assert_eq!(
        (scans[1].data.as_slice(), scans[1].end),
        (&b"96385074"[..], FrameEnd::Suffix)
    );
    assert_eq!(
        scans[1].interpret().unwrap().gtin(),
        Gtin::parse("96385074").ok()
    );
}

#[test]
fn fixture_de_read_with_us_layout_differs() {
    // A layout mismatch is visible, not silently "fixed": '-' comes out as '/'.
    let scans =
        WedgeDecoder::decode_all(WedgeConfig::default(), &fixture("de_gs1_ctrl_gs_idle.bin"));
    assert_eq!(scans[0].data, b"0109506000134352\x1d10AB/12");
}

#[test]
fn generated_streams_round_trip_on_both_layouts() {
    let texts = [
        "]E05901234123457",
        "]d2\u{1d}0109506000134352\u{1d}10AB-12\u{1d}17261231",
        "]Q1https://id.gs1.org/01/09506000134352/10/A%2F1?17=261231",
        "Hello, World! (#42) 'x' \"y\" a+b=c; 50% & more_",
    ];
    for layout in [Layout::Us, Layout::De] {
        let config = WedgeConfig {
            layout,
            ..WedgeConfig::default()
        };
        for text in texts {
            let bytes = generate(layout, text, 1_000, 2);
            assert_eq!(bytes.len() % EVENT_SIZE, 0);
            let scans = WedgeDecoder::decode_all(config.clone(), &read_events(&bytes).unwrap());
            assert_eq!(scans.len(), 1, "{layout:?} {text:?}");
            assert_eq!(String::from_utf8_lossy(&scans[0].data), text, "{layout:?}");
        }
    }
}

#[test]
fn german_specials_survive() {
    let text = "Größe: 5µ @ 3€ {ä|ö}";
    let config = WedgeConfig {
        layout: Layout::De,
        ..WedgeConfig::default()
    };
    let events = read_events(&generate(Layout::De, text, 0, 1)).unwrap();
    let scans = WedgeDecoder::decode_all(config, &events);
    assert_eq!(String::from_utf8(scans[0].data.clone()).unwrap(), text);
}

#[test]
fn streams_of_several_scans_split_by_suffix_and_by_gaps() {
    let mut bytes = generate(Layout::Us, "]E05901234123457", 0, 1);
    bytes.extend(generate(Layout::Us, "]E496385074", 20, 1)); // 4 ms after the last key
    let config = WedgeConfig {
        suffix: Suffix::Tab,
        ..WedgeConfig::default()
    };
    // With Tab as the suffix, Enter is an unmapped key: the two scans split by the idle gap
    // only when the gap is long enough.
    let scans = WedgeDecoder::decode_all(config.clone(), &read_events(&bytes).unwrap());
    assert_eq!(scans.len(), 1);
    assert_eq!(scans[0].data, b"]E05901234123457]E496385074");
    let mut bytes = generate(Layout::Us, "]E05901234123457", 0, 1);
    bytes.extend(generate(Layout::Us, "]E496385074", 100, 1));
    let scans = WedgeDecoder::decode_all(config, &read_events(&bytes).unwrap());
    let data: Vec<_> = scans.iter().map(|s| (s.data.as_slice(), s.end)).collect();
    assert_eq!(
        data,
        vec![
            (&b"]E05901234123457"[..], FrameEnd::Idle),
            (&b"]E496385074"[..], FrameEnd::Eof)
        ]
    );
}

#[test]
fn library_encoder_matches_the_decoder() {
    let config = WedgeConfig {
        layout: Layout::De,
        ..WedgeConfig::default()
    };
    let text = "]C1\u{1d}0109506000134352\u{1d}21Zy^";
    let events = drivers::scanner::wedge::encode_keystrokes(
        &config,
        text,
        Duration::from_secs(5),
        Duration::from_millis(3),
    );
    let scans = WedgeDecoder::decode_all(config, &events);
    assert_eq!(String::from_utf8_lossy(&scans[0].data), text);
}
