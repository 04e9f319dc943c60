//! Device drivers of the store edge appliance.
//!
//! This crate depends on no other crate of the workspace. Each driver will come with a simulator
//! that sits on the far side of a real transport (TCP 9100, LLRP on TCP 5084, a serial pty).
//!
//! # Current limitations
//! - No driver exists yet: the device work (receipt and label printers, drawers, scanners, RFID)
//!   is tracked as its own issue. The daemon runs without devices until then.
