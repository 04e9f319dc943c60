//! Receipts encoded per second on one thread, for three receipt shapes, beside what the printers
//! consume: a fast thermal printer (300 mm/s) prints a 25 cm receipt in under a second, so the
//! baseline is one receipt per second per printer and the ratio is "printers one core can feed".
//!
//! Run: `cargo bench -p drivers --bench escpos`. Prints a markdown table.

use std::hint::black_box;
use std::time::{Duration, Instant};

use drivers::escpos::{
    encode, Barcode, Cut, DrawerKick, Font, Paper, PrinterProfile, QrCode, RasterImage, Receipt,
    Style,
};

/// Receipts per second one fast printer can take (see the module docs).
const PRINTER_RATE: f64 = 1.0;

fn sale(lines: usize, accents: bool) -> Receipt {
    let mut r = Receipt::new();
    r.line("STORE 0042 – Köln Hbf", Style::plain().bold().double());
    r.line("Bahnhofsvorplatz 1, 50667 Köln", Style::plain());
    r.separator();
    for i in 0..lines {
        let name = if accents {
            format!("Crème brûlée Größe {i} – å ø æ")
        } else {
            format!("Sandwich number {i}")
        };
        r.row(name, format!("{},{:02} €", 2 + i % 9, (i * 37) % 100));
    }
    r.separator();
    r.row("TOTAL", "123,45 €");
    r.row("VAT 19 %", "19,71 €");
    r
}

fn full(lines: usize) -> Receipt {
    let mut r = Receipt::new();
    let logo = RasterImage::from_fn(384, 96, |x, y| (x / 16 + y / 16) % 2 == 0).unwrap();
    r.image(logo);
    r.blocks.extend(sale(lines, true).blocks);
    r.barcode(Barcode::code128("R-0042-000123-7").unwrap());
    r.barcode(Barcode::ean13("5901234123457").unwrap());
    r.qr(QrCode::new("https://receipts.example/0042/000123?k=5a1b").unwrap());
    r.feed(3);
    r.cut(Cut::Partial);
    r.kick(DrawerKick::pin2());
    r
}

/// Encodes `receipt` for about `budget`; returns (receipts per second, bytes per receipt).
fn measure(receipt: &Receipt, profile: &PrinterProfile, budget: Duration) -> (f64, usize) {
    let bytes = encode(receipt, profile).len();
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < budget {
        for _ in 0..16 {
            black_box(encode(black_box(receipt), profile));
        }
        n += 16;
    }
    (n as f64 / started.elapsed().as_secs_f64(), bytes)
}

fn main() {
    let budget = Duration::from_secs(2);
    let cases: [(&str, Receipt, Paper); 4] = [
        ("20 lines, ASCII, 80 mm", sale(20, false), Paper::Mm80),
        (
            "20 lines, accents (code pages), 80 mm",
            sale(20, true),
            Paper::Mm80,
        ),
        (
            "20 lines + logo, barcodes, QR, cut, 80 mm",
            full(20),
            Paper::Mm80,
        ),
        (
            "60 lines + logo, barcodes, QR, cut, 58 mm",
            full(60),
            Paper::Mm58,
        ),
    ];
    println!("| receipt | bytes | receipts/s (1 thread) | printers fed per core |");
    println!("|---|---:|---:|---:|");
    for (name, receipt, paper) in cases {
        let profile = PrinterProfile::new(paper, Font::A);
        let (rate, bytes) = measure(&receipt, &profile, budget);
        println!(
            "| {name} | {bytes} | {rate:.0} | {:.0} |",
            rate / PRINTER_RATE
        );
    }
}
