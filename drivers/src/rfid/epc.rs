//! EPC decoding per the GS1 EPC Tag Data Standard (TDS).
//!
//! [`decode`] turns the bytes of an EPC bank (from an LLRP `EPC-96` or `EPCData` parameter) into
//! a typed [`Epc`]: SGTIN-96, SGTIN-198, SSCC-96, SGLN-96, GRAI-96 and GIAI-96. Each value gives
//! its filter, partition, company prefix and the scheme's reference and serial fields, and
//! renders as a pure-identity URI (`urn:epc:id:sgtin:0614141.812345.6789`). An SGTIN also gives
//! its GTIN-14 with the computed check digit.
//!
//! Every field is checked as the TDS decoding procedure demands: the header selects the scheme,
//! partition 7 is reserved, a company prefix or reference whose binary value needs more decimal
//! digits than its partition allows is rejected, and an SGTIN-198 serial must use the GS1 AI
//! encodable character set 82 and be padded with zero bits only.
//!
//! [`encode_sgtin96`] is the inverse for SGTIN-96; the simulated reader and the tests use it.
//!
//! # Current limitations
//! Schemes other than the six above (GIAI-202, GRAI-170, SGLN-195, GID, DoD, ...) are reported
//! as [`EpcError::UnsupportedHeader`]; the caller may keep such tags as "foreign" by raw EPC.

use std::fmt;

use thiserror::Error;

/// Header of SGTIN-96.
pub const HEADER_SGTIN96: u8 = 0x30;
/// Header of SSCC-96.
pub const HEADER_SSCC96: u8 = 0x31;
/// Header of SGLN-96.
pub const HEADER_SGLN96: u8 = 0x32;
/// Header of GRAI-96.
pub const HEADER_GRAI96: u8 = 0x33;
/// Header of GIAI-96.
pub const HEADER_GIAI96: u8 = 0x34;
/// Header of SGTIN-198.
pub const HEADER_SGTIN198: u8 = 0x36;

/// Why bytes are not a valid EPC of a supported scheme.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EpcError {
    /// No bytes at all.
    #[error("EPC is empty")]
    Empty,
    /// The hex text has an odd length or a non-hex character.
    #[error("EPC hex text is invalid at character {0}")]
    Hex(usize),
    /// The header byte names no scheme this decoder supports.
    #[error("EPC header 0x{0:02X} is not a supported scheme")]
    UnsupportedHeader(u8),
    /// The byte length does not match the scheme.
    #[error("{scheme} needs {expected} bytes, got {actual}")]
    Length {
        /// Scheme selected by the header.
        scheme: &'static str,
        /// Bytes the scheme needs (the smallest accepted length).
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// Partition value 7 is reserved in every partition table.
    #[error("partition value {0} is reserved")]
    Partition(u8),
    /// A numeric field's binary value needs more decimal digits than the partition allows.
    #[error("{field} value {value} does not fit in {digits} decimal digits")]
    FieldOverflow {
        /// Field name as in the TDS.
        field: &'static str,
        /// Decoded binary value.
        value: u64,
        /// Digits the partition allows.
        digits: u8,
    },
    /// An SGTIN-198 serial character outside the GS1 AI encodable character set 82.
    #[error("serial character 0x{0:02X} is not in the GS1 AI encodable character set 82")]
    SerialChar(u8),
    /// Non-zero bits after the terminating zero character of an SGTIN-198 serial.
    #[error("serial has non-zero bits after its terminating zero character")]
    SerialPadding,
    /// A field given to the encoder is out of range.
    #[error("cannot encode: {0}")]
    Encode(&'static str),
}

/// A decimal number with a fixed number of digits, where leading zeros are significant
/// (a GS1 company prefix `0614141` is not `614141`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digits {
    /// Numeric value.
    pub value: u64,
    /// Number of decimal digits, including leading zeros (may be 0: an empty field).
    pub len: u8,
}

impl fmt::Display for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == 0 {
            return Ok(());
        }
        write!(f, "{:0width$}", self.value, width = usize::from(self.len))
    }
}

/// Which binary encoding an SGTIN came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SgtinScheme {
    /// SGTIN-96: numeric serial of at most 38 bits.
    Sgtin96,
    /// SGTIN-198: alphanumeric serial of up to 20 characters.
    Sgtin198,
}

/// The serial of an SGTIN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Serial {
    /// SGTIN-96: a number without leading zeros.
    Numeric(u64),
    /// SGTIN-198: characters of the GS1 AI encodable character set 82.
    Text(String),
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Serial::Numeric(n) => write!(f, "{n}"),
            Serial::Text(s) => f.write_str(s),
        }
    }
}

/// Serialised Global Trade Item Number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sgtin {
    /// Binary scheme it was decoded from.
    pub scheme: SgtinScheme,
    /// Filter value (1 = point-of-sale trade item, 2 = full case, ...).
    pub filter: u8,
    /// Partition value 0..=6.
    pub partition: u8,
    /// GS1 company prefix.
    pub company_prefix: Digits,
    /// Indicator digit followed by the item reference.
    pub item_reference: Digits,
    /// Serial number.
    pub serial: Serial,
}

impl Sgtin {
    /// GTIN-14: indicator, company prefix, item reference, computed check digit.
    pub fn gtin14(&self) -> String {
        let item = self.item_reference.to_string();
        let (indicator, rest) = item.split_at(1.min(item.len()));
        let mut body = String::with_capacity(14);
        body.push_str(indicator);
        body.push_str(&self.company_prefix.to_string());
        body.push_str(rest);
        let check = check_digit(&body);
        body.push(char::from(b'0' + check));
        body
    }

    /// Pure-identity URI, `urn:epc:id:sgtin:CompanyPrefix.IndicatorItemRef.Serial`, with the
    /// characters TDS requires escaped in an alphanumeric serial.
    pub fn pure_identity_uri(&self) -> String {
        let serial = match &self.serial {
            Serial::Numeric(n) => n.to_string(),
            Serial::Text(s) => uri_escape(s),
        };
        format!(
            "urn:epc:id:sgtin:{}.{}.{}",
            self.company_prefix, self.item_reference, serial
        )
    }
}

/// Serial Shipping Container Code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sscc {
    /// Filter value.
    pub filter: u8,
    /// Partition value 0..=6.
    pub partition: u8,
    /// GS1 company prefix.
    pub company_prefix: Digits,
    /// Extension digit followed by the serial reference.
    pub serial_reference: Digits,
}

impl Sscc {
    /// Pure-identity URI, `urn:epc:id:sscc:CompanyPrefix.SerialReference`.
    pub fn pure_identity_uri(&self) -> String {
        format!(
            "urn:epc:id:sscc:{}.{}",
            self.company_prefix, self.serial_reference
        )
    }

    /// SSCC-18: extension digit, company prefix, serial reference, computed check digit.
    pub fn sscc18(&self) -> String {
        let serial = self.serial_reference.to_string();
        let (ext, rest) = serial.split_at(1.min(serial.len()));
        let mut body = format!("{ext}{}{rest}", self.company_prefix);
        let check = check_digit(&body);
        body.push(char::from(b'0' + check));
        body
    }
}

/// Global Location Number with extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sgln {
    /// Filter value.
    pub filter: u8,
    /// Partition value 0..=6.
    pub partition: u8,
    /// GS1 company prefix.
    pub company_prefix: Digits,
    /// Location reference.
    pub location_reference: Digits,
    /// GLN extension (numeric in SGLN-96).
    pub extension: u64,
}

impl Sgln {
    /// Pure-identity URI, `urn:epc:id:sgln:CompanyPrefix.LocationReference.Extension`.
    pub fn pure_identity_uri(&self) -> String {
        format!(
            "urn:epc:id:sgln:{}.{}.{}",
            self.company_prefix, self.location_reference, self.extension
        )
    }
}

/// Global Returnable Asset Identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Grai {
    /// Filter value.
    pub filter: u8,
    /// Partition value 0..=6.
    pub partition: u8,
    /// GS1 company prefix.
    pub company_prefix: Digits,
    /// Asset type.
    pub asset_type: Digits,
    /// Serial number (numeric in GRAI-96).
    pub serial: u64,
}

impl Grai {
    /// Pure-identity URI, `urn:epc:id:grai:CompanyPrefix.AssetType.Serial`.
    pub fn pure_identity_uri(&self) -> String {
        format!(
            "urn:epc:id:grai:{}.{}.{}",
            self.company_prefix, self.asset_type, self.serial
        )
    }
}

/// Global Individual Asset Identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Giai {
    /// Filter value.
    pub filter: u8,
    /// Partition value 0..=6.
    pub partition: u8,
    /// GS1 company prefix.
    pub company_prefix: Digits,
    /// Individual asset reference (numeric in GIAI-96).
    pub asset_reference: u64,
}

impl Giai {
    /// Pure-identity URI, `urn:epc:id:giai:CompanyPrefix.AssetReference`.
    pub fn pure_identity_uri(&self) -> String {
        format!(
            "urn:epc:id:giai:{}.{}",
            self.company_prefix, self.asset_reference
        )
    }
}

/// A decoded EPC of one of the supported schemes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Epc {
    /// SGTIN-96 or SGTIN-198.
    Sgtin(Sgtin),
    /// SSCC-96.
    Sscc(Sscc),
    /// SGLN-96.
    Sgln(Sgln),
    /// GRAI-96.
    Grai(Grai),
    /// GIAI-96.
    Giai(Giai),
}

impl Epc {
    /// Pure-identity URI of the EPC.
    pub fn pure_identity_uri(&self) -> String {
        match self {
            Epc::Sgtin(v) => v.pure_identity_uri(),
            Epc::Sscc(v) => v.pure_identity_uri(),
            Epc::Sgln(v) => v.pure_identity_uri(),
            Epc::Grai(v) => v.pure_identity_uri(),
            Epc::Giai(v) => v.pure_identity_uri(),
        }
    }

    /// Filter value of the EPC.
    pub fn filter(&self) -> u8 {
        match self {
            Epc::Sgtin(v) => v.filter,
            Epc::Sscc(v) => v.filter,
            Epc::Sgln(v) => v.filter,
            Epc::Grai(v) => v.filter,
            Epc::Giai(v) => v.filter,
        }
    }
}

impl fmt::Display for Epc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pure_identity_uri())
    }
}

/// One row of a TDS partition table: (company prefix bits, digits, other field bits, digits).
type PartitionRow = (u8, u8, u8, u8);

/// TDS Table 14-2, SGTIN partition table (item reference includes the indicator digit).
const SGTIN_PARTITIONS: [PartitionRow; 7] = [
    (40, 12, 4, 1),
    (37, 11, 7, 2),
    (34, 10, 10, 3),
    (30, 9, 14, 4),
    (27, 8, 17, 5),
    (24, 7, 20, 6),
    (20, 6, 24, 7),
];

/// SSCC partition table (serial reference includes the extension digit).
const SSCC_PARTITIONS: [PartitionRow; 7] = [
    (40, 12, 18, 5),
    (37, 11, 21, 6),
    (34, 10, 24, 7),
    (30, 9, 28, 8),
    (27, 8, 31, 9),
    (24, 7, 34, 10),
    (20, 6, 38, 11),
];

/// SGLN partition table (location reference).
const SGLN_PARTITIONS: [PartitionRow; 7] = [
    (40, 12, 1, 0),
    (37, 11, 4, 1),
    (34, 10, 7, 2),
    (30, 9, 11, 3),
    (27, 8, 14, 4),
    (24, 7, 17, 5),
    (20, 6, 21, 6),
];

/// GRAI partition table (asset type).
const GRAI_PARTITIONS: [PartitionRow; 7] = [
    (40, 12, 4, 0),
    (37, 11, 7, 1),
    (34, 10, 10, 2),
    (30, 9, 14, 3),
    (27, 8, 17, 4),
    (24, 7, 20, 5),
    (20, 6, 24, 6),
];

/// GIAI-96 partition table (individual asset reference, a plain integer).
const GIAI96_PARTITIONS: [PartitionRow; 7] = [
    (40, 12, 42, 13),
    (37, 11, 45, 14),
    (34, 10, 48, 15),
    (30, 9, 52, 16),
    (27, 8, 55, 17),
    (24, 7, 58, 18),
    (20, 6, 62, 19),
];

/// Reads big-endian bit fields of up to 64 bits from a byte slice.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    /// Reads `n` ≤ 64 bits; the caller has checked the length, missing bits read as 0.
    fn read(&mut self, n: u8) -> u64 {
        let mut v = 0u64;
        for _ in 0..n {
            let byte = self.data.get(self.pos / 8).copied().unwrap_or(0);
            let bit = (byte >> (7 - (self.pos % 8))) & 1;
            v = (v << 1) | u64::from(bit);
            self.pos += 1;
        }
        v
    }
}

/// Decodes an EPC given as hex text (case-insensitive, no separators).
pub fn decode_hex(hex: &str) -> Result<Epc, EpcError> {
    decode(&parse_hex(hex)?)
}

/// Parses hex text into bytes.
pub fn parse_hex(hex: &str) -> Result<Vec<u8>, EpcError> {
    let b = hex.as_bytes();
    if !b.len().is_multiple_of(2) {
        return Err(EpcError::Hex(b.len()));
    }
    let nib = |i: usize| -> Result<u8, EpcError> {
        match b[i] {
            c @ b'0'..=b'9' => Ok(c - b'0'),
            c @ b'a'..=b'f' => Ok(c - b'a' + 10),
            c @ b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(EpcError::Hex(i)),
        }
    };
    (0..b.len() / 2)
        .map(|i| Ok((nib(2 * i)? << 4) | nib(2 * i + 1)?))
        .collect()
}

/// Decodes the bytes of an EPC (from the header on) into a typed value.
///
/// 96-bit schemes need exactly 12 bytes; SGTIN-198 needs 25 or 26 bytes (198 bits padded to a
/// byte or to a 16-bit word, as in the Gen2 EPC bank).
pub fn decode(bytes: &[u8]) -> Result<Epc, EpcError> {
    let header = *bytes.first().ok_or(EpcError::Empty)?;
    let (scheme, min, max) = match header {
        HEADER_SGTIN96 => ("SGTIN-96", 12, 12),
        HEADER_SSCC96 => ("SSCC-96", 12, 12),
        HEADER_SGLN96 => ("SGLN-96", 12, 12),
        HEADER_GRAI96 => ("GRAI-96", 12, 12),
        HEADER_GIAI96 => ("GIAI-96", 12, 12),
        HEADER_SGTIN198 => ("SGTIN-198", 25, 26),
        h => return Err(EpcError::UnsupportedHeader(h)),
    };
    if bytes.len() < min || bytes.len() > max {
        return Err(EpcError::Length {
            scheme,
            expected: min,
            actual: bytes.len(),
        });
    }
    let mut r = BitReader {
        data: bytes,
        pos: 8,
    };
    let filter = r.read(3) as u8;
    let partition = r.read(3) as u8;
    let table = match header {
        HEADER_SGTIN96 | HEADER_SGTIN198 => &SGTIN_PARTITIONS,
        HEADER_SSCC96 => &SSCC_PARTITIONS,
        HEADER_SGLN96 => &SGLN_PARTITIONS,
        HEADER_GRAI96 => &GRAI_PARTITIONS,
        _ => &GIAI96_PARTITIONS,
    };
    let &(cp_bits, cp_digits, ref_bits, ref_digits) = table
        .get(usize::from(partition))
        .ok_or(EpcError::Partition(partition))?;
    let company_prefix = digits(&mut r, "company prefix", cp_bits, cp_digits)?;
    let epc = match header {
        HEADER_SGTIN96 | HEADER_SGTIN198 => {
            let item_reference = digits(&mut r, "item reference", ref_bits, ref_digits)?;
            let (scheme, serial) = if header == HEADER_SGTIN96 {
                (SgtinScheme::Sgtin96, Serial::Numeric(r.read(38)))
            } else {
                (
                    SgtinScheme::Sgtin198,
                    Serial::Text(read_string(&mut r, 20)?),
                )
            };
            Epc::Sgtin(Sgtin {
                scheme,
                filter,
                partition,
                company_prefix,
                item_reference,
                serial,
            })
        }
        HEADER_SSCC96 => {
            let serial_reference = digits(&mut r, "serial reference", ref_bits, ref_digits)?;
            Epc::Sscc(Sscc {
                filter,
                partition,
                company_prefix,
                serial_reference,
            })
        }
        HEADER_SGLN96 => {
            let location_reference = digits(&mut r, "location reference", ref_bits, ref_digits)?;
            let extension = r.read(41);
            Epc::Sgln(Sgln {
                filter,
                partition,
                company_prefix,
                location_reference,
                extension,
            })
        }
        HEADER_GRAI96 => {
            let asset_type = digits(&mut r, "asset type", ref_bits, ref_digits)?;
            let serial = r.read(38);
            Epc::Grai(Grai {
                filter,
                partition,
                company_prefix,
                asset_type,
                serial,
            })
        }
        _ => {
            let asset_reference = digits(&mut r, "asset reference", ref_bits, ref_digits)?.value;
            Epc::Giai(Giai {
                filter,
                partition,
                company_prefix,
                asset_reference,
            })
        }
    };
    Ok(epc)
}

/// Reads a numeric field and checks that it fits its decimal digits.
fn digits(r: &mut BitReader<'_>, field: &'static str, bits: u8, n: u8) -> Result<Digits, EpcError> {
    let value = r.read(bits);
    if value >= pow10(n) {
        return Err(EpcError::FieldOverflow {
            field,
            value,
            digits: n,
        });
    }
    Ok(Digits { value, len: n })
}

/// 10^n for n ≤ 19.
fn pow10(n: u8) -> u64 {
    10u64.pow(u32::from(n))
}

/// Reads a TDS "String" field of 7-bit characters: zero-terminated, zero-padded.
fn read_string(r: &mut BitReader<'_>, chars: usize) -> Result<String, EpcError> {
    let mut s = String::with_capacity(chars);
    let mut ended = false;
    for _ in 0..chars {
        let c = r.read(7) as u8;
        if ended {
            if c != 0 {
                return Err(EpcError::SerialPadding);
            }
        } else if c == 0 {
            ended = true;
        } else if is_cset82(c) {
            s.push(char::from(c));
        } else {
            return Err(EpcError::SerialChar(c));
        }
    }
    Ok(s)
}

/// Whether `c` is in the GS1 AI encodable character set 82 (TDS Table A-1).
fn is_cset82(c: u8) -> bool {
    matches!(c,
        b'!' | b'"' | b'%'..=b'?' | b'A'..=b'Z' | b'_' | b'a'..=b'z')
}

/// Escapes the characters TDS requires escaped in an EPC URI component.
fn uri_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("%22"),
            '%' => out.push_str("%25"),
            '&' => out.push_str("%26"),
            '/' => out.push_str("%2F"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '?' => out.push_str("%3F"),
            c => out.push(c),
        }
    }
    out
}

/// GS1 check digit of `body`, which callers build from decimal fields (so it is all digits).
fn check_digit(body: &str) -> u8 {
    crate::gs1::check_digit(body.as_bytes()).unwrap_or(0)
}

/// Encodes an SGTIN-96.
///
/// `company_prefix` has 6 to 12 digits and selects the partition; `indicator_item_ref` (the
/// indicator digit followed by the item reference) has 13 minus that many digits;
/// `serial` is below 2^38; `filter` below 8.
pub fn encode_sgtin96(
    filter: u8,
    company_prefix: &str,
    indicator_item_ref: &str,
    serial: u64,
) -> Result<[u8; 12], EpcError> {
    if filter > 7 {
        return Err(EpcError::Encode("filter above 7"));
    }
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(company_prefix) || !all_digits(indicator_item_ref) {
        return Err(EpcError::Encode(
            "company prefix and item reference must be digits",
        ));
    }
    let partition = SGTIN_PARTITIONS
        .iter()
        .position(|row| usize::from(row.1) == company_prefix.len())
        .ok_or(EpcError::Encode("company prefix must have 6 to 12 digits"))?;
    let (cp_bits, _, item_bits, item_digits) = SGTIN_PARTITIONS[partition];
    if indicator_item_ref.len() != usize::from(item_digits) {
        return Err(EpcError::Encode(
            "item reference length must be 13 minus the prefix length",
        ));
    }
    if serial >= 1 << 38 {
        return Err(EpcError::Encode("serial above 2^38 - 1"));
    }
    // Both parse: at most 12 digits each, checked above.
    let cp: u64 = company_prefix
        .parse()
        .map_err(|_| EpcError::Encode("company prefix"))?;
    let item: u64 = indicator_item_ref
        .parse()
        .map_err(|_| EpcError::Encode("item reference"))?;
    let mut v: u128 = u128::from(HEADER_SGTIN96);
    v = (v << 3) | u128::from(filter);
    v = (v << 3) | partition as u128;
    v = (v << cp_bits) | u128::from(cp);
    v = (v << item_bits) | u128::from(item);
    v = (v << 38) | u128::from(serial);
    let mut out = [0u8; 12];
    out.copy_from_slice(&v.to_be_bytes()[4..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sgtin(hex: &str) -> Sgtin {
        match decode_hex(hex).unwrap() {
            Epc::Sgtin(s) => s,
            other => panic!("not an SGTIN: {other:?}"),
        }
    }

    #[test]
    fn sgtin96_pyepc_vector() {
        let s = sgtin("3034257BF7194E4000003039");
        assert_eq!(s.filter, 1);
        assert_eq!(s.partition, 5);
        assert_eq!(s.company_prefix.to_string(), "0614141");
        assert_eq!(s.item_reference.to_string(), "812345");
        assert_eq!(s.serial, Serial::Numeric(12345));
        assert_eq!(
            s.pure_identity_uri(),
            "urn:epc:id:sgtin:0614141.812345.12345"
        );
        assert_eq!(s.gtin14(), "80614141123458");
    }

    #[test]
    fn sgtin96_tds_example_filter3() {
        let s = sgtin("3074257BF7194E4000001A85");
        assert_eq!(s.filter, 3);
        assert_eq!(
            s.pure_identity_uri(),
            "urn:epc:id:sgtin:0614141.812345.6789"
        );
        assert_eq!(s.gtin14(), "80614141123458");
    }

    #[test]
    fn sgtin96_sllurp_vector_partition1() {
        let s = sgtin("3005fb63ac1f3841ec880467");
        assert_eq!((s.filter, s.partition), (0, 1));
        assert_eq!(s.company_prefix.len, 11);
        assert_eq!(s.item_reference.len, 2);
        assert_eq!(s.gtin14().len(), 14);
    }

    #[test]
    fn encoder_reproduces_vectors() {
        let b = encode_sgtin96(1, "0614141", "812345", 12345).unwrap();
        assert_eq!(b, parse_hex("3034257BF7194E4000003039").unwrap().as_slice());
        let b = encode_sgtin96(3, "0614141", "812345", 6789).unwrap();
        assert_eq!(b, parse_hex("3074257BF7194E4000001A85").unwrap().as_slice());
        assert!(encode_sgtin96(1, "06141", "8123456", 1).is_err());
        assert!(encode_sgtin96(1, "0614141", "81234", 1).is_err());
        assert!(encode_sgtin96(1, "0614141", "812345", 1 << 38).is_err());
        assert!(encode_sgtin96(8, "0614141", "812345", 1).is_err());
    }

    /// TDS example `urn:epc:tag:sgtin-198:3.0614141.812345.32a%2Fb`, 208 bits.
    const SGTIN198: &str = "3674257BF7194E59B2C2BF100000000000000000000000000000";

    #[test]
    fn sgtin198_tds_example() {
        let s = sgtin(SGTIN198);
        assert_eq!(s.scheme, SgtinScheme::Sgtin198);
        assert_eq!(s.filter, 3);
        assert_eq!(s.serial, Serial::Text("32a/b".into()));
        assert_eq!(
            s.pure_identity_uri(),
            "urn:epc:id:sgtin:0614141.812345.32a%2Fb"
        );
        assert_eq!(s.gtin14(), "80614141123458");
        // 198 bits padded to a byte only.
        let b = parse_hex(SGTIN198).unwrap();
        assert_eq!(decode(&b[..25]).unwrap(), Epc::Sgtin(s));
    }

    /// Overwrites the 7-bit serial character `i` of an SGTIN-198.
    fn set_char(b: &mut [u8], i: usize, c: u8) {
        let start = 58 + 7 * i;
        for k in 0..7 {
            let pos = start + k;
            let bit = (c >> (6 - k)) & 1;
            b[pos / 8] &= !(0x80 >> (pos % 8));
            b[pos / 8] |= bit << (7 - pos % 8);
        }
    }

    #[test]
    fn sgtin198_rejects_bad_serial() {
        let mut b = parse_hex(SGTIN198).unwrap();
        set_char(&mut b, 0, b'#');
        assert_eq!(decode(&b), Err(EpcError::SerialChar(0x23)));
        let mut b = parse_hex(SGTIN198).unwrap();
        set_char(&mut b, 7, b'x');
        assert_eq!(decode(&b), Err(EpcError::SerialPadding));
        assert!(matches!(decode(&b[..24]), Err(EpcError::Length { .. })));
    }

    #[test]
    fn sscc96_tds_example() {
        let e = decode_hex("3174257BF4499602D2000000").unwrap();
        let Epc::Sscc(s) = e else { panic!("not SSCC") };
        assert_eq!(s.filter, 3);
        assert_eq!(s.pure_identity_uri(), "urn:epc:id:sscc:0614141.1234567890");
        assert_eq!(s.sscc18(), "106141412345678908");
    }

    #[test]
    fn sgln96_tds_example() {
        let e = decode_hex("3274257BF46072000000162E").unwrap();
        assert_eq!(e.pure_identity_uri(), "urn:epc:id:sgln:0614141.12345.5678");
        assert_eq!(e.filter(), 3);
    }

    #[test]
    fn grai96_tds_example() {
        let e = decode_hex("3374257BF40C0E400000162E").unwrap();
        assert_eq!(e.pure_identity_uri(), "urn:epc:id:grai:0614141.12345.5678");
    }

    #[test]
    fn giai96_tds_example() {
        let e = decode_hex("3474257BF400000000003039").unwrap();
        assert_eq!(e.pure_identity_uri(), "urn:epc:id:giai:0614141.12345");
    }

    #[test]
    fn typed_errors() {
        assert_eq!(decode(&[]), Err(EpcError::Empty));
        assert_eq!(
            decode_hex("E2801160"),
            Err(EpcError::UnsupportedHeader(0xE2))
        );
        assert_eq!(
            decode_hex("3034"),
            Err(EpcError::Length {
                scheme: "SGTIN-96",
                expected: 12,
                actual: 2
            })
        );
        // Partition 7.
        assert_eq!(
            decode_hex("303C257BF7194E4000003039"),
            Err(EpcError::Partition(7))
        );
        // Partition 0: 40-bit company prefix all ones exceeds 12 digits.
        assert!(matches!(
            decode_hex("3023FFFFFFFFFC0000000000"),
            Err(EpcError::FieldOverflow {
                field: "company prefix",
                ..
            })
        ));
        assert_eq!(decode_hex("30z"), Err(EpcError::Hex(3)));
        assert_eq!(decode_hex("3g"), Err(EpcError::Hex(1)));
    }

    proptest::proptest! {
        /// encode(random valid SGTIN-96) then decode gives back every field.
        #[test]
        fn sgtin96_round_trip(
            filter in 0u8..8,
            partition in 0usize..7,
            cp in 0u64..1_000_000_000_000,
            item in 0u64..10_000_000,
            serial in 0u64..(1 << 38),
        ) {
            let (_, cp_digits, _, item_digits) = SGTIN_PARTITIONS[partition];
            let cp = cp % pow10(cp_digits);
            let item = item % pow10(item_digits);
            let cp_s = Digits { value: cp, len: cp_digits }.to_string();
            let item_s = Digits { value: item, len: item_digits }.to_string();
            let bytes = encode_sgtin96(filter, &cp_s, &item_s, serial).unwrap();
            let Epc::Sgtin(s) = decode(&bytes).unwrap() else { panic!("not an SGTIN") };
            proptest::prop_assert_eq!(s.filter, filter);
            proptest::prop_assert_eq!(usize::from(s.partition), partition);
            proptest::prop_assert_eq!(s.company_prefix.to_string(), cp_s.clone());
            proptest::prop_assert_eq!(s.item_reference.to_string(), item_s.clone());
            proptest::prop_assert_eq!(&s.serial, &Serial::Numeric(serial));
            let uri = format!("urn:epc:id:sgtin:{cp_s}.{item_s}.{serial}");
            proptest::prop_assert_eq!(s.pure_identity_uri(), uri);
            let gtin = s.gtin14();
            proptest::prop_assert_eq!(gtin.len(), 14);
            proptest::prop_assert_eq!(check_digit(&gtin[..13]), gtin.as_bytes()[13] - b'0');
        }

        /// Arbitrary bytes decode or fail with a typed error, never panic.
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(0u8..=255, 0..40)) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn empty_digits_render_empty() {
        assert_eq!(Digits { value: 0, len: 0 }.to_string(), "");
        assert_eq!(Digits { value: 5, len: 3 }.to_string(), "005");
    }
}
