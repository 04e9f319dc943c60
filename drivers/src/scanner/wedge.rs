//! The keyboard-wedge decoder: Linux `input_event` records to characters to framed scans.
//!
//! The decoder is pure: it takes events with their kernel timestamps and never looks at the
//! wall clock, so recorded streams replay exactly. [`EvdevScanner`](super::EvdevScanner) feeds
//! it from a device.

use std::time::Duration;

use super::keycodes::*;
use super::layout::{Layout, Mods};
use super::{FrameEnd, RawScan, ScannerError};
use crate::gs1::GS;

/// Size of one recorded `struct input_event` (64-bit layout: `tv_sec` i64, `tv_usec` i64,
/// `type` u16, `code` u16, `value` i32, little-endian).
pub const EVENT_SIZE: usize = 24;

/// One Linux input event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEvent {
    /// The kernel timestamp (time since the epoch of the device clock).
    pub time: Duration,
    /// Event type: `EV_SYN` 0, `EV_KEY` 1, `EV_MSC` 4…
    pub kind: u16,
    /// Event code, e.g. a key code.
    pub code: u16,
    /// Event value: for keys 1 press, 0 release, 2 autorepeat.
    pub value: i32,
}

impl InputEvent {
    /// Decodes one record of the 64-bit little-endian layout.
    pub fn from_bytes(b: &[u8; EVENT_SIZE]) -> InputEvent {
        let i64_at = |i: usize| i64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        let (sec, usec) = (i64_at(0), i64_at(8));
        let time = Duration::from_secs(u64::try_from(sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(usec).unwrap_or(0));
        InputEvent {
            time,
            kind: u16::from_le_bytes([b[16], b[17]]),
            code: u16::from_le_bytes([b[18], b[19]]),
            value: i32::from_le_bytes([b[20], b[21], b[22], b[23]]),
        }
    }

    /// Encodes the event as one record of the 64-bit little-endian layout.
    pub fn to_bytes(&self) -> [u8; EVENT_SIZE] {
        let mut b = [0u8; EVENT_SIZE];
        let sec = i64::try_from(self.time.as_secs()).unwrap_or(i64::MAX);
        b[0..8].copy_from_slice(&sec.to_le_bytes());
        b[8..16].copy_from_slice(&i64::from(self.time.subsec_micros()).to_le_bytes());
        b[16..18].copy_from_slice(&self.kind.to_le_bytes());
        b[18..20].copy_from_slice(&self.code.to_le_bytes());
        b[20..24].copy_from_slice(&self.value.to_le_bytes());
        b
    }
}

/// Splits a recorded stream (e.g. `cat /dev/input/eventN > file` on a 64-bit machine) into
/// events.
pub fn read_events(bytes: &[u8]) -> Result<Vec<InputEvent>, ScannerError> {
    if !bytes.len().is_multiple_of(EVENT_SIZE) {
        return Err(ScannerError::TruncatedEvent { len: bytes.len() });
    }
    Ok(bytes
        .chunks_exact(EVENT_SIZE)
        .map(|c| InputEvent::from_bytes(c.try_into().unwrap_or(&[0; EVENT_SIZE])))
        .collect())
}

/// The key that ends a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Suffix {
    /// Enter (main or keypad).
    #[default]
    Enter,
    /// Tab.
    Tab,
    /// No suffix: scans end by the idle timeout only.
    None,
}

/// Settings of a keyboard-wedge scanner; they must match the scanner's own configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WedgeConfig {
    /// The scanner's keyboard country.
    pub layout: Layout,
    /// The key that ends a scan.
    pub suffix: Suffix,
    /// A gap between key presses longer than this ends the scan (default 50 ms).
    pub idle_timeout: Duration,
    /// Ctrl + this key types GS (0x1D); default `KEY_RIGHTBRACE` (Ctrl+]).
    pub gs_key: u16,
    /// A character the scanner is configured to send in place of GS, if any.
    pub gs_substitute: Option<char>,
    /// Scans longer than this many bytes are cut and marked [`FrameEnd::Overflow`].
    pub max_len: usize,
}

impl Default for WedgeConfig {
    fn default() -> Self {
        WedgeConfig {
            layout: Layout::Us,
            suffix: Suffix::Enter,
            idle_timeout: Duration::from_millis(50),
            gs_key: KEY_RIGHTBRACE,
            gs_substitute: None,
            max_len: 4096,
        }
    }
}

/// Turns key events into scans.
///
/// Rules: only `EV_KEY` events matter (`EV_SYN`, `EV_MSC` are skipped); autorepeat (value 2)
/// is ignored; Shift, AltGr, Ctrl, Alt and Caps Lock are tracked; Ctrl + a letter types its
/// control character and Ctrl + [`WedgeConfig::gs_key`] types GS; Alt + keypad digits type
/// the character with that decimal code (released Alt ends it; codes 0–255 are Latin-1);
/// a dead key types its own character (a Space after it is dropped). A scan ends at the
/// suffix key, or when a key press comes more than [`WedgeConfig::idle_timeout`] after the
/// previous one (the data before the gap is one scan, the key starts the next), or by
/// [`WedgeDecoder::poll_idle`] / [`WedgeDecoder::finish`]. Empty scans are never returned.
#[derive(Debug)]
pub struct WedgeDecoder {
    config: WedgeConfig,
    shift: [bool; 2],
    ctrl: [bool; 2],
    alt: bool,
    altgr: bool,
    caps: bool,
    alt_code: Option<u32>,
    dead: bool,
    buf: String,
    overflow: bool,
    last_press: Option<Duration>,
}

impl WedgeDecoder {
    /// A decoder with no keys held.
    pub fn new(config: WedgeConfig) -> WedgeDecoder {
        WedgeDecoder {
            config,
            shift: [false; 2],
            ctrl: [false; 2],
            alt: false,
            altgr: false,
            caps: false,
            alt_code: None,
            dead: false,
            buf: String::new(),
            overflow: false,
            last_press: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &WedgeConfig {
        &self.config
    }

    /// Feeds one event; returns a scan if this event completed one.
    pub fn push(&mut self, ev: &InputEvent) -> Option<RawScan> {
        if ev.kind != EV_KEY {
            return None;
        }
        let pressed = match ev.value {
            1 => true,
            0 => false,
            _ => return None, // autorepeat
        };
        if let Some(done) = self.modifier(ev.code, pressed) {
            return done;
        }
        if !pressed {
            return None;
        }
        let mut out = None;
        if let Some(last) = self.last_press {
            if ev.time.saturating_sub(last) > self.config.idle_timeout {
                out = self.take(FrameEnd::Idle);
            }
        }
        self.last_press = Some(ev.time);
        let is_suffix = match self.config.suffix {
            Suffix::Enter => matches!(ev.code, KEY_ENTER | KEY_KPENTER),
            Suffix::Tab => ev.code == KEY_TAB,
            Suffix::None => false,
        };
        if is_suffix {
            return out.or_else(|| self.take(FrameEnd::Suffix));
        }
        self.key(ev.code);
        out
    }

    /// Ends the current scan if no key was pressed for longer than the idle timeout before
    /// `now` (on the clock of the event timestamps).
    pub fn poll_idle(&mut self, now: Duration) -> Option<RawScan> {
        let last = self.last_press?;
        if now.saturating_sub(last) > self.config.idle_timeout {
            self.take(FrameEnd::Idle)
        } else {
            None
        }
    }

    /// Ends the current scan, if any (end of a recorded stream).
    pub fn finish(&mut self) -> Option<RawScan> {
        self.take(FrameEnd::Eof)
    }

    /// Decodes a whole recorded stream into scans, finishing at its end.
    pub fn decode_all(config: WedgeConfig, events: &[InputEvent]) -> Vec<RawScan> {
        let mut d = WedgeDecoder::new(config);
        let mut scans: Vec<RawScan> = events.iter().filter_map(|e| d.push(e)).collect();
        scans.extend(d.finish());
        scans
    }

    /// Tracks modifier keys. `Some(result)` if `code` was a modifier.
    fn modifier(&mut self, code: u16, pressed: bool) -> Option<Option<RawScan>> {
        match code {
            KEY_LEFTSHIFT => self.shift[0] = pressed,
            KEY_RIGHTSHIFT => self.shift[1] = pressed,
            KEY_LEFTCTRL => self.ctrl[0] = pressed,
            KEY_RIGHTCTRL => self.ctrl[1] = pressed,
            KEY_RIGHTALT => self.altgr = pressed,
            KEY_CAPSLOCK => {
                if pressed {
                    self.caps = !self.caps;
                }
            }
            KEY_LEFTALT => {
                self.alt = pressed;
                if pressed {
                    self.alt_code = None;
                } else if let Some(n) = self.alt_code.take() {
                    if let Some(c) = char::from_u32(n) {
                        self.push_char(c);
                    }
                }
            }
            _ => return None,
        }
        Some(None)
    }

    fn key(&mut self, code: u16) {
        let ctrl = self.ctrl[0] || self.ctrl[1];
        if ctrl {
            if code == self.config.gs_key {
                self.push_char(char::from(GS));
            } else if let Some(c) = Layout::Us.char_for(code, Mods::default(), false) {
                if c.is_ascii_lowercase() {
                    self.push_char(char::from(c as u8 - b'a' + 1));
                }
            }
            return;
        }
        if self.alt {
            let digit = Layout::Us
                .char_for(code, Mods::default(), false)
                .filter(|_| is_keypad(code))
                .and_then(|c| c.to_digit(10));
            if let Some(d) = digit {
                let n = self.alt_code.unwrap_or(0);
                self.alt_code = Some(n.saturating_mul(10).saturating_add(d));
            }
            return;
        }
        let mods = Mods {
            shift: self.shift[0] || self.shift[1],
            altgr: self.altgr,
        };
        // A dead key followed by Space types the dead key's character alone.
        let after_dead = std::mem::replace(&mut self.dead, self.config.layout.is_dead(code, mods));
        if after_dead && code == KEY_SPACE {
            return;
        }
        if let Some(c) = self.config.layout.char_for(code, mods, self.caps) {
            self.push_char(c);
        }
    }

    fn push_char(&mut self, c: char) {
        let c = if Some(c) == self.config.gs_substitute {
            char::from(GS)
        } else {
            c
        };
        if self.buf.len() + c.len_utf8() > self.config.max_len {
            self.overflow = true;
        } else {
            self.buf.push(c);
        }
    }

    fn take(&mut self, end: FrameEnd) -> Option<RawScan> {
        let overflow = std::mem::take(&mut self.overflow);
        if self.buf.is_empty() {
            return None;
        }
        let end = if overflow { FrameEnd::Overflow } else { end };
        Some(RawScan {
            data: std::mem::take(&mut self.buf).into_bytes(),
            end,
        })
    }
}

fn is_keypad(code: u16) -> bool {
    matches!(code, KEY_KP7..=KEY_KP9 | KEY_KP4..=KEY_KP6 | KEY_KP1..=KEY_KP3 | KEY_KP0)
}

/// Generates the key events a wedge scanner sends to type `text` and then the suffix:
/// for each character modifier presses, key press, key release, modifier releases, each
/// followed by `EV_SYN`, `gap` apart. GS is typed as Ctrl + `gs_key`. Characters the layout
/// cannot type are skipped. For simulators and tests.
pub fn encode_keystrokes(
    config: &WedgeConfig,
    text: &str,
    start: Duration,
    gap: Duration,
) -> Vec<InputEvent> {
    let mut t = start;
    let mut out = Vec::new();
    let ev = |t: Duration, code: u16, value: i32, out: &mut Vec<InputEvent>| {
        out.push(InputEvent {
            time: t,
            kind: EV_KEY,
            code,
            value,
        });
        out.push(InputEvent {
            time: t,
            kind: EV_SYN,
            code: SYN_REPORT,
            value: 0,
        });
    };
    let suffix = match config.suffix {
        Suffix::Enter => Some(KEY_ENTER),
        Suffix::Tab => Some(KEY_TAB),
        Suffix::None => None,
    };
    let strokes = text.chars().filter_map(|c| {
        if c == char::from(GS) {
            Some((config.gs_key, Mods::default(), true))
        } else {
            config.layout.keystroke(c).map(|(k, m)| (k, m, false))
        }
    });
    // A dead key needs a Space to type its own character.
    let strokes = strokes.flat_map(|(k, m, ctrl)| {
        let space = config
            .layout
            .is_dead(k, m)
            .then_some((KEY_SPACE, Mods::default(), false));
        std::iter::once((k, m, ctrl)).chain(space)
    });
    let strokes: Vec<_> = strokes
        .chain(suffix.map(|k| (k, Mods::default(), false)))
        .collect();
    for (key, mods, ctrl) in strokes {
        let held: Vec<u16> = [
            (ctrl, KEY_LEFTCTRL),
            (mods.shift, KEY_LEFTSHIFT),
            (mods.altgr, KEY_RIGHTALT),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, k)| *k)
        .collect();
        for &m in &held {
            ev(t, m, 1, &mut out);
        }
        ev(t, key, 1, &mut out);
        ev(t + gap / 2, key, 0, &mut out);
        for &m in held.iter().rev() {
            ev(t + gap / 2, m, 0, &mut out);
        }
        t += gap;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(ms: u64, code: u16, value: i32) -> InputEvent {
        InputEvent {
            time: Duration::from_millis(ms),
            kind: EV_KEY,
            code,
            value,
        }
    }

    #[test]
    fn event_records_round_trip() {
        let e = InputEvent {
            time: Duration::new(1_700_000_000, 123_000),
            kind: EV_KEY,
            code: KEY_A,
            value: 1,
        };
        let b = e.to_bytes();
        assert_eq!(&b[16..], &[1, 0, 30, 0, 1, 0, 0, 0]);
        assert_eq!(InputEvent::from_bytes(&b), e);
        assert!(matches!(
            read_events(&b[..23]),
            Err(ScannerError::TruncatedEvent { len: 23 })
        ));
    }

    #[test]
    fn shift_repeat_and_enter() {
        let events = [
            press(0, KEY_LEFTSHIFT, 1),
            press(1, KEY_A, 1),
            press(2, KEY_A, 2), // autorepeat: ignored
            press(3, KEY_A, 0),
            press(4, KEY_LEFTSHIFT, 0),
            press(5, KEY_1, 1),
            press(6, KEY_1, 0),
            press(7, KEY_KPENTER, 1),
        ];
        let scans = WedgeDecoder::decode_all(WedgeConfig::default(), &events);
        assert_eq!(
            scans,
            vec![RawScan {
                data: b"A1".to_vec(),
                end: FrameEnd::Suffix
            }]
        );
    }

    #[test]
    fn idle_gap_splits_scans_by_event_time() {
        let events = [
            press(0, KEY_1, 1),
            press(10, KEY_2, 1),
            press(100, KEY_3, 1),
        ];
        let mut d = WedgeDecoder::new(WedgeConfig::default());
        assert_eq!(d.push(&events[0]), None);
        assert_eq!(d.push(&events[1]), None);
        let first = d.push(&events[2]).unwrap();
        assert_eq!(
            (first.data.as_slice(), first.end),
            (&b"12"[..], FrameEnd::Idle)
        );
        assert_eq!(d.poll_idle(Duration::from_millis(140)), None);
        let second = d.poll_idle(Duration::from_millis(151)).unwrap();
        assert_eq!(
            (second.data.as_slice(), second.end),
            (&b"3"[..], FrameEnd::Idle)
        );
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn ctrl_bracket_alt_codes_and_substitutes_give_gs() {
        let events = [
            press(0, KEY_1, 1),
            press(1, KEY_LEFTCTRL, 1),
            press(2, KEY_RIGHTBRACE, 1),
            press(3, KEY_RIGHTBRACE, 0),
            press(4, KEY_LEFTCTRL, 0),
            press(5, KEY_LEFTALT, 1),
            press(6, KEY_KP0, 1),
            press(7, KEY_KP2, 1),
            press(8, KEY_KP9, 1),
            press(9, KEY_LEFTALT, 0),
            press(10, KEY_GRAVE, 1),
            press(11, KEY_ENTER, 1),
        ];
        let config = WedgeConfig {
            gs_substitute: Some('`'),
            ..WedgeConfig::default()
        };
        let scans = WedgeDecoder::decode_all(config, &events);
        assert_eq!(scans[0].data, b"1\x1d\x1d\x1d");
    }

    #[test]
    fn generator_and_decoder_agree_on_both_layouts() {
        let text = "]C10109506000134352\u{1d}10Ab-12/x^y";
        for layout in [Layout::Us, Layout::De] {
            let config = WedgeConfig {
                layout,
                ..WedgeConfig::default()
            };
            let events = encode_keystrokes(&config, text, Duration::ZERO, Duration::from_millis(2));
            let scans = WedgeDecoder::decode_all(config, &events);
            assert_eq!(scans.len(), 1);
            assert_eq!(String::from_utf8_lossy(&scans[0].data), text);
        }
    }

    #[test]
    fn overflow_is_marked() {
        let config = WedgeConfig {
            max_len: 3,
            ..WedgeConfig::default()
        };
        let events = encode_keystrokes(&config, "12345", Duration::ZERO, Duration::from_millis(1));
        let scans = WedgeDecoder::decode_all(config, &events);
        assert_eq!(
            scans,
            vec![RawScan {
                data: b"123".to_vec(),
                end: FrameEnd::Overflow
            }]
        );
    }
}
