//! Receipt text: a completed sale as plain text and as HTML, for email receipts.
//!
//! Amounts are shown with the currency's ISO 4217 exponent (2 unless listed in [`exponent`]).

use protocol::pos::SaleRecord;
use protocol::{Money, SaleId};

/// Digits after the decimal point of `currency`'s minor unit.
pub fn exponent(currency: &str) -> u32 {
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

/// The receipt's rows: (label, amount), in print order.
pub fn rows(rec: &SaleRecord) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for l in &rec.lines {
        let label = if l.quantity == 1 {
            l.item.name.clone()
        } else {
            format!(
                "{} × {} {}",
                l.quantity,
                format_money(l.unit_price),
                l.item.name
            )
        };
        out.push((label, format_money(l.gross)));
        if let Some(reason) = &l.override_reason {
            out.push((format!("  price override: {reason}"), String::new()));
        }
        for d in &l.discounts {
            let off = Money::new(-d.amount.minor, d.amount.currency);
            out.push((format!("  {}", d.rule), format_money(off)));
        }
    }
    out.push(("Subtotal".into(), format_money(rec.subtotal)));
    if rec.discount.minor != 0 {
        out.push(("Discounts".into(), format_money(rec.discount)));
    }
    let tax = if rec.tax_inclusive {
        "Tax included"
    } else {
        "Tax"
    };
    out.push((tax.into(), format_money(rec.tax)));
    out.push((
        format!("TOTAL {}", rec.total.currency),
        format_money(rec.total),
    ));
    for t in &rec.tenders {
        let r = t
            .reference
            .as_deref()
            .map(|r| format!(" {r}"))
            .unwrap_or_default();
        out.push((format!("{}{r}", t.kind.as_str()), format_money(t.amount)));
    }
    if rec.change.minor != 0 {
        out.push(("Change".into(), format_money(rec.change)));
    }
    out
}

/// The receipt as plain text, 40 columns wide where labels allow.
pub fn text(store: &str, sale: SaleId, rec: &SaleRecord) -> String {
    let mut s = format!("{store}\nReceipt {sale}\n\n");
    for (label, amount) in rows(rec) {
        let pad = 40usize.saturating_sub(label.chars().count() + amount.chars().count());
        s.push_str(&format!("{label}{}{amount}\n", " ".repeat(pad.max(1))));
    }
    s
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The receipt as a small HTML document, every text escaped.
pub fn html(store: &str, sale: SaleId, rec: &SaleRecord) -> String {
    let mut s = format!(
        "<!doctype html><html><body><h1>{}</h1><p>Receipt {sale}</p><table>",
        escape(store)
    );
    for (label, amount) in rows(rec) {
        s.push_str(&format!(
            "<tr><td>{}</td><td align=\"right\">{}</td></tr>",
            escape(&label),
            escape(&amount)
        ));
    }
    s.push_str("</table></body></html>");
    s
}

#[cfg(test)]
mod tests {
    use protocol::event::Actor;
    use protocol::pos::CartOp;
    use protocol::{Currency, Timestamp};

    use super::*;
    use crate::domain::sale::tests::{item, tax, usd};
    use crate::domain::sale::{Cart, PricingContext};

    #[test]
    fn money_is_formatted_with_the_currency_exponent() {
        let m = |minor, c| Money::new(minor, Currency::new(c).unwrap());
        assert_eq!(format_money(m(1_234, "USD")), "12.34");
        assert_eq!(format_money(m(-5, "EUR")), "-0.05");
        assert_eq!(format_money(m(1_234, "JPY")), "1234");
        assert_eq!(format_money(m(1_234, "KWD")), "1.234");
    }

    #[test]
    fn text_and_html_receipts_show_every_line_and_escape_names() {
        let t = tax(false);
        let ctx = PricingContext {
            promotions: &[],
            tax: &t,
            at: Timestamp(0),
        };
        let mut c = Cart::open(None, usd(), Actor::Admin);
        let mut odd = item("a", 1_000);
        odd.name = "Café <b>&</b>".into();
        c.apply(&CartOp::AddLine {
            line: 1,
            item: odd,
            quantity: 2,
        })
        .unwrap();
        c.apply(&CartOp::AddTender {
            tender: protocol::pos::Tender {
                kind: protocol::pos::TenderKind::Card,
                amount: Money::new(2_178, usd()),
                reference: Some("AUTH-1".into()),
            },
        })
        .unwrap();
        let rec = c.complete(&c.price(&ctx).unwrap(), Actor::Admin).unwrap();
        let sale = SaleId::random();
        let txt = text("Store 42", sale, &rec);
        assert!(txt.contains("2 × 10.00 Café <b>&</b>"), "{txt}");
        assert!(txt.contains("TOTAL USD"), "{txt}");
        assert!(txt.contains("21.78"), "{txt}");
        let h = html("Store 42", sale, &rec);
        assert!(h.contains("Café &lt;b&gt;&amp;&lt;/b&gt;"), "{h}");
        assert!(!h.contains("<b>&"), "{h}");
    }
}
