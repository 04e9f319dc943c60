//! JSON views of what devices read: interpreted scans, decoded EPCs and aggregated tag reads.
//!
//! The drivers crate has no serde; these views are what LAN clients receive over the WebSocket
//! and what `edge-daemon diag decode-barcode` and `decode-epc` print.

use drivers::gs1::{self, Gs1Date, Scan, ScanData, Value as Gs1Value};
use drivers::rfid::aggregate::TagAggregate;
use drivers::rfid::epc::{self, Epc};
use serde_json::{json, Value};

/// Hex of bytes, upper case, as EPCs are usually written.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// An interpreted scan: symbology, kind, GTIN and GS1 elements.
pub fn scan(scan: &Scan) -> Value {
    let (kind, extra) = match &scan.data {
        ScanData::Gtin(g) => ("gtin", json!({ "short": g.short_form() })),
        ScanData::Gs1 { .. } => ("gs1", json!({})),
        ScanData::DigitalLink { uri, .. } => ("digital_link", json!({ "uri": uri })),
        ScanData::Plain(text) => ("text", json!({ "text": text })),
    };
    let elements: Vec<Value> = scan
        .data
        .elements()
        .iter()
        .map(|(ai, v)| json!({ "ai": ai.as_str(), "title": ai.title(), "value": element_value(v) }))
        .collect();
    let mut v = json!({
        "kind": kind,
        "symbology": scan.symbology.map(|s| s.to_string()),
        "gtin": scan.gtin().map(|g| g.as_str().to_owned()),
        "elements": elements,
    });
    if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
        obj.extend(more);
    }
    v
}

/// The outcome of interpreting scan bytes: the scan, or the error with the raw data kept.
pub fn scan_result(data: &[u8]) -> Value {
    let raw = String::from_utf8_lossy(data).into_owned();
    match gs1::parse(data) {
        Ok(s) => {
            let mut v = scan(&s);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("raw".into(), Value::String(raw));
            }
            v
        }
        Err(e) => json!({ "kind": "invalid", "raw": raw, "error": e.to_string() }),
    }
}

fn element_value(v: &Gs1Value) -> Value {
    match v {
        Gs1Value::Gtin(g) => json!(g.as_str()),
        Gs1Value::Sscc(s) | Gs1Value::Text(s) => json!(s),
        Gs1Value::Date(d) => json!(date(d)),
        Gs1Value::Decimal(d) => json!(d.to_string()),
        Gs1Value::Amount { currency, amount } => {
            json!({ "currency_numeric": currency, "amount": amount.to_string() })
        }
    }
}

/// `YYYY-MM-DD`, or `YYYY-MM` when the data says day 00.
fn date(d: &Gs1Date) -> String {
    let this_year = time::OffsetDateTime::now_utc().year();
    let year = d.full_year(u16::try_from(this_year).unwrap_or(2000));
    match d.day {
        Some(day) => format!("{year:04}-{:02}-{day:02}", d.month),
        None => format!("{year:04}-{:02}", d.month),
    }
}

/// A decoded EPC: scheme, pure-identity URI, and GTIN plus serial for SGTINs.
pub fn epc(e: &Epc) -> Value {
    let mut v = json!({
        "scheme": match e {
            Epc::Sgtin(_) => "sgtin",
            Epc::Sscc(_) => "sscc",
            Epc::Sgln(_) => "sgln",
            Epc::Grai(_) => "grai",
            Epc::Giai(_) => "giai",
        },
        "uri": e.pure_identity_uri(),
        "filter": e.filter(),
    });
    if let (Epc::Sgtin(s), Some(obj)) = (e, v.as_object_mut()) {
        obj.insert("gtin".into(), json!(s.gtin14()));
        obj.insert("serial".into(), json!(s.serial.to_string()));
    }
    v
}

/// EPC bytes decoded, or the error with the hex kept.
pub fn epc_result(bytes: &[u8]) -> Value {
    match epc::decode(bytes) {
        Ok(e) => {
            let mut v = epc(&e);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("hex".into(), json!(hex(bytes)));
            }
            v
        }
        Err(err) => json!({ "scheme": "unknown", "hex": hex(bytes), "error": err.to_string() }),
    }
}

/// Aggregated reads of one window.
pub fn tag_reads(aggregates: &[TagAggregate]) -> Value {
    Value::Array(
        aggregates
            .iter()
            .map(|a| {
                let mut v = epc_result(&a.epc);
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("count".into(), json!(a.count));
                    obj.insert("first_seen_us".into(), json!(a.first_seen_us));
                    obj.insert("last_seen_us".into(), json!(a.last_seen_us));
                    obj.insert("peak_rssi".into(), json!(a.peak_rssi));
                    obj.insert("antenna".into(), json!(a.peak_antenna));
                }
                v
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gs1_128_scan_has_gtin_batch_and_expiry() {
        let v = scan_result(b"]C10109506000134352\x1d10AB12\x1d17261231");
        assert_eq!(v["kind"], "gs1", "{v}");
        assert_eq!(v["gtin"], "09506000134352");
        let elements = v["elements"].as_array().unwrap();
        assert!(elements
            .iter()
            .any(|e| e["ai"] == "10" && e["value"] == "AB12"));
        assert!(elements
            .iter()
            .any(|e| e["ai"] == "17" && e["value"] == "2026-12-31"));
    }

    #[test]
    fn an_ean13_is_a_gtin_and_a_bad_check_digit_is_invalid() {
        let v = scan_result(b"]E05901234123457");
        assert_eq!(v["kind"], "gtin");
        assert_eq!(v["gtin"], "05901234123457");
        assert_eq!(v["short"], "5901234123457");
        let bad = scan_result(b"]E05901234123458");
        assert_eq!(bad["kind"], "invalid");
        assert!(
            bad["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{bad}"
        );
    }

    #[test]
    fn an_sgtin96_decodes_to_uri_gtin_and_serial() {
        // TDS example: urn:epc:id:sgtin:0614141.812345.6789
        let bytes = epc::parse_hex("3074257BF7194E4000001A85").unwrap();
        let v = epc_result(&bytes);
        assert_eq!(v["scheme"], "sgtin", "{v}");
        assert_eq!(v["uri"], "urn:epc:id:sgtin:0614141.812345.6789");
        assert_eq!(v["gtin"], "80614141123458");
        assert_eq!(v["serial"], "6789");
        let junk = epc_result(&[0xFF, 0x00]);
        assert_eq!(junk["scheme"], "unknown");
        assert_eq!(junk["hex"], "FF00");
    }
}
