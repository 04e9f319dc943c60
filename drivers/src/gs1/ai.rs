//! Application Identifiers: the table lookup and the typed values of element strings.

use std::fmt;

use super::ai_table::AI_TABLE;
use super::error::Gs1Error;
use super::gtin::{check_digit, Gtin};

/// A GS1 Application Identifier (two to four digits) that the AI table knows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ai {
    digits: [u8; 4],
    len: u8,
}

impl Ai {
    /// (00) Serial Shipping Container Code.
    pub const SSCC: Ai = Ai::known("00");
    /// (01) GTIN of the trade item.
    pub const GTIN: Ai = Ai::known("01");
    /// (02) GTIN of the contained trade items.
    pub const CONTENT: Ai = Ai::known("02");
    /// (10) Batch or lot number.
    pub const BATCH: Ai = Ai::known("10");
    /// (11) Production date.
    pub const PROD_DATE: Ai = Ai::known("11");
    /// (15) Best before date.
    pub const BEST_BEFORE: Ai = Ai::known("15");
    /// (17) Expiration ("use by") date.
    pub const EXPIRY: Ai = Ai::known("17");
    /// (21) Serial number.
    pub const SERIAL: Ai = Ai::known("21");

    const fn known(s: &str) -> Ai {
        let b = s.as_bytes();
        let mut digits = [0u8; 4];
        let mut i = 0;
        while i < b.len() {
            digits[i] = b[i];
            i += 1;
        }
        Ai {
            digits,
            len: b.len() as u8,
        }
    }

    /// The AI named by exactly `s` (e.g. `"3103"`), if the AI table knows it.
    ///
    /// ```
    /// use drivers::gs1::Ai;
    /// assert_eq!(Ai::new("17"), Some(Ai::EXPIRY));
    /// assert_eq!(Ai::new("3103").unwrap().as_str(), "3103");
    /// assert_eq!(Ai::new("31"), None);
    /// ```
    pub fn new(s: &str) -> Option<Ai> {
        match lookup(s.as_bytes()) {
            Some((ai, _)) if usize::from(ai.len) == s.len() => Some(ai),
            _ => None,
        }
    }

    /// The AI's digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.digits[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The AI's data title from the GS1 syntax dictionary, e.g. `"BATCH/LOT"`.
    pub fn title(&self) -> &'static str {
        self.def().map_or("", |d| d.title)
    }

    /// Whether the value has a predefined length, so that no GS separator follows it.
    pub fn is_predefined_length(&self) -> bool {
        self.def().is_some_and(|d| d.predefined)
    }

    pub(crate) fn def(&self) -> Option<&'static AiDef> {
        lookup(self.as_str().as_bytes()).map(|(_, d)| d)
    }
}

impl fmt::Display for Ai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Ai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ai({})", self.as_str())
    }
}

/// A character set of the GS1 General Specifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cset {
    /// Digits.
    N,
    /// CSET 82: the invariant subset of ISO 646.
    X,
    /// CSET 39: upper-case letters, digits, `#`, `-`, `/`.
    Y,
    /// CSET 64: the file-safe base64 alphabet and `=`.
    Z,
}

impl Cset {
    pub(crate) fn allows(self, b: u8) -> bool {
        match self {
            Cset::N => b.is_ascii_digit(),
            Cset::X => b.is_ascii_alphanumeric() || b"!\"%&'()*+,-./:;<=>?_".contains(&b),
            Cset::Y => b.is_ascii_uppercase() || b.is_ascii_digit() || b"#-/".contains(&b),
            Cset::Z => b.is_ascii_alphanumeric() || b"-_=".contains(&b),
        }
    }
}

/// A content check from the dictionary's linters that we apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// No check beyond the character set.
    None,
    /// The last digit is a GS1 check digit.
    Csum,
    /// A YYMMDD date whose day may be 00.
    Yymmd0,
    /// A YYMMDD date.
    Yymmdd,
}

/// One component of an AI's value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Comp {
    pub(crate) cset: Cset,
    pub(crate) min: u8,
    pub(crate) max: u8,
    pub(crate) optional: bool,
    pub(crate) check: Check,
}

/// Whether an AI is a GS1 Digital Link primary key, and its qualifier sequences.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DlKey {
    /// Not a primary key.
    No,
    /// A primary key; each slice is one ordered sequence of optional qualifier AIs.
    Yes(&'static [&'static [&'static str]]),
}

/// One entry of the AI table: an AI or a range of AIs of equal length.
#[derive(Debug)]
pub(crate) struct AiDef {
    pub(crate) lo: &'static str,
    pub(crate) hi: &'static str,
    pub(crate) predefined: bool,
    pub(crate) comps: &'static [Comp],
    pub(crate) title: &'static str,
    pub(crate) dl: DlKey,
}

impl AiDef {
    /// The value length if it is fixed.
    pub(crate) fn fixed_len(&self) -> Option<usize> {
        let fixed = self.comps.iter().all(|c| !c.optional && c.min == c.max);
        fixed.then(|| self.comps.iter().map(|c| usize::from(c.max)).sum())
    }

    pub(crate) fn min_len(&self) -> usize {
        self.comps
            .iter()
            .filter(|c| !c.optional)
            .map(|c| usize::from(c.min))
            .sum()
    }

    pub(crate) fn max_len(&self) -> usize {
        self.comps.iter().map(|c| usize::from(c.max)).sum()
    }
}

/// The AI that `data` starts with, if any. AIs are prefix-free, so at most one matches.
pub(crate) fn lookup(data: &[u8]) -> Option<(Ai, &'static AiDef)> {
    for len in 2..=4 {
        let prefix = data.get(..len)?;
        if !prefix.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let hit = AI_TABLE
            .iter()
            .find(|d| d.lo.len() == len && d.lo.as_bytes() <= prefix && prefix <= d.hi.as_bytes());
        if let Some(def) = hit {
            let mut digits = [0u8; 4];
            digits[..len].copy_from_slice(prefix);
            // len is at most 4.
            return Some((
                Ai {
                    digits,
                    len: len as u8,
                },
                def,
            ));
        }
    }
    None
}

/// A decimal number without floating point: `value / 10^decimals`.
///
/// ```
/// let d = drivers::gs1::Decimal { value: 1250, decimals: 3 };
/// assert_eq!(d.to_string(), "1.250");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    /// The digits as an integer.
    pub value: u64,
    /// How many of the digits are after the decimal point.
    pub decimals: u8,
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decimals = usize::from(self.decimals);
        if decimals == 0 {
            return write!(f, "{}", self.value);
        }
        // String arithmetic: no overflow for any number of decimals.
        let digits = format!("{:0width$}", self.value, width = decimals + 1);
        let (int, frac) = digits.split_at(digits.len() - decimals);
        write!(f, "{int}.{frac}")
    }
}

/// A GS1 date (YYMMDD). The century is not in the data: see [`Gs1Date::full_year`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gs1Date {
    /// Two-digit year.
    pub yy: u8,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month; `None` when the data says day 00 ("the month as a whole"; for an
    /// expiry date that means the last day of the month).
    pub day: Option<u8>,
}

impl Gs1Date {
    /// The four-digit year by the GS1 rule (General Specifications 7.12): the year in the
    /// window from 49 years before to 50 years after `current_year`.
    ///
    /// ```
    /// let d = drivers::gs1::Gs1Date { yy: 24, month: 10, day: Some(31) };
    /// assert_eq!(d.full_year(2026), 2024);
    /// assert_eq!(drivers::gs1::Gs1Date { yy: 80, ..d }.full_year(2026), 1980);
    /// assert_eq!(drivers::gs1::Gs1Date { yy: 76, ..d }.full_year(2026), 2076);
    /// ```
    pub fn full_year(&self, current_year: u16) -> u16 {
        let century = current_year - current_year % 100;
        let diff = i32::from(self.yy) - i32::from(current_year % 100);
        let century = if diff >= 51 {
            century.saturating_sub(100)
        } else if diff <= -50 {
            century.saturating_add(100)
        } else {
            century
        };
        century.saturating_add(u16::from(self.yy))
    }

    /// The day, with day 00 resolved to the last day of the month.
    pub fn last_day(&self) -> u8 {
        self.day
            .unwrap_or_else(|| days_in_month(self.yy, self.month))
    }
}

fn days_in_month(yy: u8, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        // Two-digit years: in both possible centuries yy % 4 == 0 is a leap year (2000 was).
        2 if yy.is_multiple_of(4) => 29,
        2 => 28,
        _ => 31,
    }
}

/// The typed value of one element string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// AI (01) or (02): a GTIN, check digit verified.
    Gtin(Gtin),
    /// AI (00): an SSCC (18 digits), check digit verified.
    Sscc(String),
    /// A date: AIs (11)–(17) and the other YYMMDD fields (7006, 4326…).
    Date(Gs1Date),
    /// A measure or price with implied decimal point: (310n)–(369n), (390n), (392n), (394n),
    /// (395n), where the last AI digit n is the number of decimals.
    Decimal(Decimal),
    /// An amount with an ISO 4217 numeric currency code: (391n), (393n).
    Amount {
        /// The three-digit ISO 4217 currency code, e.g. `"978"` for euro.
        currency: String,
        /// The amount.
        amount: Decimal,
    },
    /// Any other AI: the value as transmitted, e.g. batch (10) and serial (21).
    Text(String),
}

/// Validates `raw` as the value of `ai` and types it. `position` is the offset of `raw`.
pub(crate) fn interpret(
    ai: Ai,
    def: &AiDef,
    raw: &[u8],
    position: usize,
) -> Result<Value, Gs1Error> {
    let min = def.min_len();
    let max = def.max_len();
    if raw.len() < min {
        return Err(Gs1Error::TooShort {
            ai,
            position,
            len: raw.len(),
            min,
        });
    }
    if raw.len() > max {
        return Err(Gs1Error::TooLong {
            ai,
            position,
            len: raw.len(),
            max,
        });
    }
    let mut at = 0;
    for comp in def.comps {
        let rest = raw.len() - at;
        if rest == 0 && comp.optional {
            break;
        }
        let take = rest.min(usize::from(comp.max));
        if take < usize::from(comp.min) {
            return Err(Gs1Error::TooShort {
                ai,
                position,
                len: raw.len(),
                min,
            });
        }
        let part = &raw[at..at + take];
        if let Some(i) = part.iter().position(|&b| !comp.cset.allows(b)) {
            let b = part[i];
            let ch = if b.is_ascii() {
                char::from(b)
            } else {
                char::REPLACEMENT_CHARACTER
            };
            return Err(Gs1Error::InvalidCharacter {
                ai,
                position: position + at + i,
                ch,
            });
        }
        match comp.check {
            Check::None => {}
            Check::Csum => {
                let (body, check) = part.split_at(part.len() - 1);
                let expected = check_digit(body).unwrap_or(0);
                let found = check[0] - b'0';
                if expected != found {
                    return Err(Gs1Error::CheckDigit {
                        ai,
                        position,
                        expected,
                        found,
                    });
                }
            }
            Check::Yymmd0 | Check::Yymmdd => {
                date(part, comp.check == Check::Yymmd0).ok_or_else(|| Gs1Error::InvalidDate {
                    ai,
                    position: position + at,
                    value: String::from_utf8_lossy(part).into_owned(),
                })?;
            }
        }
        at += take;
    }
    if at != raw.len() {
        return Err(Gs1Error::TooLong {
            ai,
            position,
            len: raw.len(),
            max,
        });
    }
    // Every byte passed a character set check, so the value is ASCII.
    let text = String::from_utf8_lossy(raw).into_owned();
    Ok(typed(ai, def, text))
}

fn typed(ai: Ai, def: &AiDef, text: String) -> Value {
    let s = ai.as_str().as_bytes();
    let decimals = s.get(3).map_or(0, |d| d - b'0');
    let number = |t: &str| Decimal {
        value: t.parse().unwrap_or(0),
        decimals,
    };
    match s {
        b"00" => Value::Sscc(text),
        b"01" | b"02" => match Gtin::parse(&text) {
            Ok(g) => Value::Gtin(g),
            Err(_) => Value::Text(text),
        },
        [b'1', b'1'..=b'7'] => match date(text.as_bytes(), true) {
            Some(d) => Value::Date(d),
            None => Value::Text(text),
        },
        [b'3', b'1'..=b'6', _, _] | [b'3', b'9', b'0' | b'2' | b'4' | b'5', _] => {
            Value::Decimal(number(&text))
        }
        [b'3', b'9', b'1' | b'3', _] => {
            let (currency, amount) = text.split_at(3);
            Value::Amount {
                currency: currency.to_owned(),
                amount: number(amount),
            }
        }
        _ if def.comps.len() == 1 && def.comps[0].check == Check::Yymmdd => {
            match date(text.as_bytes(), false) {
                Some(d) => Value::Date(d),
                None => Value::Text(text),
            }
        }
        _ => Value::Text(text),
    }
}

/// Parses six digits YYMMDD; day 00 is allowed only if `day_zero_ok`.
fn date(d: &[u8], day_zero_ok: bool) -> Option<Gs1Date> {
    if d.len() != 6 || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let two = |i: usize| (d[i] - b'0') * 10 + (d[i + 1] - b'0');
    let (yy, month, day) = (two(0), two(2), two(4));
    if !(1..=12).contains(&month) {
        return None;
    }
    if day == 0 {
        return day_zero_ok.then_some(Gs1Date {
            yy,
            month,
            day: None,
        });
    }
    (day <= days_in_month(yy, month)).then_some(Gs1Date {
        yy,
        month,
        day: Some(day),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_fixed_variable_and_ranges() {
        let (ai, def) = lookup(b"0109506000134352").unwrap();
        assert_eq!(
            (ai.as_str(), def.predefined, def.fixed_len()),
            ("01", true, Some(14))
        );
        let (ai, def) = lookup(b"10ABC").unwrap();
        assert_eq!(
            (ai.as_str(), def.predefined, def.max_len()),
            ("10", false, 20)
        );
        let (ai, def) = lookup(b"3103001250").unwrap();
        assert_eq!((ai.as_str(), def.fixed_len()), ("3103", Some(6)));
        assert!(lookup(b"3106001250").is_none());
        assert_eq!(lookup(b"8003").unwrap().0.as_str(), "8003");
        assert_eq!(lookup(b"99x").unwrap().0.as_str(), "99");
        assert!(lookup(b"1").is_none());
        assert!(lookup(b"04").is_none());
        // 422 is fixed-length but not predefined: it needs a separator.
        let (_, def) = lookup(b"422276").unwrap();
        assert_eq!((def.predefined, def.fixed_len()), (false, Some(3)));
    }

    #[test]
    fn ai_names() {
        assert_eq!(Ai::BATCH.title(), "BATCH/LOT");
        assert!(Ai::EXPIRY.is_predefined_length());
        assert!(!Ai::SERIAL.is_predefined_length());
        assert_eq!(Ai::new("3922"), lookup(b"3922").map(|(a, _)| a));
        assert_eq!(Ai::new("7"), None);
        assert_eq!(format!("{:?}", Ai::GTIN), "Ai(01)");
    }

    #[test]
    fn dates_with_day_zero_and_leap_years() {
        assert_eq!(
            date(b"241000", true),
            Some(Gs1Date {
                yy: 24,
                month: 10,
                day: None
            })
        );
        assert_eq!(date(b"241000", false), None);
        assert_eq!(
            date(b"240229", false),
            Some(Gs1Date {
                yy: 24,
                month: 2,
                day: Some(29)
            })
        );
        assert_eq!(date(b"250229", false), None);
        assert_eq!(date(b"251301", true), None);
        assert_eq!(date(b"250431", true), None);
        assert_eq!(date(b"25043", true), None);
        assert_eq!(
            Gs1Date {
                yy: 24,
                month: 2,
                day: None
            }
            .last_day(),
            29
        );
        assert_eq!(
            Gs1Date {
                yy: 25,
                month: 2,
                day: None
            }
            .last_day(),
            28
        );
        assert_eq!(
            Gs1Date {
                yy: 25,
                month: 12,
                day: None
            }
            .last_day(),
            31
        );
    }

    #[test]
    fn decimals_display_without_floats() {
        assert_eq!(
            Decimal {
                value: 1250,
                decimals: 3
            }
            .to_string(),
            "1.250"
        );
        assert_eq!(
            Decimal {
                value: 5,
                decimals: 2
            }
            .to_string(),
            "0.05"
        );
        assert_eq!(
            Decimal {
                value: 42,
                decimals: 0
            }
            .to_string(),
            "42"
        );
    }

    #[test]
    fn cset_82_excludes_space_and_hash() {
        assert!(Cset::X.allows(b'%') && Cset::X.allows(b'_') && Cset::X.allows(b'z'));
        assert!(!Cset::X.allows(b' ') && !Cset::X.allows(b'#') && !Cset::X.allows(0x1d));
        assert!(Cset::Y.allows(b'#') && !Cset::Y.allows(b'a'));
    }
}
