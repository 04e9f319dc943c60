//! The printed receipt of a completed sale: a [`ReceiptDocument`] (rows fitted to the printer
//! by the device layer, any Unicode the printer's code pages hold) with a QR code of the sale
//! id, which a return scans to find the sale. Its rows are [`crate::domain::receipt::rows`];
//! a label too long to share a 58 mm line with its amount is printed wrapped above it.

use drivers::escpos::{encode, Paper, PrinterProfile};
use protocol::pos::SaleRecord;
use protocol::{SaleId, StoreId, Timestamp};

use crate::clock::rfc3339;
use crate::devices::config::{self, DeviceSpec};
use crate::devices::document::{ReceiptBlock, ReceiptDocument, RowCell, TextAlign};
use crate::devices::manager::DeviceManager;
use crate::domain::receipt::rows;
use crate::store::NewPrintJob;

fn text(t: String, align: TextAlign, bold: bool, double: bool) -> ReceiptBlock {
    ReceiptBlock::Text {
        text: t,
        bold,
        double,
        underline: false,
        align,
    }
}

/// The longest row label that fits beside a 12-column amount on 58 mm paper (32 columns).
const MAX_ROW_LABEL: usize = 32 - 12 - 1;

/// The receipt document of `sale`.
pub fn document(store: &StoreId, sale: SaleId, rec: &SaleRecord, at: Timestamp) -> ReceiptDocument {
    let mut b = vec![
        text(store.to_string(), TextAlign::Center, true, true),
        text(rfc3339(at), TextAlign::Center, false, false),
        ReceiptBlock::Separator { char: None },
    ];
    for (label, amount) in rows(rec) {
        let bold = label.starts_with("TOTAL");
        if label == "Subtotal" {
            b.push(ReceiptBlock::Separator { char: None });
        }
        // A label too long for the narrowest paper beside its amount goes on its own lines,
        // wrapped, rather than cut off.
        let label = if label.chars().count() > MAX_ROW_LABEL {
            b.push(text(label, TextAlign::Left, bold, false));
            String::new()
        } else {
            label
        };
        b.push(ReceiptBlock::Row {
            cells: vec![
                RowCell {
                    text: label,
                    width: None,
                    align: TextAlign::Left,
                },
                RowCell {
                    text: amount,
                    width: Some(12),
                    align: TextAlign::Right,
                },
            ],
            bold,
        });
    }
    b.push(ReceiptBlock::Feed { lines: 1 });
    b.push(ReceiptBlock::Qr {
        data: sale.to_string(),
        align: TextAlign::Center,
    });
    b.push(text(sale.to_string(), TextAlign::Center, false, false));
    b.push(ReceiptBlock::Cut { full: false });
    ReceiptDocument { blocks: b }
}

/// The first receipt printer (by name) and its paper, if the box has one.
pub fn printer(devices: &DeviceManager) -> Option<(String, Paper)> {
    let printer = devices
        .list()
        .into_iter()
        .find(|d| d.kind == "receipt_printer")?;
    match devices.spec(&printer.name).ok()? {
        DeviceSpec::ReceiptPrinter { paper, .. } => {
            let paper = match paper {
                config::Paper::Mm58 => Paper::Mm58,
                config::Paper::Mm80 => Paper::Mm80,
            };
            Some((printer.name, paper))
        }
        _ => None,
    }
}

/// A print job of `doc` on the first receipt printer, if the box has one.
pub fn print_job(devices: Option<&DeviceManager>, doc: &ReceiptDocument) -> Option<NewPrintJob> {
    let (name, paper) = printer(devices?)?;
    let receipt = match doc.to_receipt() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "a sale's receipt does not render");
            return None;
        }
    };
    let profile = PrinterProfile::new(paper, drivers::escpos::Font::A);
    Some(NewPrintJob {
        id: uuid::Uuid::new_v4(),
        device: name,
        what: "receipt".into(),
        payload: encode(&receipt, &profile),
    })
}

#[cfg(test)]
mod tests {
    use protocol::event::Actor;
    use protocol::pos::{LineItem, SoldLine};
    use protocol::{Currency, Money};

    use super::*;

    #[test]
    fn a_receipt_document_renders_for_the_printer() {
        let usd = |m| Money::new(m, Currency::new("USD").unwrap());
        let item = LineItem {
            sku: "A".into(),
            name: "Crème brûlée torch, extra long name that wraps".into(),
            category: "c".into(),
            tax_class: "t".into(),
            unit_price: usd(1_000),
        };
        let rec = SaleRecord {
            till: None,
            customer: None,
            coupons: vec![],
            lines: vec![SoldLine {
                line: 1,
                item,
                quantity: 1,
                unit_price: usd(1_000),
                override_reason: None,
                gross: usd(1_000),
                discounts: vec![],
                net: usd(1_000),
                taxes: vec![],
                total: usd(1_000),
            }],
            tax_inclusive: true,
            subtotal: usd(1_000),
            discount: usd(0),
            tax: usd(0),
            total: usd(1_000),
            tenders: vec![],
            change: usd(0),
            by: Actor::Admin,
        };
        let store = StoreId::new("store-1").unwrap();
        let doc = document(&store, SaleId::random(), &rec, Timestamp(0));
        let receipt = doc.to_receipt().expect("renders");
        let bytes = encode(
            &receipt,
            &PrinterProfile::new(Paper::Mm58, drivers::escpos::Font::A),
        );
        assert!(bytes.len() > 100);
        assert!(matches!(doc.blocks.last(), Some(ReceiptBlock::Cut { .. })));
        assert!(doc
            .blocks
            .iter()
            .any(|b| matches!(b, ReceiptBlock::Qr { .. })));
    }

    /// The printed receipt, as a simulated 58 mm printer on TCP prints it: every line within
    /// the paper's 32 columns, the non-ASCII name intact, the long name wrapped, the total
    /// right-aligned, the QR code of the sale id, and a cut.
    #[test]
    fn the_printed_receipt_fits_the_paper_and_keeps_non_ascii_names() {
        use std::io::Write;
        use std::time::Duration;

        use drivers::escpos::sim::{SimCommand, SimPrinter};

        let usd = |m| Money::new(m, Currency::new("USD").unwrap());
        let item = LineItem {
            sku: "A".into(),
            name: "Crème brûlée torch, extra long name that wraps".into(),
            category: "c".into(),
            tax_class: "t".into(),
            unit_price: usd(1_000),
        };
        let line = SoldLine {
            line: 1,
            item,
            quantity: 2,
            unit_price: usd(1_000),
            override_reason: None,
            gross: usd(2_000),
            discounts: vec![],
            net: usd(2_000),
            taxes: vec![],
            total: usd(2_000),
        };
        let rec = SaleRecord {
            till: None,
            customer: None,
            coupons: vec![],
            lines: vec![line],
            tax_inclusive: true,
            subtotal: usd(2_000),
            discount: usd(0),
            tax: usd(0),
            total: usd(2_000),
            tenders: vec![],
            change: usd(0),
            by: Actor::Admin,
        };
        let sale = SaleId::random();
        let doc = document(&StoreId::new("store-1").unwrap(), sale, &rec, Timestamp(0));
        let profile = PrinterProfile::new(Paper::Mm58, drivers::escpos::Font::A);
        let bytes = encode(&doc.to_receipt().expect("renders"), &profile);
        let sim = SimPrinter::start().expect("simulator");
        let mut conn = std::net::TcpStream::connect(sim.addr()).expect("connect");
        conn.write_all(&bytes).expect("send");
        conn.flush().expect("flush");
        let jobs = sim.wait_for_jobs(1, Duration::from_secs(5));
        assert_eq!(jobs.len(), 1);
        let text = &jobs[0].text;
        for l in text.lines() {
            assert!(
                l.chars().count() <= 32,
                "{l:?} is wider than 32 columns:\n{text}"
            );
        }
        assert!(text.contains("Crème brûlée"), "{text}");
        assert!(text.contains("that wraps"), "{text}");
        let total = text
            .lines()
            .find(|l| l.starts_with("TOTAL USD"))
            .expect("total row");
        assert!(total.ends_with("20.00"), "{total:?}");
        assert_eq!(total.chars().count(), 32, "{total:?}");
        let qr = jobs[0]
            .commands
            .iter()
            .any(|c| matches!(c, SimCommand::Qr { data } if data == sale.to_string().as_bytes()));
        assert!(qr, "{:?}", jobs[0].commands);
        assert!(jobs[0].cut());
    }
}
