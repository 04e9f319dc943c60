//! Receipt documents as LAN clients send them (JSON), turned into the driver's [`Receipt`].
//!
//! Clients describe *what* to print; the box fits it to the printer's width, picks code pages
//! and encodes ESC/POS. A document that does not end with a cut gets a feed and a partial cut.
//!
//! An `image` block (a logo) carries a 1-bit bitmap as standard base64 of packed rows, most
//! significant bit first, `ceil(width / 8)` bytes per row, set bit = black dot; it is clipped to
//! the printer's dots per line. A `kick` block pulses a drawer pin at that point of the receipt.

use base64::Engine;
use drivers::escpos::{
    Align, Barcode, Block, Column, ColumnWidth, Cut, DrawerKick, DrawerPin, QrCode, RasterImage,
    Receipt, Style, Underline,
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
    /// A 1-bit raster image such as a logo (see the module docs for `data`).
    Image {
        /// Width in dots, 1 to 2048.
        width: u16,
        /// Height in dots, 1 to 8192.
        height: u16,
        /// Packed rows, base64.
        data: String,
        #[serde(default)]
        align: TextAlign,
    },
    /// Pulse a cash drawer's kick pin (2 or 5, default 2) for `on_ms` (default 100), then
    /// rest `off_ms` (default 4 × `on_ms`, at most 510).
    Kick {
        #[serde(default)]
        pin: Option<u8>,
        #[serde(default)]
        on_ms: Option<u16>,
        #[serde(default)]
        off_ms: Option<u16>,
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
                ReceiptBlock::Image {
                    width,
                    height,
                    data,
                    align,
                } => {
                    let bits = base64::engine::general_purpose::STANDARD
                        .decode(data.trim())
                        .map_err(|e| err("data", format!("not base64: {e}")))?;
                    let image = RasterImage::from_packed(*width, *height, bits)
                        .map_err(|e| err("data", e.to_string()))?;
                    Block::Image {
                        image,
                        align: (*align).into(),
                    }
                }
                ReceiptBlock::Kick { pin, on_ms, off_ms } => {
                    let pin = match pin.unwrap_or(2) {
                        2 => DrawerPin::Pin2,
                        5 => DrawerPin::Pin5,
                        other => return Err(err("pin", format!("{other} is not 2 or 5"))),
                    };
                    let on = on_ms.unwrap_or(100);
                    let off = off_ms.unwrap_or_else(|| kick_rest(on));
                    let kick = DrawerKick::new(pin, on, off).map_err(|e| {
                        let field = if (2..=510).contains(&on) {
                            "off_ms"
                        } else {
                            "on_ms"
                        };
                        err(field, e.to_string())
                    })?;
                    Block::Kick(kick)
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

/// The rest after a kick pulse of `on_ms`: four times as long (a 20 % duty cycle), at most
/// the 510 ms the command can carry.
pub fn kick_rest(on_ms: u16) -> u16 {
    on_ms.saturating_mul(4).min(510).max(on_ms)
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
    fn a_logo_and_a_kick_reach_the_printer() {
        use drivers::escpos::sim::{SimCommand, SimPrinter};
        // A 16 × 2 logo: a black top row, a white bottom row.
        let d = doc(serde_json::json!({ "blocks": [
            { "type": "image", "width": 16, "height": 2, "data": "//8AAA==", "align": "center" },
            { "type": "text", "text": "Danke" },
            { "type": "kick", "pin": 5, "on_ms": 60 },
        ]}));
        let r = d.to_receipt().unwrap();
        let bytes = drivers::escpos::encode(&r, &drivers::escpos::PrinterProfile::default());
        let sim = SimPrinter::start().unwrap();
        let addr = sim.addr().to_string();
        let mut printer = drivers::escpos::TcpPrinter::connect(&addr, Default::default()).unwrap();
        printer.print_job(&bytes).unwrap();
        let jobs = sim.wait_for_jobs(1, std::time::Duration::from_secs(5));
        let cmds = &jobs[0].commands;
        assert!(
            cmds.contains(&SimCommand::Raster {
                width_bytes: 2,
                height: 2
            }),
            "{cmds:?}"
        );
        assert!(
            cmds.contains(&SimCommand::Kick {
                pin: 1,
                on_ms: 60,
                off_ms: 240
            }),
            "{cmds:?}"
        );
        assert!(jobs[0].text.contains("Danke"));
        assert_eq!(kick_rest(100), 400);
        assert_eq!(kick_rest(200), 510);
        assert_eq!(kick_rest(600), 600, "refused later, by the pulse check");
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
        let d = doc(serde_json::json!({ "blocks": [
            { "type": "image", "width": 16, "height": 2, "data": "AAAA" } ]}));
        assert_eq!(
            d.to_receipt().unwrap_err().field,
            "blocks[0].data",
            "3 bytes, 4 needed"
        );
        let d = doc(serde_json::json!({ "blocks": [
            { "type": "image", "width": 8, "height": 1, "data": "*" } ]}));
        assert_eq!(d.to_receipt().unwrap_err().field, "blocks[0].data");
        let d = doc(serde_json::json!({ "blocks": [{ "type": "kick", "pin": 3 }] }));
        assert_eq!(d.to_receipt().unwrap_err().field, "blocks[0].pin");
        let d = doc(serde_json::json!({ "blocks": [{ "type": "kick", "on_ms": 600 }] }));
        assert_eq!(d.to_receipt().unwrap_err().field, "blocks[0].on_ms");
        let d = doc(
            serde_json::json!({ "blocks": [{ "type": "kick", "on_ms": 200,
            "off_ms": 100 }] }),
        );
        assert_eq!(d.to_receipt().unwrap_err().field, "blocks[0].off_ms");
        let unknown = serde_json::json!({ "blocks": [{ "type": "hologram" }] });
        assert!(serde_json::from_value::<ReceiptDocument>(unknown).is_err());
    }
}
