//! Device drivers of the store edge appliance.
//!
//! This crate depends on no other crate of the workspace and logs nothing: drivers return typed
//! errors and leave logging to the daemon. I/O is blocking `std` I/O with timeouts; the daemon
//! runs each device on its own thread. Every driver has a simulator that sits on the far side of
//! a real transport (a TCP 9100 printer, an LLRP reader on TCP 5084, a serial scanner on a pty),
//! so tests and the daemon's embedded default exercise the same code as a store does.
//!
//! # Layout
//! - [`escpos`]: receipt documents encoded to ESC/POS, printer status parsing, the TCP 9100
//!   transport, and a simulated receipt printer.
//! - [`zpl`]: ZPL II labels, `~HS` host status, and a simulated label printer.
//! - [`scanner`]: keyboard-wedge (evdev) and serial scanners, framing of scans.
//! - [`gs1`]: interpretation of scan data: AIM symbology identifiers, GTINs, GS1 element strings
//!   and GS1 Digital Link URIs.
//! - [`rfid`]: an LLRP client and a simulated LLRP reader, EPC decoding per the GS1 Tag Data
//!   Standard, read aggregation.
//! - [`drawer`]: cash drawers on a printer's kick port or on GPIO pins (embedded-hal 1.0).

pub mod drawer;
pub mod escpos;
pub mod gs1;
pub mod rfid;
pub mod scanner;
mod sim_host;
pub mod zpl;
