//! The receipt of a completed sale: a [`ReceiptDocument`] (lines fitted to the printer by the
//! device layer, any Unicode the printer's code pages hold) with a QR code of the sale id, which
//! a return scans to find the sale.

use drivers::escpos::{encode, Paper, PrinterProfile};
use protocol::pos::SaleRecord;
use protocol::{Money, SaleId, StoreId, Timestamp};

use crate::clock::rfc3339;
use crate::devices::config::{self, DeviceSpec};
use crate::devices::document::{ReceiptBlock, ReceiptDocument, RowCell, TextAlign};
use crate::devices::manager::DeviceManager;
use crate::store::NewPrintJob;

/// Digits after the decimal point of `currency`'s minor unit (ISO 4217; 2 unless listed).
fn exponent(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "ISK" | "CLP" | "VND" | "XAF" | "XOF" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "LYD" | "IQD" => 3,
        _ => 2,
    }
}

/// `1234 USD` as `12.34`; negative amounts keep their sign.
pub fn format_money(m: Money) -> String {
    let e = exponent(m.currency.as_str());
    if e == 0 {
        return m.minor.to_string();
    }
    let unit = 10u64.pow(e);
    let abs = m.minor.unsigned_abs();
    let sign = if m.minor < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:0width$}",
        abs / unit,
        abs % unit,
        width = e as usize
    )
}

fn row(left: String, right: String, bold: bool) -> ReceiptBlock {
    ReceiptBlock::Row {
        cells: vec![
            RowCell {
                text: left,
                width: None,
                align: TextAlign::Left,
            },
            RowCell {
                text: right,
                width: Some(12),
                align: TextAlign::Right,
            },
        ],
        bold,
    }
}

fn text(t: String, align: TextAlign, bold: bool) -> ReceiptBlock {
    ReceiptBlock::Text {
        text: t,
        bold,
        double: false,
        underline: false,
        align,
    }
}

/// The receipt document of `sale`.
pub fn document(store: &StoreId, sale: SaleId, rec: &SaleRecord, at: Timestamp) -> ReceiptDocument {
    let mut b = vec![
        ReceiptBlock::Text {
            text: store.to_string(),
            bold: true,
            double: true,
            underline: false,
            align: TextAlign::Center,
        },
        text(rfc3339(at), TextAlign::Center, false),
        ReceiptBlock::Separator { char: None },
    ];
    for l in &rec.lines {
        let qty = if l.quantity == 1 {
            String::new()
        } else {
            format!("{} × {} ", l.quantity, format_money(l.unit_price))
        };
        b.push(row(
            format!("{qty}{}", l.item.name),
            format_money(l.gross),
            false,
        ));
        if let Some(reason) = &l.override_reason {
            b.push(text(
                format!("  price override: {reason}"),
                TextAlign::Left,
                false,
            ));
        }
        for d in &l.discounts {
            b.push(row(
                format!("  {}", d.rule),
                format_money(Money::new(-d.amount.minor, d.amount.currency)),
                false,
            ));
        }
    }
    b.push(ReceiptBlock::Separator { char: None });
    b.push(row("Subtotal".into(), format_money(rec.subtotal), false));
    if rec.discount.minor != 0 {
        b.push(row("Discounts".into(), format_money(rec.discount), false));
    }
    let tax_label = if rec.tax_inclusive {
        "Tax included"
    } else {
        "Tax"
    };
    b.push(row(tax_label.into(), format_money(rec.tax), false));
    b.push(row(
        format!("TOTAL {}", rec.total.currency),
        format_money(rec.total),
        true,
    ));
    for t in &rec.tenders {
        let reference = t
            .reference
            .as_deref()
            .map(|r| format!(" {r}"))
            .unwrap_or_default();
        b.push(row(
            format!("{}{reference}", t.kind.as_str()),
            format_money(t.amount),
            false,
        ));
    }
    if rec.change.minor != 0 {
        b.push(row("Change".into(), format_money(rec.change), false));
    }
    b.push(ReceiptBlock::Feed { lines: 1 });
    b.push(ReceiptBlock::Qr {
        data: sale.to_string(),
        align: TextAlign::Center,
    });
    b.push(text(sale.to_string(), TextAlign::Center, false));
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
    use protocol::Currency;

    use super::*;

    #[test]
    fn money_is_formatted_with_the_currency_exponent() {
        let m = |minor, c| Money::new(minor, Currency::new(c).unwrap());
        assert_eq!(format_money(m(1_234, "USD")), "12.34");
        assert_eq!(format_money(m(-5, "EUR")), "-0.05");
        assert_eq!(format_money(m(1_234, "JPY")), "1234");
        assert_eq!(format_money(m(1_234, "KWD")), "1.234");
    }
}
