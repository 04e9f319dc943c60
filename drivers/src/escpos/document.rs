//! The receipt document model: what to print, independent of any printer's bytes.
//!
//! A [`Receipt`] is a list of [`Block`]s. Blocks whose content can be invalid (barcodes, QR
//! codes, images, drawer pulses) are built through constructors that validate, so encoding a
//! receipt cannot fail.

use thiserror::Error;

/// A document that cannot be built as asked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DocumentError {
    /// CODE128 data is empty, too long, or holds a character outside printable ASCII.
    #[error("invalid CODE128 data: {0}")]
    Code128(&'static str),
    /// EAN-13 data is not 12 digits, or 13 digits with a wrong check digit.
    #[error("invalid EAN-13 data: {0}")]
    Ean13(&'static str),
    /// QR data is empty or longer than the printer's symbol store (7,089 bytes).
    #[error("QR data must be 1..=7089 bytes, got {0}")]
    QrLength(usize),
    /// QR module size outside 1..=16 dots.
    #[error("QR module size must be 1..=16 dots, got {0}")]
    QrModuleSize(u8),
    /// Barcode bar height of 0 or module width outside 2..=6.
    #[error("barcode height must be 1..=255 dots and module width 2..=6, got {0} and {1}")]
    BarcodeSize(u8, u8),
    /// Raster image with a zero or too large dimension, or a bitmap of the wrong length.
    #[error("invalid raster image: {0}")]
    Image(&'static str),
    /// Drawer pulse outside 2..=510 ms on, or off time shorter than on time or above 510 ms.
    #[error("drawer pulse must be 2..=510 ms on and on..=510 ms off, got {on_ms}/{off_ms}")]
    KickPulse {
        /// Requested on time in milliseconds.
        on_ms: u16,
        /// Requested off time in milliseconds.
        off_ms: u16,
    },
}

/// Horizontal alignment of a line (`ESC a n`, honoured at the start of a line only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Align {
    /// Flush left.
    #[default]
    Left,
    /// Centred.
    Center,
    /// Flush right.
    Right,
}

/// Underline thickness (`ESC - n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Underline {
    /// No underline.
    #[default]
    None,
    /// One-dot underline.
    Thin,
    /// Two-dot underline.
    Thick,
}

/// Character style and alignment of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Style {
    /// Emphasised (`ESC E`).
    pub bold: bool,
    /// Underline (`ESC - n`).
    pub underline: Underline,
    /// Characters twice as wide (`GS !`): half as many columns fit on a line.
    pub double_width: bool,
    /// Characters twice as tall (`GS !`).
    pub double_height: bool,
    /// White on black (`GS B`).
    pub inverted: bool,
    /// Alignment of the line.
    pub align: Align,
}

impl Style {
    /// Plain left-aligned text.
    pub fn plain() -> Style {
        Style::default()
    }

    /// This style, bold.
    pub fn bold(mut self) -> Style {
        self.bold = true;
        self
    }

    /// This style with the given underline.
    pub fn underline(mut self, underline: Underline) -> Style {
        self.underline = underline;
        self
    }

    /// This style with double width and height.
    pub fn double(mut self) -> Style {
        self.double_width = true;
        self.double_height = true;
        self
    }

    /// This style, inverted (white on black).
    pub fn inverted(mut self) -> Style {
        self.inverted = true;
        self
    }

    /// This style with the given alignment.
    pub fn align(mut self, align: Align) -> Style {
        self.align = align;
        self
    }

    /// Columns a character of this style takes (2 for double width).
    pub fn width_factor(&self) -> u16 {
        if self.double_width {
            2
        } else {
            1
        }
    }
}

/// How wide a column of a [`Block::Row`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnWidth {
    /// Exactly this many characters (less if the line is too narrow).
    Fixed(u16),
    /// As wide as its text, leaving at least one character to every `Fill` column.
    Auto,
    /// An equal share of what the other columns leave.
    Fill,
}

/// One cell of a [`Block::Row`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Text of the cell; truncated to the column's width, line breaks become spaces.
    pub text: String,
    /// Width rule.
    pub width: ColumnWidth,
    /// Alignment of the text within the cell.
    pub align: Align,
}

impl Column {
    /// A column of the given text, width rule and alignment.
    pub fn new(text: impl Into<String>, width: ColumnWidth, align: Align) -> Column {
        Column {
            text: text.into(),
            width,
            align,
        }
    }
}

/// Barcode symbologies the encoder supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Symbology {
    /// CODE128, code set B (`GS k 73`).
    Code128,
    /// EAN-13 (`GS k 67`); the printer computes the check digit.
    Ean13,
}

/// Where the human-readable interpretation of a barcode is printed (`GS H n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HriPosition {
    /// Not printed.
    None,
    /// Above the bars.
    Above,
    /// Below the bars.
    #[default]
    Below,
    /// Above and below.
    Both,
}

/// A validated one-dimensional barcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Barcode {
    symbology: Symbology,
    data: String,
    height: u8,
    module_width: u8,
    hri: HriPosition,
}

impl Barcode {
    /// A CODE128 barcode of printable ASCII, at most 253 bytes once `{` is escaped.
    pub fn code128(data: &str) -> Result<Barcode, DocumentError> {
        if data.is_empty() {
            return Err(DocumentError::Code128("empty"));
        }
        if !data.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
            return Err(DocumentError::Code128("only printable ASCII is allowed"));
        }
        let escaped = data.len() + data.bytes().filter(|&b| b == b'{').count();
        if escaped > 253 {
            return Err(DocumentError::Code128("longer than 253 bytes"));
        }
        Ok(Barcode::with_data(Symbology::Code128, data.to_owned()))
    }

    /// An EAN-13 barcode from 12 digits, or 13 digits whose last is the correct check digit.
    pub fn ean13(digits: &str) -> Result<Barcode, DocumentError> {
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DocumentError::Ean13("only digits are allowed"));
        }
        let body = match digits.len() {
            12 => digits,
            13 => {
                let (body, check) = digits.split_at(12);
                if check.as_bytes()[0] - b'0' != gtin_check_digit(body) {
                    return Err(DocumentError::Ean13("wrong check digit"));
                }
                body
            }
            _ => return Err(DocumentError::Ean13("needs 12 or 13 digits")),
        };
        Ok(Barcode::with_data(Symbology::Ean13, body.to_owned()))
    }

    fn with_data(symbology: Symbology, data: String) -> Barcode {
        Barcode {
            symbology,
            data,
            height: 80,
            module_width: 3,
            hri: HriPosition::Below,
        }
    }

    /// The same barcode with bar height in dots (1..=255) and module width (2..=6).
    pub fn with_size(mut self, height: u8, module_width: u8) -> Result<Barcode, DocumentError> {
        if height == 0 || !(2..=6).contains(&module_width) {
            return Err(DocumentError::BarcodeSize(height, module_width));
        }
        self.height = height;
        self.module_width = module_width;
        Ok(self)
    }

    /// The same barcode with the human-readable text at `hri`.
    pub fn with_hri(mut self, hri: HriPosition) -> Barcode {
        self.hri = hri;
        self
    }

    /// Symbology.
    pub fn symbology(&self) -> Symbology {
        self.symbology
    }

    /// Data as validated (EAN-13: the 12 digits without check digit).
    pub fn data(&self) -> &str {
        &self.data
    }

    /// Bar height in dots.
    pub fn height(&self) -> u8 {
        self.height
    }

    /// Module width (2..=6).
    pub fn module_width(&self) -> u8 {
        self.module_width
    }

    /// Position of the human-readable interpretation.
    pub fn hri(&self) -> HriPosition {
        self.hri
    }
}

/// The GS1 check digit of `digits` (weights 3,1,3,… from the right).
fn gtin_check_digit(digits: &str) -> u8 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    // The result is below 10.
    ((10 - sum % 10) % 10) as u8
}

/// QR error correction level (`GS ( k` fn 69).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum QrErrorCorrection {
    /// About 7 % recovery.
    L,
    /// About 15 % recovery.
    #[default]
    M,
    /// About 25 % recovery.
    Q,
    /// About 30 % recovery.
    H,
}

/// A validated QR code, model 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCode {
    data: Vec<u8>,
    module_size: u8,
    ec: QrErrorCorrection,
}

impl QrCode {
    /// A QR code of `data` (1..=7089 bytes), module size 6 dots, error correction M.
    pub fn new(data: impl Into<Vec<u8>>) -> Result<QrCode, DocumentError> {
        let data = data.into();
        if data.is_empty() || data.len() > 7089 {
            return Err(DocumentError::QrLength(data.len()));
        }
        Ok(QrCode {
            data,
            module_size: 6,
            ec: QrErrorCorrection::M,
        })
    }

    /// The same code with module size in dots (1..=16; some clones allow only 1..=8).
    pub fn with_module_size(mut self, dots: u8) -> Result<QrCode, DocumentError> {
        if !(1..=16).contains(&dots) {
            return Err(DocumentError::QrModuleSize(dots));
        }
        self.module_size = dots;
        Ok(self)
    }

    /// The same code with another error correction level.
    pub fn with_error_correction(mut self, ec: QrErrorCorrection) -> QrCode {
        self.ec = ec;
        self
    }

    /// Data bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Module size in dots.
    pub fn module_size(&self) -> u8 {
        self.module_size
    }

    /// Error correction level.
    pub fn error_correction(&self) -> QrErrorCorrection {
        self.ec
    }
}

/// A 1-bit image: rows top to bottom, each row packed MSB first (bit set = black dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RasterImage {
    width: u16,
    height: u16,
    bits: Vec<u8>,
}

/// Largest image width accepted, in dots.
pub const MAX_IMAGE_WIDTH: u16 = 2048;
/// Largest image height accepted, in dots.
pub const MAX_IMAGE_HEIGHT: u16 = 8192;

impl RasterImage {
    /// An image of `width` × `height` dots from packed rows of `ceil(width / 8)` bytes.
    pub fn from_packed(
        width: u16,
        height: u16,
        bits: Vec<u8>,
    ) -> Result<RasterImage, DocumentError> {
        if width == 0 || height == 0 {
            return Err(DocumentError::Image("zero width or height"));
        }
        if width > MAX_IMAGE_WIDTH || height > MAX_IMAGE_HEIGHT {
            return Err(DocumentError::Image("larger than 2048 × 8192 dots"));
        }
        if bits.len() != usize::from(width.div_ceil(8)) * usize::from(height) {
            return Err(DocumentError::Image(
                "bitmap length is not ceil(width / 8) × height",
            ));
        }
        Ok(RasterImage {
            width,
            height,
            bits,
        })
    }

    /// An image of `width` × `height` dots where `black(x, y)` says which dots are black.
    pub fn from_fn(
        width: u16,
        height: u16,
        mut black: impl FnMut(u16, u16) -> bool,
    ) -> Result<RasterImage, DocumentError> {
        let row_bytes = usize::from(width.div_ceil(8));
        let mut bits = vec![0u8; row_bytes * usize::from(height)];
        for y in 0..height {
            for x in 0..width {
                if black(x, y) {
                    bits[usize::from(y) * row_bytes + usize::from(x / 8)] |= 0x80 >> (x % 8);
                }
            }
        }
        RasterImage::from_packed(width, height, bits)
    }

    /// Width in dots.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Height in dots.
    pub fn height(&self) -> u16 {
        self.height
    }

    /// Bytes per packed row.
    pub fn row_bytes(&self) -> u16 {
        self.width.div_ceil(8)
    }

    /// Packed rows.
    pub fn bits(&self) -> &[u8] {
        &self.bits
    }
}

/// Drawer kick-out connector pin driven by a pulse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DrawerPin {
    /// Pin 2 (drawer 1).
    #[default]
    Pin2,
    /// Pin 5 (drawer 2).
    Pin5,
}

/// A validated drawer pulse (`ESC p m t1 t2`; times in 2 ms units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DrawerKick {
    pin: DrawerPin,
    on_ms: u16,
    off_ms: u16,
}

impl DrawerKick {
    /// A pulse on `pin`, `on_ms` long (2..=510), followed by `off_ms` (on_ms..=510) off.
    ///
    /// Solenoids are rated for a duty cycle of at most 20 %, i.e. off ≥ 4 × on; the printer
    /// enforces only off ≥ on, so that is what is checked here.
    pub fn new(pin: DrawerPin, on_ms: u16, off_ms: u16) -> Result<DrawerKick, DocumentError> {
        if !(2..=510).contains(&on_ms) || off_ms < on_ms || off_ms > 510 {
            return Err(DocumentError::KickPulse { on_ms, off_ms });
        }
        Ok(DrawerKick { pin, on_ms, off_ms })
    }

    /// Pin 2, 100 ms on, 400 ms off (20 % duty).
    pub fn pin2() -> DrawerKick {
        DrawerKick {
            pin: DrawerPin::Pin2,
            on_ms: 100,
            off_ms: 400,
        }
    }

    /// Pin 5, 100 ms on, 400 ms off (20 % duty).
    pub fn pin5() -> DrawerKick {
        DrawerKick {
            pin: DrawerPin::Pin5,
            on_ms: 100,
            off_ms: 400,
        }
    }

    /// Pin driven.
    pub fn pin(&self) -> DrawerPin {
        self.pin
    }

    /// On time in milliseconds (sent rounded down to 2 ms units).
    pub fn on_ms(&self) -> u16 {
        self.on_ms
    }

    /// Off time in milliseconds (sent rounded down to 2 ms units).
    pub fn off_ms(&self) -> u16 {
        self.off_ms
    }
}

impl Default for DrawerKick {
    fn default() -> DrawerKick {
        DrawerKick::pin2()
    }
}

/// Paper cut (`GS V 65 n` / `GS V 66 n`: feed to the cutter, then cut).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cut {
    /// Full cut.
    Full,
    /// Partial cut (one point left uncut), the cut every model supports.
    #[default]
    Partial,
}

/// One element of a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// Text, word-wrapped to the line width; `\n` starts a new line.
    Text {
        /// Text.
        text: String,
        /// Style of every line of the text.
        style: Style,
    },
    /// A row of columns fitted to the line width.
    Row {
        /// Columns, left to right, separated by one space.
        columns: Vec<Column>,
        /// Style of the row (its alignment is ignored: the row fills the line).
        style: Style,
    },
    /// A full-width line of one repeated character.
    Separator(char),
    /// A barcode.
    Barcode {
        /// The barcode.
        barcode: Barcode,
        /// Alignment.
        align: Align,
    },
    /// A QR code.
    Qr {
        /// The code.
        qr: QrCode,
        /// Alignment.
        align: Align,
    },
    /// A raster image, clipped to the profile's dots per line.
    Image {
        /// The image.
        image: RasterImage,
        /// Alignment.
        align: Align,
    },
    /// Feed this many empty lines.
    Feed(u8),
    /// Cut the paper.
    Cut(Cut),
    /// Pulse a drawer kick-out pin.
    Kick(DrawerKick),
}

/// A receipt: blocks printed top to bottom.
///
/// ```
/// use drivers::escpos::{Block, Cut, Receipt, Style};
/// let mut r = Receipt::new();
/// r.line("Café Müller", Style::plain().bold())
///     .row("Espresso", "2,50 €")
///     .separator()
///     .cut(Cut::Partial);
/// assert_eq!(r.blocks.len(), 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    /// Blocks in print order.
    pub blocks: Vec<Block>,
}

impl Receipt {
    /// An empty receipt.
    pub fn new() -> Receipt {
        Receipt::default()
    }

    /// Appends any block.
    pub fn push(&mut self, block: Block) -> &mut Receipt {
        self.blocks.push(block);
        self
    }

    /// Appends text in a style.
    pub fn line(&mut self, text: impl Into<String>, style: Style) -> &mut Receipt {
        self.push(Block::Text {
            text: text.into(),
            style,
        })
    }

    /// Appends a two-column row: `left` fills the line, `right` is right-aligned at its width.
    pub fn row(&mut self, left: impl Into<String>, right: impl Into<String>) -> &mut Receipt {
        self.columns(
            vec![
                Column::new(left, ColumnWidth::Fill, Align::Left),
                Column::new(right, ColumnWidth::Auto, Align::Right),
            ],
            Style::plain(),
        )
    }

    /// Appends a row of any number of columns.
    pub fn columns(&mut self, columns: Vec<Column>, style: Style) -> &mut Receipt {
        self.push(Block::Row { columns, style })
    }

    /// Appends a separator line of `-`.
    pub fn separator(&mut self) -> &mut Receipt {
        self.push(Block::Separator('-'))
    }

    /// Appends a barcode, centred.
    pub fn barcode(&mut self, barcode: Barcode) -> &mut Receipt {
        self.push(Block::Barcode {
            barcode,
            align: Align::Center,
        })
    }

    /// Appends a QR code, centred.
    pub fn qr(&mut self, qr: QrCode) -> &mut Receipt {
        self.push(Block::Qr {
            qr,
            align: Align::Center,
        })
    }

    /// Appends a raster image (a logo), centred.
    pub fn image(&mut self, image: RasterImage) -> &mut Receipt {
        self.push(Block::Image {
            image,
            align: Align::Center,
        })
    }

    /// Appends `lines` empty lines.
    pub fn feed(&mut self, lines: u8) -> &mut Receipt {
        self.push(Block::Feed(lines))
    }

    /// Appends a cut.
    pub fn cut(&mut self, cut: Cut) -> &mut Receipt {
        self.push(Block::Cut(cut))
    }

    /// Appends a drawer pulse.
    pub fn kick(&mut self, kick: DrawerKick) -> &mut Receipt {
        self.push(Block::Kick(kick))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ean13_check_digit_is_validated() {
        assert_eq!(
            Barcode::ean13("5901234123457").unwrap().data(),
            "590123412345"
        );
        assert_eq!(
            Barcode::ean13("590123412345").unwrap().data(),
            "590123412345"
        );
        assert_eq!(
            Barcode::ean13("5901234123458"),
            Err(DocumentError::Ean13("wrong check digit"))
        );
        assert!(Barcode::ean13("59012341234").is_err());
        assert!(Barcode::ean13("59012341234x").is_err());
    }

    #[test]
    fn code128_limits() {
        assert!(Barcode::code128("").is_err());
        assert!(Barcode::code128("ABC-123").is_ok());
        assert!(Barcode::code128("é").is_err());
        assert_eq!(
            Barcode::code128(&"{".repeat(126)).unwrap().data().len(),
            126
        );
        assert!(Barcode::code128(&"{".repeat(127)).is_err());
        assert!(Barcode::code128(&"A".repeat(253)).is_ok());
        assert!(Barcode::code128(&"A".repeat(254)).is_err());
    }

    #[test]
    fn kick_limits() {
        assert!(DrawerKick::new(DrawerPin::Pin5, 100, 400).is_ok());
        assert!(DrawerKick::new(DrawerPin::Pin5, 0, 400).is_err());
        assert!(DrawerKick::new(DrawerPin::Pin5, 200, 100).is_err());
        assert!(DrawerKick::new(DrawerPin::Pin5, 100, 600).is_err());
    }

    #[test]
    fn image_from_fn_packs_msb_first() {
        let img = RasterImage::from_fn(10, 2, |x, y| x == y || x == 9).unwrap();
        assert_eq!(
            img.bits(),
            &[0b1000_0000, 0b0100_0000, 0b0100_0000, 0b0100_0000]
        );
        assert!(RasterImage::from_packed(8, 2, vec![0]).is_err());
        assert!(RasterImage::from_packed(0, 2, vec![]).is_err());
    }
}
