//! RFID: an LLRP client, a simulated LLRP reader, EPC decoding and read aggregation.
//!
//! # Layout
//! - [`epc`]: EPC decoding per the GS1 Tag Data Standard (SGTIN-96/198, SSCC-96, SGLN-96,
//!   GRAI-96, GIAI-96), pure-identity URIs, GTIN-14; an SGTIN-96 encoder.
//! - [`llrp`]: LLRP 1.0.1 framing, parameters and the typed messages a client exchanges with a
//!   reader. No I/O.
//! - [`client`]: [`client::LlrpClient`], a blocking TCP client that configures a reader, starts
//!   an inventory and yields tag reads; answers keepalives, detects a silent reader; and
//!   [`client::Backoff`] for the caller's reconnect loop.
//! - [`aggregate`]: per-EPC aggregation of reads (first/last seen, count, peak RSSI and its
//!   antenna) with a window/flush API.
//! - [`sim`]: [`sim::SimReader`], an LLRP reader on a TCP socket serving a synthetic tag
//!   population, for tests and the daemon's embedded default.
//!
//! # Using it from the daemon
//! ```no_run
//! use drivers::rfid::{aggregate::Aggregator, client::{ClientConfig, LlrpClient}};
//!
//! let mut client = LlrpClient::connect("reader-1:5084", ClientConfig::default())?;
//! let mut agg = Aggregator::new();
//! let stop = client.stop_handle();
//! for read in client.reads() {
//!     agg.add(&read?);
//!     # stop.stop();
//! }
//! let tail = client.stop()?;
//! agg.extend(&tail);
//! for tag in agg.flush() {
//!     // e.g. urn:epc:id:sgtin:0614141.812345.6789, read 12 times, strongest on antenna 2
//!     let uri = drivers::rfid::epc::decode(&tag.epc).map(|e| e.pure_identity_uri());
//!     let _ = (uri, tag.count, tag.peak_antenna);
//! }
//! # Ok::<(), drivers::rfid::client::ClientError>(())
//! ```
//!
//! # Current limitations
//! - LLRP over TLS (port 5085), access specs (tag memory reads/writes), custom (vendor)
//!   messages and GPI triggers are not implemented.
//! - [`llrp::Message`] models the ROSpec this client sends (one AISpec, one inventory, one
//!   report spec); richer ROSpecs from other clients decode to that subset.

pub mod aggregate;
pub mod client;
pub mod epc;
pub mod llrp;
pub mod sim;
