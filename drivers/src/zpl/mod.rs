//! ZPL II label printers (Zebra and compatibles).
//!
//! # Layout
//! - [`label`]: the [`Label`] builder (text in font 0, CODE128, GS1-128, QR, boxes, quantity)
//!   rendered as pure-ASCII ZPL with `^CI28` and `^FH_` escapes.
//! - [`status`]: the `~HS` host status reply parsed into [`HostStatus`].
//! - [`transport`]: [`LabelPrinter`] over the [`Transport`](crate::escpos::Transport) trait;
//!   [`TcpLabelPrinter`] on port 9100. No reply to `~HS` means "in error".
//! - [`sim`]: a simulated label printer on TCP.
//!
//! # Example
//! ```
//! use drivers::escpos::Timeouts;
//! use drivers::zpl::sim::SimLabelPrinter;
//! use drivers::zpl::{Label, TcpLabelPrinter};
//!
//! let sim = SimLabelPrinter::start().unwrap();
//! let mut printer = TcpLabelPrinter::connect(&sim.addr().to_string(), Timeouts::default())
//!     .unwrap();
//! let mut label = Label::new(812, 406);
//! label.text(40, 40, 40, "Größe M");
//! printer.print_label(&label).unwrap();
//! let labels = sim.wait_for_labels(1, std::time::Duration::from_secs(2));
//! assert_eq!(labels[0].data_of("A0"), ["Größe M"]);
//! ```
//!
//! # Current limitations
//! - GS1-128 uses `^BC` automatic mode with an explicit start C + FNC1 (`>;>8`), as in Zebra's
//!   own example; the interpretation line is the printer's (no parentheses). Checked against
//!   the documentation only, not yet against a renderer and a barcode decoder.
//! - Only scalable font 0; no graphics (`^GF`).

pub mod label;
pub mod sim;
pub mod status;
pub mod transport;

pub use label::{
    gs1_fixed_length, hex_escape, hex_unescape, Field, FieldKind, Gs1Element, Label, LabelError,
    Orientation, QrLevel,
};
pub use status::{HostStatus, HostStatusError};
pub use transport::{LabelPrinter, LabelPrinterError, TcpLabelPrinter};
