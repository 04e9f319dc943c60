//! The error type of scan interpretation.

use super::ai::Ai;

/// Why scan data could not be interpreted.
///
/// Positions are byte offsets into the data given to [`parse`](super::parse), counting the
/// AIM symbology identifier if there was one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Gs1Error {
    /// The scan carried no data (nothing, or only a symbology identifier).
    #[error("empty scan")]
    Empty,
    /// The data is neither an element string nor valid UTF-8 text.
    #[error("scan data is not UTF-8 (byte {position})")]
    NotUtf8 {
        /// Offset of the first byte that is not part of valid UTF-8.
        position: usize,
    },
    /// A GTIN has a length other than 8, 12, 13 or 14 digits.
    #[error("GTIN at byte {position} has {len} digits; expected 8, 12, 13 or 14")]
    GtinLength {
        /// Offset of the GTIN.
        position: usize,
        /// Its length.
        len: usize,
    },
    /// A GTIN contains something other than a digit.
    #[error("GTIN has a non-digit at byte {position}")]
    GtinNonDigit {
        /// Offset of the offending byte.
        position: usize,
    },
    /// A GTIN's check digit is wrong.
    #[error("GTIN at byte {position}: check digit is {found}, expected {expected}")]
    GtinCheckDigit {
        /// Offset of the GTIN.
        position: usize,
        /// The check digit computed from the other digits.
        expected: u8,
        /// The check digit in the data.
        found: u8,
    },
    /// No known Application Identifier starts at this position of an element string.
    #[error("unknown application identifier at byte {position}")]
    UnknownAi {
        /// Offset where an AI was expected.
        position: usize,
    },
    /// An AI's value is shorter than its format allows (also: data ended early).
    #[error("AI ({ai}) value at byte {position} has {len} characters; at least {min} required")]
    TooShort {
        /// The AI.
        ai: Ai,
        /// Offset of the value.
        position: usize,
        /// Its length.
        len: usize,
        /// The least length its format allows.
        min: usize,
    },
    /// An AI's value is longer than its format allows (often: a missing GS separator).
    #[error(
        "AI ({ai}) value at byte {position} has {len} characters; at most {max} allowed \
         (missing GS separator?)"
    )]
    TooLong {
        /// The AI.
        ai: Ai,
        /// Offset of the value.
        position: usize,
        /// Its length.
        len: usize,
        /// The greatest length its format allows.
        max: usize,
    },
    /// A character that the AI's character set does not allow.
    #[error("AI ({ai}): character {ch:?} at byte {position} is not allowed")]
    InvalidCharacter {
        /// The AI.
        ai: Ai,
        /// Offset of the character.
        position: usize,
        /// The character (a non-ASCII byte shows as U+FFFD).
        ch: char,
    },
    /// A GS1 key (GTIN, SSCC, GLN…) inside an element string has a wrong check digit.
    #[error("AI ({ai}) value at byte {position}: check digit is {found}, expected {expected}")]
    CheckDigit {
        /// The AI.
        ai: Ai,
        /// Offset of the value.
        position: usize,
        /// The check digit computed from the other digits.
        expected: u8,
        /// The check digit in the data.
        found: u8,
    },
    /// A date field (YYMMDD) is not a date.
    #[error("AI ({ai}) value at byte {position}: {value:?} is not a valid YYMMDD date")]
    InvalidDate {
        /// The AI.
        ai: Ai,
        /// Offset of the date.
        position: usize,
        /// The six digits.
        value: String,
    },
    /// A `%` in a Digital Link URI is not followed by two hex digits, or decodes to non-UTF-8.
    #[error("Digital Link: bad percent-encoding at byte {position}")]
    PercentEncoding {
        /// Offset of the `%` (or of the segment that does not decode to UTF-8).
        position: usize,
    },
    /// A Digital Link path AI that the primary key does not accept as a qualifier here.
    #[error("Digital Link: AI ({ai}) at byte {position} is not a qualifier allowed here")]
    QualifierNotAllowed {
        /// The AI.
        ai: Ai,
        /// Offset of the path segment.
        position: usize,
    },
}
