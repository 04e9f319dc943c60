//! Receipt documents as LAN clients send them (JSON), turned into the driver's [`Receipt`].
//!
//! Clients describe *what* to print; the box fits it to the printer's width, picks code pages
//! and encodes ESC/POS. A document that does not end with a cut gets a feed and a partial cut.

use drivers::escpos::{
    Align, Barcode, Block, Column, ColumnWidth, Cut, QrCode, Receipt, Style, Underline,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Most blocks one document may hold.
pub const MAX_BLOCKS: usize = 2_000;

/// A receipt to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptDocument {
    /// Printed top to bottom.
    pub blocks: Vec<ReceiptBlock>,
}

/// Horizontal alignment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextAlign {
    #[default]
    Left,
    Center,
    Right,
}

impl From<TextAlign> for Align {
    fn from(a: TextAlign) -> Align {
        match a {
            TextAlign::Left => Align::Left,
            TextAlign::Center => Align::Center,
            TextAlign::Right => Align::Right,
        }
    }
}

/// One cell of a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RowCell {
    pub text: String,
    /// Fixed width in characters; absent shares the rest of the line.
    #[serde(default)]
    pub width: Option<u16>,
    #[serde(default)]
    pub align: TextAlign,
}

/// One element of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReceiptBlock {
    /// Text, wrapped to the line; any Unicode the printer's code pages have.
    Text {
        text: String,
        #[serde(default)]
        bold: bool,
        /// Double width and height.
        #[serde(default)]
        double: bool,
        #[serde(default)]
        underline: bool,
        #[serde(default)]
        align: TextAlign,
    },
    /// A row of cells fitted to the line, e.g. item and price.
    Row {
        cells: Vec<RowCell>,
        #[serde(default)]
        bold: bool,
    },
    /// A line of one repeated character (default '-').
    Separator {
        #[serde(default)]
        char: Option<char>,
    },
    /// A CODE128 or EAN-13 barcode.
    Barcode {
        /// `code128` or `ean13`.
        symbology: String,
        data: String,
        #[serde(default)]
        align: TextAlign,
    },
    /// A QR code.
    Qr {
        data: String,
        #[serde(default)]
        align: TextAlign,
    },
    /// Empty lines.
    Feed { lines: u8 },
    /// Cut the paper.
    Cut {
        /// Cut fully (default: partial).
        #[serde(default)]
        full: bool,
    },
}

/// A block that cannot be printed: the field's path and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct DocumentError {
    pub field: String,
    pub reason: String,
}

impl ReceiptDocument {
    /// The driver's receipt, or the first block that cannot be printed.
    pub fn to_receipt(&self) -> Result<Receipt, DocumentError> {
        if self.blocks.is_empty() || self.blocks.len() > MAX_BLOCKS {
            return Err(DocumentError {
                field: "blocks".into(),
                reason: format!("must hold 1 to {MAX_BLOCKS} blocks"),
            });
        }
        let mut r = Receipt::new();
        for (i, b) in self.blocks.iter().enumerate() {
            let err = |field: &str, reason: String| DocumentError {
                field: format!("blocks[{i}].{field}"),
                reason,
            };
            let block = match b {
                ReceiptBlock::Text {
                    text,
                    bold,
                    double,
                    underline,
                    align,
                } => {
                    let mut style = Style::plain().align((*align).into());
                    if *bold {
                        style = style.bold();
                    }
                    if *double {
                        style = style.double();
                    }
                    if *underline {
                        style = style.underline(Underline::Thin);
                    }
                    Block::Text {
                        text: text.clone(),
                        style,
                    }
                }
                ReceiptBlock::Row { cells, bold } => {
                    if cells.is_empty() || cells.len() > 8 {
                        return Err(err("cells", "must hold 1 to 8 cells".into()));
                    }
                    let columns = cells
                        .iter()
                        .map(|c| {
                            let width = c.width.map_or(ColumnWidth::Fill, ColumnWidth::Fixed);
                            Column::new(c.text.clone(), width, c.align.into())
                        })
                        .collect();
                    let style = if *bold {
                        Style::plain().bold()
                    } else {
                        Style::plain()
                    };
                    Block::Row { columns, style }
                }
                ReceiptBlock::Separator { char } => Block::Separator(char.unwrap_or('-')),
                ReceiptBlock::Barcode {
                    symbology,
                    data,
                    align,
                } => {
                    let barcode = match symbology.as_str() {
                        "code128" => Barcode::code128(data),
                        "ean13" => Barcode::ean13(data),
                        other => {
                            return Err(err(
                                "symbology",
                                format!("{other:?} is not code128 or ean13"),
                            ))
                        }
                    }
                    .map_err(|e| err("data", e.to_string()))?;
                    Block::Barcode {
                        barcode,
                        align: (*align).into(),
                    }
                }
                ReceiptBlock::Qr { data, align } => {
                    let qr = QrCode::new(data.as_bytes().to_vec())
                        .map_err(|e| err("data", e.to_string()))?;
                    Block::Qr {
                        qr,
                        align: (*align).into(),
                    }
                }
                ReceiptBlock::Feed { lines } => Block::Feed(*lines),
                ReceiptBlock::Cut { full } => {
                    Block::Cut(if *full { Cut::Full } else { Cut::Partial })
                }
            };
            r.push(block);
        }
        if !matches!(r.blocks.last(), Some(Block::Cut(_))) {
            r.feed(3).cut(Cut::Partial);
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: serde_json::Value) -> ReceiptDocument {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_document_becomes_a_receipt_ending_in_a_cut() {
        let d = doc(serde_json::json!({ "blocks": [
            { "type": "text", "text": "Café Müller", "bold": true, "align": "center" },
            { "type": "row", "cells": [{ "text": "Espresso" }, { "text": "2,50 €",
                "width": 8, "align": "right" }] },
            { "type": "separator" },
            { "type": "barcode", "symbology": "code128", "data": "R-0001-42" },
            { "type": "qr", "data": "https://example.invalid/r/42" },
        ]}));
        let r = d.to_receipt().unwrap();
        assert_eq!(r.blocks.len(), 7, "five blocks, a feed and a cut");
        assert!(matches!(r.blocks.last(), Some(Block::Cut(Cut::Partial))));
    }

    #[test]
    fn bad_blocks_name_their_field() {
        let d = doc(serde_json::json!({ "blocks": [
            { "type": "text", "text": "ok" },
            { "type": "barcode", "symbology": "ean13", "data": "12345" },
        ]}));
        let e = d.to_receipt().unwrap_err();
        assert_eq!(e.field, "blocks[1].data");
        let d = doc(serde_json::json!({ "blocks": [
            { "type": "barcode", "symbology": "pdf417", "data": "x" } ]}));
        assert_eq!(d.to_receipt().unwrap_err().field, "blocks[0].symbology");
        assert_eq!(
            doc(serde_json::json!({ "blocks": [] }))
                .to_receipt()
                .unwrap_err()
                .field,
            "blocks"
        );
        let unknown = serde_json::json!({ "blocks": [{ "type": "hologram" }] });
        assert!(serde_json::from_value::<ReceiptDocument>(unknown).is_err());
    }
}
