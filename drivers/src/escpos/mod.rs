//! ESC/POS receipt printers (Epson TM and compatibles).
//!
//! # Layout
//! - [`document`]: the receipt model ([`Receipt`], [`Block`], [`Style`], barcodes, QR codes,
//!   raster images, drawer pulses). Invalid content is refused when a block is built.
//! - [`profile`]: what differs between printers ([`PrinterProfile`]: paper, font, columns,
//!   dots, code pages).
//! - [`codepage`]: the single-byte code pages and their `ESC t n` numbers.
//! - [`encode`](mod@encode): [`Receipt`] → bytes, with per-character code-page selection and
//!   column fitting. Pure, infallible, property-tested.
//! - [`status`]: `DLE EOT n` replies and Automatic Status Back parsed into [`PrinterStatus`];
//!   garbage is refused with a typed error.
//! - [`transport`]: the [`Transport`] trait, TCP 9100 and device files, and [`Printer`], which
//!   queries status (drain, match the reply pattern, time out) and prints whole jobs or none.
//! - [`sim`]: a simulated printer on TCP.
//!
//! # Status: polled, not pushed
//! The design polls real-time status (`DLE EOT 1`, `2`, `3`, `4`) before every job and every
//! `status_poll_ms` in the daemon; it never enables Automatic Status Back (`GS a n` is not
//! sent). Why:
//! - A real-time request is answered even while the printer is offline, in error or has a full
//!   buffer (PROTOCOLS.md §1.5, §1.7), so a poll always gets a fresh answer or a clear timeout;
//!   ASB only speaks on a change, so a lost message or a silently dropped TCP connection leaves a
//!   stale state that looks healthy.
//! - Every reply is one byte with a fixed pattern, matched against the request just sent; ASB
//!   messages arrive unasked and can land between job bytes and status replies, which would need
//!   a reader thread per printer and a way to re-enable ASB after every reconnect or power cycle.
//! - A status check before each job is needed anyway to print whole jobs or none.
//!
//! ASB messages that a printer sends on its own (enabled by a memory switch, or by a previous
//! host) are still recognised while waiting for a reply: they are set aside, never mistaken for
//! a reply, and kept as [`Printer::last_asb`]. The daemon does not use them.
//!
//! # Example
//! ```
//! use drivers::escpos::sim::SimPrinter;
//! use drivers::escpos::{Cut, PrinterProfile, Receipt, Style, TcpPrinter, Timeouts};
//!
//! let sim = SimPrinter::start().unwrap();
//! let mut printer = TcpPrinter::connect(&sim.addr().to_string(), Timeouts::default()).unwrap();
//! let mut receipt = Receipt::new();
//! receipt.line("Grüße", Style::plain()).row("Total", "3,00 €").cut(Cut::Partial);
//! printer.print_receipt(&receipt, &PrinterProfile::default()).unwrap();
//! let jobs = sim.wait_for_jobs(1, std::time::Duration::from_secs(2));
//! assert!(jobs[0].text.contains("Grüße"));
//! ```
//!
//! # Current limitations
//! - Only single-byte code pages: CJK text prints as `?`, and combining accents are dropped
//!   (send precomposed characters).
//! - CODE128 is always sent in code set B.
//! - Whether a job printed completely is known only as far as the status before it says; a
//!   fault that appears mid-job shows in the next status query.
//! - A change of state (cover opened, paper out, drawer closed) is seen at the next poll, not
//!   the moment it happens, because Automatic Status Back is not enabled (see above).

pub mod codepage;
pub mod document;
pub mod encode;
pub mod profile;
pub mod sim;
pub mod status;
pub mod transport;

pub use codepage::CodePage;
pub use document::{
    Align, Barcode, Block, Column, ColumnWidth, Cut, DocumentError, DrawerKick, DrawerPin,
    HriPosition, QrCode, QrErrorCorrection, RasterImage, Receipt, Style, Symbology, Underline,
};
pub use encode::{encode, kick_command, realtime_kick_command};
pub use profile::{Font, Paper, PrinterProfile};
pub use status::{PaperLevel, PrinterErrors, PrinterStatus, StatusError, StatusRequest};
pub use transport::{
    print_receipt_to, AnyPrinter, AnyTransport, FilePrinter, FileTransport, Printer,
    PrinterAddress, PrinterError, SerialTransport, TcpPrinter, TcpTransport, Timeouts, Transport,
    DEFAULT_BAUD, DEFAULT_PORT,
};
