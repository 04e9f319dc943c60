//! Label documents as LAN clients send them (JSON), turned into ZPL for a label printer.
//!
//! Positions and sizes are in printer dots (8 dots/mm on a 203 dpi printer).

use drivers::zpl::{Gs1Element, Label};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::document::DocumentError;

/// A label: its size, its fields and how many copies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelDocument {
    /// Print width in dots (`^PW`), 1 to 4000.
    pub width: u16,
    /// Label length in dots (`^LL`), 1 to 8000.
    pub length: u16,
    /// Copies, 1 to 1000 (default 1).
    #[serde(default = "one")]
    pub copies: u32,
    pub fields: Vec<LabelField>,
}

fn one() -> u32 {
    1
}

/// One field of a label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LabelField {
    /// Text in the scalable font, any Unicode.
    Text {
        x: u16,
        y: u16,
        height: u16,
        text: String,
    },
    /// A CODE128 barcode of printable ASCII.
    Code128 {
        x: u16,
        y: u16,
        height: u16,
        data: String,
    },
    /// A GS1-128 barcode of element strings, e.g. `{"ai": "01", "value": "09506000134352"}`.
    Gs1_128 {
        x: u16,
        y: u16,
        height: u16,
        elements: Vec<Gs1Pair>,
    },
    /// A QR code (model 2, error correction Q); magnification 1 to 10.
    Qr {
        x: u16,
        y: u16,
        magnification: u8,
        data: String,
    },
}

/// One GS1 element string of a GS1-128 field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Gs1Pair {
    pub ai: String,
    pub value: String,
}

impl LabelDocument {
    /// The label, or the first problem with the field that has it.
    pub fn to_label(&self) -> Result<Label, DocumentError> {
        let bad = |field: String, reason: String| DocumentError { field, reason };
        if !(1..=4000).contains(&self.width) {
            return Err(bad("width".into(), "must be 1 to 4000 dots".into()));
        }
        if !(1..=8000).contains(&self.length) {
            return Err(bad("length".into(), "must be 1 to 8000 dots".into()));
        }
        if !(1..=1000).contains(&self.copies) {
            return Err(bad("copies".into(), "must be 1 to 1000".into()));
        }
        if self.fields.is_empty() {
            return Err(bad(
                "fields".into(),
                "a label needs at least one field".into(),
            ));
        }
        let mut label = Label::new(self.width, self.length);
        label.quantity(self.copies);
        for (i, f) in self.fields.iter().enumerate() {
            let at = |name: &str| format!("fields[{i}].{name}");
            match f {
                LabelField::Text { x, y, height, text } => {
                    if text.is_empty() {
                        return Err(bad(at("text"), "must not be empty".into()));
                    }
                    label.text(*x, *y, *height, text);
                }
                LabelField::Code128 { x, y, height, data } => {
                    label
                        .code128(*x, *y, *height, data)
                        .map_err(|e| bad(at("data"), e.to_string()))?;
                }
                LabelField::Gs1_128 {
                    x,
                    y,
                    height,
                    elements,
                } => {
                    let elements = elements
                        .iter()
                        .enumerate()
                        .map(|(j, p)| {
                            Gs1Element::new(&p.ai, &p.value)
                                .map_err(|e| bad(at(&format!("elements[{j}]")), e.to_string()))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    label
                        .gs1_128(*x, *y, *height, elements)
                        .map_err(|e| bad(at("elements"), e.to_string()))?;
                }
                LabelField::Qr {
                    x,
                    y,
                    magnification,
                    data,
                } => {
                    label
                        .qr(*x, *y, *magnification, data)
                        .map_err(|e| bad(at("data"), e.to_string()))?;
                }
            }
        }
        Ok(label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(fields: serde_json::Value) -> LabelDocument {
        serde_json::from_value(serde_json::json!({
            "width": 812, "length": 406, "fields": fields
        }))
        .unwrap()
    }

    #[test]
    fn a_shelf_label_renders_text_gs1_128_and_qr() {
        let d = doc(serde_json::json!([
            {"type": "text", "x": 20, "y": 20, "height": 40, "text": "Größe M"},
            {"type": "gs1_128", "x": 20, "y": 80, "height": 100,
             "elements": [{"ai": "01", "value": "09506000134352"}, {"ai": "10", "value": "A1"}]},
            {"type": "qr", "x": 600, "y": 80, "magnification": 4, "data": "https://e.x/1"}
        ]));
        let zpl = d.to_label().unwrap().to_zpl();
        assert!(zpl.starts_with("^XA"), "{zpl}");
        assert!(zpl.contains("^BC"), "{zpl}");
        assert!(zpl.contains("^BQ"), "{zpl}");
        assert!(zpl.trim_end().ends_with("^XZ"), "{zpl}");
    }

    #[test]
    fn a_bad_field_is_named() {
        let d = doc(serde_json::json!([
            {"type": "text", "x": 1, "y": 1, "height": 10, "text": "ok"},
            {"type": "code128", "x": 1, "y": 1, "height": 10, "data": "é"}
        ]));
        let e = d.to_label().unwrap_err();
        assert_eq!(e.field, "fields[1].data");
        let d = doc(serde_json::json!([
            {"type": "gs1_128", "x": 1, "y": 1, "height": 10,
             "elements": [{"ai": "1", "value": "09506000134352"}]}
        ]));
        assert_eq!(d.to_label().unwrap_err().field, "fields[0].elements[0]");
        assert_eq!(
            doc(serde_json::json!([])).to_label().unwrap_err().field,
            "fields"
        );
    }
}
