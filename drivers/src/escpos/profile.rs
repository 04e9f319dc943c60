//! Printer profiles: paper width, font, characters and dots per line, code pages.

use super::codepage::CodePage;

/// Paper roll width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Paper {
    /// 58 mm roll: 384 printable dots at 203 dpi (usual value; check per model).
    Mm58,
    /// 80 mm roll: 576 printable dots at 203 dpi (TM-T20III class; TM-T88V prints 512).
    Mm80,
}

/// Character font selected with `ESC M n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Font {
    /// Font A, 12 × 24 dots: 48 columns on 576 dots.
    A,
    /// Font B, 9 × 17 dots: 64 columns on 576 dots.
    B,
}

/// What the encoder needs to know about one printer model.
///
/// [`PrinterProfile::new`] derives the figures from paper and font; models that differ (the
/// TM-T88V prints 42/56 columns on 512 dots) adjust the public fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterProfile {
    /// Paper roll width.
    pub paper: Paper,
    /// Font used for text.
    pub font: Font,
    /// Characters per line in `font` at normal width.
    pub chars_per_line: u16,
    /// Printable dots per line (raster images are clipped to this width).
    pub dots_per_line: u16,
    /// Code pages the printer has, in order of preference. For each character that is not
    /// ASCII the encoder keeps the current page if it has the glyph, else switches to the first
    /// page of this list that has it; a character no page has prints as `?`.
    pub code_pages: Vec<CodePage>,
}

impl PrinterProfile {
    /// A profile for `paper` and `font` with the usual 203 dpi figures and the Western European
    /// code pages CP858 (€ at `D5`) then CP1252 (PROTOCOLS.md §1.2).
    pub fn new(paper: Paper, font: Font) -> PrinterProfile {
        let dots_per_line = match paper {
            Paper::Mm58 => 384,
            Paper::Mm80 => 576,
        };
        let chars_per_line = match font {
            Font::A => dots_per_line / 12,
            Font::B => dots_per_line / 9,
        };
        PrinterProfile {
            paper,
            font,
            chars_per_line,
            dots_per_line,
            code_pages: vec![CodePage::Cp858, CodePage::Cp1252],
        }
    }

    /// The same profile with another list of code pages.
    pub fn with_code_pages(mut self, pages: Vec<CodePage>) -> PrinterProfile {
        self.code_pages = pages;
        self
    }
}

impl Default for PrinterProfile {
    /// 80 mm paper, font A.
    fn default() -> PrinterProfile {
        PrinterProfile::new(Paper::Mm80, Font::A)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_per_paper_and_font() {
        let p = |paper, font| PrinterProfile::new(paper, font);
        assert_eq!(p(Paper::Mm80, Font::A).chars_per_line, 48);
        assert_eq!(p(Paper::Mm80, Font::B).chars_per_line, 64);
        assert_eq!(p(Paper::Mm58, Font::A).chars_per_line, 32);
        assert_eq!(p(Paper::Mm58, Font::B).chars_per_line, 42);
        assert_eq!(p(Paper::Mm58, Font::B).dots_per_line, 384);
    }
}
