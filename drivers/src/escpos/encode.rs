//! Encoding of a [`Receipt`] into the ESC/POS byte stream (PROTOCOLS.md §1.1–§1.4).
//!
//! The encoder tracks the printer's modes (style, alignment, code page) and emits a command
//! only when a mode changes, so the output is compact and the byte-exact tests stay readable.
//! Every character of user text becomes exactly one byte: printable ASCII as itself, other
//! characters through the code pages of the [`PrinterProfile`], and anything else as `?`.
//! Control characters never reach the printer as such, so text cannot inject commands.

use super::codepage::CodePage;
use super::document::{
    Align, Barcode, Block, Column, ColumnWidth, Cut, DrawerKick, DrawerPin, HriPosition, QrCode,
    QrErrorCorrection, RasterImage, Receipt, Style, Symbology, Underline,
};
use super::profile::{Font, PrinterProfile};

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const LF: u8 = 0x0A;

/// Most rows sent in one `GS v 0` command; taller images go in bands (some clones limit y).
pub const RASTER_BAND_ROWS: u16 = 255;

/// Encodes `receipt` for a printer described by `profile`.
///
/// The output starts with `ESC @` (initialise) and the font selection; it never fails and
/// never panics (see the property tests).
pub fn encode(receipt: &Receipt, profile: &PrinterProfile) -> Vec<u8> {
    let mut enc = Encoder::new(profile);
    for block in &receipt.blocks {
        enc.block(block);
    }
    enc.out
}

/// `ESC p m t1 t2`: pulse a drawer kick-out pin (buffered; held while the printer is blocked).
pub fn kick_command(kick: &DrawerKick) -> [u8; 5] {
    let m = match kick.pin() {
        DrawerPin::Pin2 => 0,
        DrawerPin::Pin5 => 1,
    };
    // Validated times are at most 510 ms, so the halves fit in a byte.
    let t1 = u8::try_from(kick.on_ms() / 2).unwrap_or(u8::MAX);
    let t2 = u8::try_from(kick.off_ms() / 2).unwrap_or(u8::MAX);
    [ESC, b'p', m, t1, t2]
}

/// `DLE DC4 1 m t`: real-time drawer pulse of `t` × 100 ms on and off (t clamped to 1..=8).
///
/// Executed on receipt, even while the printer is offline (over serial) or busy; ignored when a
/// pulse is already running. Do not send it in the middle of other commands' data.
pub fn realtime_kick_command(pin: DrawerPin, t: u8) -> [u8; 5] {
    let m = match pin {
        DrawerPin::Pin2 => 0,
        DrawerPin::Pin5 => 1,
    };
    [0x10, 0x14, 0x01, m, t.clamp(1, 8)]
}

/// A text-only encoder state: current modes of the printer as far as we sent them.
struct Encoder<'a> {
    profile: &'a PrinterProfile,
    out: Vec<u8>,
    style: Style,
    page: Option<CodePage>,
}

impl<'a> Encoder<'a> {
    fn new(profile: &'a PrinterProfile) -> Encoder<'a> {
        let font = match profile.font {
            Font::A => 0,
            Font::B => 1,
        };
        // ESC @ resets every mode: the tracked style starts at the default.
        let out = vec![ESC, b'@', ESC, b'M', font];
        Encoder {
            profile,
            out,
            style: Style::default(),
            page: None,
        }
    }

    fn block(&mut self, block: &Block) {
        match block {
            Block::Text { text, style } => self.text(text, *style),
            Block::Row { columns, style } => self.row(columns, *style),
            Block::Separator(ch) => {
                let style = Style::plain();
                let cols = self.columns(style);
                let ch = clean(*ch).unwrap_or('?');
                self.set_style(style);
                for _ in 0..cols {
                    self.char(ch);
                }
                self.out.push(LF);
            }
            Block::Barcode { barcode, align } => self.barcode(barcode, *align),
            Block::Qr { qr, align } => self.qr(qr, *align),
            Block::Image { image, align } => self.image(image, *align),
            Block::Feed(0) => {}
            Block::Feed(n) => self.out.extend_from_slice(&[ESC, b'd', *n]),
            Block::Cut(cut) => {
                let m = match cut {
                    Cut::Full => 65,
                    Cut::Partial => 66,
                };
                self.out.extend_from_slice(&[GS, b'V', m, 0]);
            }
            Block::Kick(kick) => self.out.extend_from_slice(&kick_command(kick)),
        }
    }

    /// Characters that fit on a line in `style`.
    fn columns(&self, style: Style) -> usize {
        usize::from((self.profile.chars_per_line / style.width_factor()).max(1))
    }

    fn text(&mut self, text: &str, style: Style) {
        let cols = self.columns(style);
        for line in text.split('\n') {
            let chars: Vec<char> = line.chars().filter_map(clean).collect();
            for wrapped in wrap(&chars, cols) {
                self.set_style(style);
                for c in wrapped {
                    self.char(c);
                }
                self.out.push(LF);
            }
        }
    }

    fn row(&mut self, columns: &[Column], style: Style) {
        let style = Style {
            align: Align::Left,
            ..style
        };
        let cols = self.columns(style);
        let line = fit_columns(columns, cols);
        self.set_style(style);
        for c in line {
            self.char(c);
        }
        self.out.push(LF);
    }

    fn barcode(&mut self, barcode: &Barcode, align: Align) {
        self.set_align(align);
        let hri = match barcode.hri() {
            HriPosition::None => 0,
            HriPosition::Above => 1,
            HriPosition::Below => 2,
            HriPosition::Both => 3,
        };
        self.out.extend_from_slice(&[GS, b'H', hri]);
        self.out.extend_from_slice(&[GS, b'h', barcode.height()]);
        self.out
            .extend_from_slice(&[GS, b'w', barcode.module_width()]);
        match barcode.symbology() {
            Symbology::Code128 => {
                // Code set B; a literal `{` is sent as `{{`. Validation keeps this ≤ 255.
                let mut data = vec![b'{', b'B'];
                for b in barcode.data().bytes() {
                    data.push(b);
                    if b == b'{' {
                        data.push(b'{');
                    }
                }
                let n = u8::try_from(data.len()).unwrap_or(u8::MAX);
                self.out.extend_from_slice(&[GS, b'k', 73, n]);
                self.out.extend_from_slice(&data[..usize::from(n)]);
            }
            Symbology::Ean13 => {
                self.out.extend_from_slice(&[GS, b'k', 67, 12]);
                self.out.extend_from_slice(barcode.data().as_bytes());
            }
        }
    }

    fn qr(&mut self, qr: &QrCode, align: Align) {
        self.set_align(align);
        let ec = match qr.error_correction() {
            QrErrorCorrection::L => 48,
            QrErrorCorrection::M => 49,
            QrErrorCorrection::Q => 50,
            QrErrorCorrection::H => 51,
        };
        // Validation keeps data at most 7089 bytes, so the length fits in pL pH.
        let len = u16::try_from(qr.data().len() + 3)
            .unwrap_or(u16::MAX)
            .to_le_bytes();
        self.out
            .extend_from_slice(&[GS, b'(', b'k', 4, 0, 49, 65, 50, 0]);
        self.out
            .extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 67, qr.module_size()]);
        self.out
            .extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 69, ec]);
        self.out
            .extend_from_slice(&[GS, b'(', b'k', len[0], len[1], 49, 80, 48]);
        self.out.extend_from_slice(qr.data());
        self.out
            .extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 81, 48]);
    }

    fn image(&mut self, image: &RasterImage, align: Align) {
        self.set_align(align);
        let row_bytes = usize::from(image.row_bytes());
        let max_bytes = usize::from(self.profile.dots_per_line / 8).max(1);
        let send_bytes = row_bytes.min(max_bytes);
        let x = u16::try_from(send_bytes).unwrap_or(u16::MAX).to_le_bytes();
        let rows: Vec<&[u8]> = image.bits().chunks(row_bytes).collect();
        for band in rows.chunks(usize::from(RASTER_BAND_ROWS)) {
            let y = u16::try_from(band.len()).unwrap_or(u16::MAX).to_le_bytes();
            self.out
                .extend_from_slice(&[GS, b'v', b'0', 0, x[0], x[1], y[0], y[1]]);
            for row in band {
                self.out.extend_from_slice(&row[..send_bytes]);
            }
        }
    }

    fn set_align(&mut self, align: Align) {
        if self.style.align != align {
            let n = match align {
                Align::Left => 0,
                Align::Center => 1,
                Align::Right => 2,
            };
            self.out.extend_from_slice(&[ESC, b'a', n]);
            self.style.align = align;
        }
    }

    fn set_style(&mut self, style: Style) {
        self.set_align(style.align);
        let cur = self.style;
        if cur.bold != style.bold {
            self.out
                .extend_from_slice(&[ESC, b'E', u8::from(style.bold)]);
        }
        if cur.underline != style.underline {
            let n = match style.underline {
                Underline::None => 0,
                Underline::Thin => 1,
                Underline::Thick => 2,
            };
            self.out.extend_from_slice(&[ESC, b'-', n]);
        }
        if (cur.double_width, cur.double_height) != (style.double_width, style.double_height) {
            let n = if style.double_width { 0x10 } else { 0 } | u8::from(style.double_height);
            self.out.extend_from_slice(&[GS, b'!', n]);
        }
        if cur.inverted != style.inverted {
            self.out
                .extend_from_slice(&[GS, b'B', u8::from(style.inverted)]);
        }
        self.style = style;
    }

    /// Writes one cleaned character as one byte, switching code page when needed.
    fn char(&mut self, c: char) {
        if let Some(b) = self.page.and_then(|p| p.encode(c)) {
            self.out.push(b);
            return;
        }
        if c.is_ascii() {
            // Cleaned ASCII is printable; it is the same in every table.
            self.out.push(c as u8);
            return;
        }
        let found = self
            .profile
            .code_pages
            .iter()
            .find_map(|&p| Some((p, p.encode(c)?)));
        match found {
            Some((page, b)) => {
                self.out.extend_from_slice(&[ESC, b't', page.esc_t(), b]);
                self.page = Some(page);
            }
            None => self.out.push(b'?'),
        }
    }
}

/// Maps a character of user text to what is printed: tabs and line breaks become spaces, other
/// control characters `?`, combining accents (which a single-byte page cannot place) vanish.
fn clean(c: char) -> Option<char> {
    match c {
        '\t' | '\n' | '\r' => Some(' '),
        '\u{300}'..='\u{36F}' | '\u{200B}'..='\u{200D}' | '\u{FEFF}' => None,
        c if c.is_control() => Some('?'),
        c => Some(c),
    }
}

/// Word-wraps `chars` to lines of at most `cols` characters, breaking words longer than a line.
fn wrap(chars: &[char], cols: usize) -> Vec<Vec<char>> {
    let mut lines = Vec::new();
    let mut cur: Vec<char> = Vec::new();
    for mut word in chars.split(|&c| c == ' ') {
        loop {
            let need = if cur.is_empty() {
                word.len()
            } else {
                cur.len() + 1 + word.len()
            };
            if need <= cols {
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.extend_from_slice(word);
                break;
            }
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            let (head, tail) = word.split_at(cols);
            lines.push(head.to_vec());
            word = tail;
        }
    }
    lines.push(cur);
    lines
}

/// Lays out a row of columns on a line of `cols` characters (one space between columns).
fn fit_columns(columns: &[Column], cols: usize) -> Vec<char> {
    let texts: Vec<Vec<char>> = columns
        .iter()
        .map(|c| c.text.chars().filter_map(clean).collect())
        .collect();
    let gaps = columns.len().saturating_sub(1);
    let mut remaining = cols.saturating_sub(gaps);
    let fills = columns
        .iter()
        .filter(|c| c.width == ColumnWidth::Fill)
        .count();
    let mut widths = vec![0usize; columns.len()];

    // Fixed columns first, then automatic ones, leaving a character to every filling column.
    for (i, col) in columns.iter().enumerate() {
        if let ColumnWidth::Fixed(n) = col.width {
            widths[i] = usize::from(n).min(remaining);
            remaining -= widths[i];
        }
    }
    for (i, col) in columns.iter().enumerate() {
        if col.width == ColumnWidth::Auto {
            let reserve = fills.min(remaining);
            widths[i] = texts[i].len().min(remaining - reserve);
            remaining -= widths[i];
        }
    }
    let mut extra = remaining % fills.max(1);
    for (i, col) in columns.iter().enumerate() {
        if col.width == ColumnWidth::Fill {
            widths[i] = remaining / fills + usize::from(extra > 0);
            extra = extra.saturating_sub(1);
        }
    }

    let mut line = Vec::with_capacity(cols);
    for (i, col) in columns.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        let text = &texts[i][..texts[i].len().min(widths[i])];
        let pad = widths[i] - text.len();
        let (before, after) = match col.align {
            Align::Left => (0, pad),
            Align::Right => (pad, 0),
            Align::Center => (pad / 2, pad - pad / 2),
        };
        line.extend(std::iter::repeat_n(' ', before));
        line.extend_from_slice(text);
        line.extend(std::iter::repeat_n(' ', after));
    }
    line.truncate(cols);
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::document::{DrawerKick, DrawerPin, QrCode};
    use crate::escpos::profile::Paper;

    fn profile() -> PrinterProfile {
        PrinterProfile::new(Paper::Mm80, Font::A)
    }

    fn one(block: Block) -> Vec<u8> {
        let bytes = encode(
            &Receipt {
                blocks: vec![block],
            },
            &profile(),
        );
        assert_eq!(
            &bytes[..5],
            &[0x1B, 0x40, 0x1B, 0x4D, 0x00],
            "init + font A"
        );
        bytes[5..].to_vec()
    }

    #[test]
    fn init_and_font_b() {
        let p = PrinterProfile::new(Paper::Mm58, Font::B);
        assert_eq!(
            encode(&Receipt::new(), &p),
            [
                0x1B, 0x40, // ESC @: initialise
                0x1B, 0x4D, 0x01, // ESC M 1: font B
            ]
        );
    }

    #[test]
    fn styled_text_with_code_page_switch() {
        let style = Style::plain().bold().double().align(Align::Center);
        assert_eq!(
            one(Block::Text {
                text: "Aé€".into(),
                style
            }),
            [
                0x1B, 0x61, 0x01, // ESC a 1: centre
                0x1B, 0x45, 0x01, // ESC E 1: bold on
                0x1D, 0x21, 0x11, // GS ! 0x11: double width and height
                0x41, // 'A'
                0x1B, 0x74, 0x13, // ESC t 19: CP858
                0x82, // 'é' in CP858
                0xD5, // '€' in CP858, no switch needed
                0x0A, // LF
            ]
        );
    }

    #[test]
    fn page_switches_per_character_when_first_page_lacks_it() {
        let p = profile().with_code_pages(vec![CodePage::Cp437, CodePage::Cp1252]);
        let r = Receipt {
            blocks: vec![Block::Text {
                text: "ü€ü☃".into(),
                style: Style::plain(),
            }],
        };
        assert_eq!(
            &encode(&r, &p)[5..],
            [
                0x1B, 0x74, 0x00, // ESC t 0: CP437
                0x81, // 'ü' in CP437
                0x1B, 0x74, 0x10, // ESC t 16: CP1252, CP437 has no '€'
                0x80, // '€' in CP1252
                0xFC, // 'ü' in CP1252: stay on the current page
                0x3F, // '☃' is on no page: '?'
                0x0A, // LF
            ]
        );
    }

    #[test]
    fn nordic_and_spanish_letters_print_on_cp858() {
        let out = one(Block::Text {
            text: "åñøß".into(),
            style: Style::plain(),
        });
        assert_eq!(out, [0x1B, 0x74, 0x13, 0x86, 0xA4, 0x9B, 0xE1, 0x0A]);
    }

    #[test]
    fn control_characters_are_neutralised() {
        let out = one(Block::Text {
            text: "a\u{1d}V\u{0}b\tc".into(),
            style: Style::plain(),
        });
        assert_eq!(out, b"a?V?b c\n");
    }

    #[test]
    fn underline_and_inverted_then_reset() {
        let r = Receipt {
            blocks: vec![
                Block::Text {
                    text: "X".into(),
                    style: Style::plain().underline(Underline::Thick).inverted(),
                },
                Block::Text {
                    text: "Y".into(),
                    style: Style::plain(),
                },
            ],
        };
        assert_eq!(
            &encode(&r, &profile())[5..],
            [
                0x1B, 0x2D, 0x02, // ESC - 2: two-dot underline
                0x1D, 0x42, 0x01, // GS B 1: reverse on
                b'X', 0x0A, // text, LF
                0x1B, 0x2D, 0x00, // ESC - 0: underline off
                0x1D, 0x42, 0x00, // GS B 0: reverse off
                b'Y', 0x0A, // text, LF
            ]
        );
    }

    #[test]
    fn two_columns_fill_the_line() {
        let p = PrinterProfile {
            chars_per_line: 20,
            ..profile()
        };
        let mut r = Receipt::new();
        r.row("Espresso doppio extra", "12.50");
        assert_eq!(&encode(&r, &p)[5..], b"Espresso doppi 12.50\n");
    }

    #[test]
    fn three_columns_with_fixed_and_truncation() {
        let cols = vec![
            Column::new("2x", ColumnWidth::Fixed(3), Align::Right),
            Column::new("Brötchen mit Käse", ColumnWidth::Fill, Align::Left),
            Column::new("3.00", ColumnWidth::Fixed(6), Align::Right),
        ];
        let line = fit_columns(&cols, 20);
        assert_eq!(line.iter().collect::<String>(), " 2x Brötchen    3.00");
        let line = fit_columns(&cols, 4);
        assert_eq!(line.len(), 4);
        assert!(fit_columns(&[], 10).is_empty());
    }

    #[test]
    fn double_width_halves_columns() {
        let p = PrinterProfile {
            chars_per_line: 10,
            ..profile()
        };
        let r = Receipt {
            blocks: vec![Block::Text {
                text: "abcdef".into(),
                style: Style::plain().double(),
            }],
        };
        assert_eq!(&encode(&r, &p)[5..], b"\x1D\x21\x11abcde\nf\n");
    }

    #[test]
    fn wrapping_prefers_spaces() {
        let w = |s: &str, n| {
            wrap(&s.chars().collect::<Vec<_>>(), n)
                .into_iter()
                .map(|l| l.into_iter().collect::<String>())
                .collect::<Vec<_>>()
        };
        assert_eq!(w("one two three", 7), ["one two", "three"]);
        assert_eq!(w("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(w("", 3), [""]);
    }

    #[test]
    fn separator_line() {
        let p = PrinterProfile {
            chars_per_line: 5,
            ..profile()
        };
        let r = Receipt {
            blocks: vec![Block::Separator('=')],
        };
        assert_eq!(&encode(&r, &p)[5..], b"=====\n");
    }

    #[test]
    fn code128_bytes() {
        let barcode = Barcode::code128("A{1").unwrap();
        assert_eq!(
            one(Block::Barcode {
                barcode,
                align: Align::Left
            }),
            [
                0x1D, 0x48, 0x02, // GS H 2: HRI below
                0x1D, 0x68, 0x50, // GS h 80: height 80 dots
                0x1D, 0x77, 0x03, // GS w 3: module width 3
                0x1D, 0x6B, 0x49, // GS k 73: CODE128 (function B)
                0x06, // n = 6 bytes follow
                0x7B, 0x42, // "{B": code set B
                0x41, 0x7B, 0x7B, 0x31, // "A", "{" escaped as "{{", "1"
            ]
        );
    }

    #[test]
    fn ean13_bytes() {
        let barcode = Barcode::ean13("5901234123457")
            .unwrap()
            .with_hri(HriPosition::None);
        let barcode = barcode.with_size(100, 2).unwrap();
        assert_eq!(
            one(Block::Barcode {
                barcode,
                align: Align::Center
            }),
            [
                0x1B, 0x61, 0x01, // ESC a 1: centre
                0x1D, 0x48, 0x00, // GS H 0: no HRI
                0x1D, 0x68, 0x64, // GS h 100
                0x1D, 0x77, 0x02, // GS w 2
                0x1D, 0x6B, 0x43, 0x0C, // GS k 67 12: EAN-13, 12 digits
                b'5', b'9', b'0', b'1', b'2', b'3', b'4', b'1', b'2', b'3', b'4', b'5',
            ]
        );
    }

    #[test]
    fn qr_matches_protocols_worked_example() {
        let qr = QrCode::new("HELLO").unwrap().with_module_size(6).unwrap();
        assert_eq!(
            one(Block::Qr {
                qr,
                align: Align::Left
            }),
            [
                0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00, // fn 65: model 2
                0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x06, // fn 67: module 6 dots
                0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31, // fn 69: EC level M
                0x1D, 0x28, 0x6B, 0x08, 0x00, 0x31, 0x50, 0x30, // fn 80: store 5 + 3 bytes
                0x48, 0x45, 0x4C, 0x4C, 0x4F, // "HELLO"
                0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30, // fn 81: print
            ]
        );
    }

    #[test]
    fn raster_bytes_and_clipping() {
        let image = RasterImage::from_packed(16, 2, vec![0xFF, 0x01, 0x80, 0x00]).unwrap();
        assert_eq!(
            one(Block::Image {
                image: image.clone(),
                align: Align::Left
            }),
            [
                0x1D, 0x76, 0x30, 0x00, // GS v 0, m = 0 normal
                0x02, 0x00, // x = 2 bytes per row
                0x02, 0x00, // y = 2 rows
                0xFF, 0x01, 0x80, 0x00, // rows
            ]
        );
        let p = PrinterProfile {
            dots_per_line: 8,
            ..profile()
        };
        let r = Receipt {
            blocks: vec![Block::Image {
                image,
                align: Align::Left,
            }],
        };
        assert_eq!(
            &encode(&r, &p)[5..],
            [0x1D, 0x76, 0x30, 0x00, 1, 0, 2, 0, 0xFF, 0x80]
        );
    }

    #[test]
    fn tall_raster_goes_in_bands() {
        let image = RasterImage::from_fn(8, 300, |_, _| true).unwrap();
        let out = one(Block::Image {
            image,
            align: Align::Left,
        });
        assert_eq!(&out[..8], [0x1D, 0x76, 0x30, 0x00, 1, 0, 255, 0]);
        assert_eq!(
            &out[8 + 255..8 + 255 + 8],
            [0x1D, 0x76, 0x30, 0x00, 1, 0, 45, 0]
        );
        assert_eq!(out.len(), 8 + 255 + 8 + 45);
    }

    #[test]
    fn cut_feed_and_kick_bytes() {
        let r = Receipt {
            blocks: vec![
                Block::Feed(3),
                Block::Feed(0),
                Block::Kick(DrawerKick::new(DrawerPin::Pin5, 100, 400).unwrap()),
                Block::Cut(Cut::Full),
                Block::Cut(Cut::Partial),
            ],
        };
        assert_eq!(
            &encode(&r, &profile())[5..],
            [
                0x1B, 0x64, 0x03, // ESC d 3: feed 3 lines (Feed(0) sends nothing)
                0x1B, 0x70, 0x01, 0x32, 0xC8, // ESC p 1 50 200: pin 5, 100 ms on, 400 off
                0x1D, 0x56, 0x41, 0x00, // GS V 65 0: feed to cutter, full cut
                0x1D, 0x56, 0x42, 0x00, // GS V 66 0: feed to cutter, partial cut
            ]
        );
        assert_eq!(
            kick_command(&DrawerKick::pin2()),
            [0x1B, 0x70, 0x00, 0x32, 0xC8]
        );
        assert_eq!(
            realtime_kick_command(DrawerPin::Pin5, 9),
            [
                0x10, 0x14, // DLE DC4
                0x01, // fn 1: drawer pulse
                0x01, // m = 1: pin 5
                0x08, // t = 8 (clamped): 800 ms on, 800 ms off
            ]
        );
    }
}
