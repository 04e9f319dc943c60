//! The label builder: fields on a label, rendered as ZPL II (PROTOCOLS.md §2.1).
//!
//! Every label starts with `^XA^CI28` (field data is UTF-8) and every `^FD` is preceded by
//! `^FH_`: characters outside printable ASCII and the ZPL specials `^`, `~`, `_` are sent as
//! `_XX` escapes of their UTF-8 bytes. The output is therefore pure ASCII, and no field data can
//! end a field or start a command.

use std::fmt::Write as _;

use thiserror::Error;

/// A label field that cannot be built as asked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LabelError {
    /// CODE128 data empty, longer than 200 characters, or not printable ASCII.
    #[error("invalid CODE128 data: {0}")]
    Code128(&'static str),
    /// A GS1 element string with a malformed AI or value.
    #[error("invalid GS1 element ({ai}): {reason}")]
    Gs1 {
        /// The application identifier as given.
        ai: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// QR data empty or longer than 2,953 bytes, or magnification outside 1..=10.
    #[error("invalid QR code: {0}")]
    Qr(&'static str),
}

/// Field orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Orientation {
    /// Normal.
    #[default]
    Normal,
    /// Rotated 90° clockwise.
    Rotated,
    /// Inverted 180°.
    Inverted,
    /// Read bottom up, 270°.
    Bottom,
}

impl Orientation {
    fn code(self) -> char {
        match self {
            Orientation::Normal => 'N',
            Orientation::Rotated => 'R',
            Orientation::Inverted => 'I',
            Orientation::Bottom => 'B',
        }
    }
}

/// QR error correction level of `^BQ` data (`H`, `Q`, `M`, `L` mode prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum QrLevel {
    /// Ultra-high reliability (H).
    H,
    /// High reliability (Q), the ZPL default.
    #[default]
    Q,
    /// Standard (M).
    M,
    /// High density (L).
    L,
}

/// One GS1 element string: an application identifier and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gs1Element {
    ai: String,
    value: String,
}

/// Whether the AI has a predefined length, so that no FNC1 separator follows it.
///
/// The table of predefined-length prefixes (GS1 General Specifications figure 7.8.5-1): 00–04,
/// 11–20, 31–36, 41.
pub fn gs1_fixed_length(ai: &str) -> bool {
    let prefix = ai.get(..2).and_then(|p| p.parse::<u8>().ok());
    matches!(prefix, Some(0..=4 | 11..=20 | 31..=36 | 41))
}

/// GS1 character set 82 (what AI values may contain).
fn gs1_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!\"%&'()*+,-./:;<=>?_".contains(c)
}

impl Gs1Element {
    /// An element string; the AI is 2–4 digits, the value 1–90 characters of GS1 set 82,
    /// digits only for predefined-length AIs.
    pub fn new(ai: &str, value: &str) -> Result<Gs1Element, LabelError> {
        let fail = |reason| LabelError::Gs1 {
            ai: ai.to_owned(),
            reason,
        };
        if !(2..=4).contains(&ai.len()) || !ai.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail("AI must be 2 to 4 digits"));
        }
        if value.is_empty() || value.len() > 90 || !value.chars().all(gs1_char) {
            return Err(fail("value must be 1 to 90 characters of GS1 set 82"));
        }
        if gs1_fixed_length(ai) && !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail("value of a predefined-length AI must be digits"));
        }
        Ok(Gs1Element {
            ai: ai.to_owned(),
            value: value.to_owned(),
        })
    }

    /// Application identifier.
    pub fn ai(&self) -> &str {
        &self.ai
    }

    /// Value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// What a field draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// Text in scalable font 0 (`^A0`).
    Text {
        /// Text, any Unicode.
        text: String,
        /// Character height in dots.
        height: u16,
        /// Character width in dots.
        width: u16,
        /// Orientation.
        orientation: Orientation,
    },
    /// CODE128 (`^BC`, no mode), validated by [`Label::code128`].
    Code128 {
        /// Data, printable ASCII.
        data: String,
        /// Bar height in dots.
        height: u16,
        /// Print the interpretation line.
        hri: bool,
    },
    /// GS1-128: `^BC` automatic mode, start code C and FNC1 (`>;>8`), then the element
    /// strings with FNC1 (`>8`) after each variable-length one except the last.
    Gs1_128 {
        /// Element strings in order.
        elements: Vec<Gs1Element>,
        /// Bar height in dots.
        height: u16,
        /// Print the interpretation line (the printer's, without parentheses).
        hri: bool,
    },
    /// QR code model 2 (`^BQN,2,m`).
    Qr {
        /// Data.
        data: String,
        /// Magnification 1..=10.
        magnification: u8,
        /// Error correction.
        level: QrLevel,
    },
    /// A box or line (`^GB`).
    Box {
        /// Width in dots.
        width: u16,
        /// Height in dots.
        height: u16,
        /// Line thickness in dots.
        thickness: u16,
    },
}

/// A field at a position (`^FO x,y`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Distance from the left edge in dots.
    pub x: u16,
    /// Distance from the top in dots.
    pub y: u16,
    /// Module width in dots of barcodes (`^BY`), 1..=10.
    pub module_width: u8,
    /// What to draw.
    pub kind: FieldKind,
}

/// A label: size, fields, quantity.
///
/// ```
/// use drivers::zpl::{Gs1Element, Label};
/// let mut label = Label::new(812, 1218);
/// label.text(40, 40, 40, "Ship to: Müller GmbH");
/// label.gs1_128(40, 120, 200, vec![Gs1Element::new("00", "095060001234567893").unwrap()])
///     .unwrap();
/// let zpl = label.to_zpl();
/// assert!(zpl.starts_with("^XA^CI28^PW812^LL1218"));
/// assert!(zpl.contains("^FDShip to: M_C3_BCller GmbH^FS"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Print width in dots (`^PW`).
    pub width: u16,
    /// Label length in dots (`^LL`).
    pub length: u16,
    /// Copies to print (`^PQ`), at least 1.
    pub quantity: u32,
    /// Fields in order.
    pub fields: Vec<Field>,
}

impl Label {
    /// An empty label of `width` × `length` dots (203 dpi: 8 dots per mm; 4×6 in ≈ 812×1218).
    pub fn new(width: u16, length: u16) -> Label {
        Label {
            width,
            length,
            quantity: 1,
            fields: Vec::new(),
        }
    }

    fn push(&mut self, x: u16, y: u16, kind: FieldKind) -> &mut Label {
        self.fields.push(Field {
            x,
            y,
            module_width: 2,
            kind,
        });
        self
    }

    /// Adds text at (x, y) in font 0, `height` dots tall (width = height).
    pub fn text(&mut self, x: u16, y: u16, height: u16, text: &str) -> &mut Label {
        let kind = FieldKind::Text {
            text: text.to_owned(),
            height,
            width: height,
            orientation: Orientation::Normal,
        };
        self.push(x, y, kind)
    }

    /// Adds a CODE128 barcode of printable ASCII (at most 200 characters) with its
    /// interpretation line.
    pub fn code128(
        &mut self,
        x: u16,
        y: u16,
        height: u16,
        data: &str,
    ) -> Result<&mut Label, LabelError> {
        if data.is_empty() || data.len() > 200 {
            return Err(LabelError::Code128("must be 1 to 200 characters"));
        }
        if !data.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
            return Err(LabelError::Code128("only printable ASCII is allowed"));
        }
        let kind = FieldKind::Code128 {
            data: data.to_owned(),
            height,
            hri: true,
        };
        Ok(self.push(x, y, kind))
    }

    /// Adds a GS1-128 barcode of `elements` (at least one) with its interpretation line.
    pub fn gs1_128(
        &mut self,
        x: u16,
        y: u16,
        height: u16,
        elements: Vec<Gs1Element>,
    ) -> Result<&mut Label, LabelError> {
        if elements.is_empty() {
            return Err(LabelError::Gs1 {
                ai: String::new(),
                reason: "no element strings",
            });
        }
        Ok(self.push(
            x,
            y,
            FieldKind::Gs1_128 {
                elements,
                height,
                hri: true,
            },
        ))
    }

    /// Adds a QR code (model 2, error correction Q) of at most 2,953 bytes of UTF-8.
    pub fn qr(
        &mut self,
        x: u16,
        y: u16,
        magnification: u8,
        data: &str,
    ) -> Result<&mut Label, LabelError> {
        if data.is_empty() || data.len() > 2953 {
            return Err(LabelError::Qr("data must be 1 to 2953 bytes"));
        }
        if !(1..=10).contains(&magnification) {
            return Err(LabelError::Qr("magnification must be 1 to 10"));
        }
        let kind = FieldKind::Qr {
            data: data.to_owned(),
            magnification,
            level: QrLevel::Q,
        };
        Ok(self.push(x, y, kind))
    }

    /// Adds a box (or a line, when one side equals the thickness).
    pub fn boxed(&mut self, x: u16, y: u16, width: u16, height: u16, thickness: u16) -> &mut Label {
        self.push(
            x,
            y,
            FieldKind::Box {
                width,
                height,
                thickness,
            },
        )
    }

    /// Sets the number of copies.
    pub fn quantity(&mut self, copies: u32) -> &mut Label {
        self.quantity = copies.max(1);
        self
    }

    /// The label as ZPL II (pure ASCII; one field per line).
    pub fn to_zpl(&self) -> String {
        let mut z = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(z, "^XA^CI28^PW{}^LL{}", self.width, self.length);
        for f in &self.fields {
            let _ = write!(z, "^FO{},{}", f.x, f.y);
            let by = f.module_width.clamp(1, 10);
            match &f.kind {
                FieldKind::Text {
                    text,
                    height,
                    width,
                    orientation,
                } => {
                    let o = orientation.code();
                    let _ = write!(z, "^A0{o},{height},{width}^FH_^FD{}^FS", hex_escape(text));
                }
                FieldKind::Code128 { data, height, hri } => {
                    let data = hex_escape(&data.replace('>', "><"));
                    let f = yn(*hri);
                    let _ = write!(z, "^BY{by}^BCN,{height},{f},N,N,N^FH_^FD{data}^FS");
                }
                FieldKind::Gs1_128 {
                    elements,
                    height,
                    hri,
                } => {
                    let f = yn(*hri);
                    let _ = write!(z, "^BY{by}^BCN,{height},{f},N,N,A^FH_^FD>;>8");
                    for (i, e) in elements.iter().enumerate() {
                        z.push_str(&e.ai);
                        z.push_str(&hex_escape(&e.value.replace('>', "><")));
                        if i + 1 < elements.len() && !gs1_fixed_length(&e.ai) {
                            z.push_str(">8");
                        }
                    }
                    z.push_str("^FS");
                }
                FieldKind::Qr {
                    data,
                    magnification,
                    level,
                } => {
                    let l = match level {
                        QrLevel::H => 'H',
                        QrLevel::Q => 'Q',
                        QrLevel::M => 'M',
                        QrLevel::L => 'L',
                    };
                    let m = magnification.clamp(&1, &10);
                    let _ = write!(z, "^BQN,2,{m}^FH_^FD{l}A,{}^FS", hex_escape(data));
                }
                FieldKind::Box {
                    width,
                    height,
                    thickness,
                } => {
                    let _ = write!(z, "^GB{width},{height},{thickness}^FS");
                }
            }
            z.push('\n');
        }
        let _ = writeln!(z, "^PQ{}^XZ", self.quantity.max(1));
        z
    }
}

fn yn(b: bool) -> char {
    if b {
        'Y'
    } else {
        'N'
    }
}

/// Escapes field data for `^FH_`: printable ASCII other than `^ ~ _` stays, everything else
/// becomes `_XX` per UTF-8 byte.
pub fn hex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if (' '..='~').contains(&c) && !matches!(c, '^' | '~' | '_') {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "_{b:02X}");
            }
        }
    }
    out
}

/// Reverses [`hex_escape`] (`_XX` escapes with `_` as the escape character); invalid escapes
/// are kept as they are, and invalid UTF-8 becomes U+FFFD.
pub fn hex_unescape(data: &str) -> String {
    let bytes = data.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) if bytes[i] == b'_' => {
                out.push(b);
                i += 3;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipping_label_matches_reference_skeleton() {
        let mut l = Label::new(812, 1218);
        l.text(40, 40, 40, "Ship to: Müller GmbH");
        l.fields.last_mut().unwrap().module_width = 3;
        l.gs1_128(
            40,
            120,
            200,
            vec![Gs1Element::new("00", "095060001234567893").unwrap()],
        )
        .unwrap();
        l.fields.last_mut().unwrap().module_width = 3;
        l.qr(560, 40, 6, "https://id.gs1.org/01/09506000134352")
            .unwrap();
        l.quantity(2);
        assert_eq!(
            l.to_zpl(),
            "^XA^CI28^PW812^LL1218\n\
             ^FO40,40^A0N,40,40^FH_^FDShip to: M_C3_BCller GmbH^FS\n\
             ^FO40,120^BY3^BCN,200,Y,N,N,A^FH_^FD>;>800095060001234567893^FS\n\
             ^FO560,40^BQN,2,6^FH_^FDQA,https://id.gs1.org/01/09506000134352^FS\n\
             ^PQ2^XZ\n"
        );
    }

    #[test]
    fn gs1_fnc1_after_variable_length_elements_only() {
        let mut l = Label::new(400, 200);
        let e = |ai, v| Gs1Element::new(ai, v).unwrap();
        l.gs1_128(
            0,
            0,
            100,
            vec![
                e("01", "05060917510011"),
                e("10", "628S93R"),
                e("17", "241000"),
                e("21", "88>9"),
            ],
        )
        .unwrap();
        let zpl = l.to_zpl();
        assert!(
            zpl.contains("^FD>;>80105060917510011" /* 01 fixed: no FNC1 */),
            "{zpl}"
        );
        assert!(
            zpl.contains("10628S93R>817241000" /* FNC1 after 10, none after 17 */),
            "{zpl}"
        );
        assert!(
            zpl.contains("2188><9^FS" /* last element: no FNC1; '>' escaped */),
            "{zpl}"
        );
    }

    #[test]
    fn gs1_validation() {
        assert!(Gs1Element::new("1", "x").is_err());
        assert!(Gs1Element::new("01", "0506091751001A").is_err());
        assert!(Gs1Element::new("10", "").is_err());
        assert!(Gs1Element::new("10", "ä").is_err());
        assert!(Gs1Element::new("10", "AB-12/x").is_ok());
        assert!(gs1_fixed_length("3103") && gs1_fixed_length("00") && !gs1_fixed_length("21"));
        assert!(Label::new(1, 1).gs1_128(0, 0, 1, vec![]).is_err());
    }

    #[test]
    fn specials_are_escaped_and_round_trip() {
        let s = "a^b~c_d€\u{1}";
        let e = hex_escape(s);
        assert_eq!(e, "a_5Eb_7Ec_5Fd_E2_82_AC_01");
        assert_eq!(hex_unescape(&e), s);
        assert_eq!(hex_unescape("_G1_4"), "_G1_4");
        let mut l = Label::new(100, 100);
        l.code128(0, 0, 50, "A>B^C").unwrap();
        assert!(l.to_zpl().contains("^BCN,50,Y,N,N,N^FH_^FDA><B_5EC^FS"));
        assert!(Label::new(1, 1).code128(0, 0, 1, "é").is_err());
        assert!(Label::new(1, 1).qr(0, 0, 11, "x").is_err());
    }
}
