//! A simulated ZPL label printer on TCP, for tests and the daemon's demo mode.
//!
//! [`SimLabelPrinter`] answers `~HS` per its [`LabelSimState`] and records every label
//! (`^XA … ^XZ`) with its decoded field data. Bytes outside a label are ignored, a label larger
//! than 1 MiB is dropped, and nothing a client sends can make it panic.
//!
//! # Current limitations
//! - Only `~HS` among the tilde commands is answered; others are kept in the label text.
//! - Field data is split at `^`, which is what a printer does too; `^FH` with an escape
//!   character other than `_` is honoured, `^FH` without one means `_`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::sim_host::{self, lock, Host};
const MAX_LABEL: usize = 1 << 20;

/// The state the simulated label printer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelSimState {
    /// Out of labels.
    pub paper_out: bool,
    /// Paused.
    pub paused: bool,
    /// Print head open.
    pub head_open: bool,
    /// Out of ribbon.
    pub ribbon_out: bool,
    /// Like newer firmware, send no `~HS` reply while paper out, ribbon out or head open.
    pub silent_in_error: bool,
    /// Never answer `~HS`.
    pub silent: bool,
}

impl Default for LabelSimState {
    /// Ready, and silent in error like current firmware.
    fn default() -> LabelSimState {
        LabelSimState {
            paper_out: false,
            paused: false,
            head_open: false,
            ribbon_out: false,
            silent_in_error: true,
            silent: false,
        }
    }
}

impl LabelSimState {
    /// The `~HS` reply for this state, or `None` when the printer would stay silent.
    pub fn host_status(&self) -> Option<Vec<u8>> {
        let in_error = self.paper_out || self.ribbon_out || self.head_open;
        if self.silent || (self.silent_in_error && in_error) {
            return None;
        }
        let f = |b: bool| u8::from(b);
        let s1 = format!(
            "030,{},{},1218,000,0,0,0,000,0,0,0",
            f(self.paper_out),
            f(self.paused)
        );
        let s2 = format!(
            "001,0,{},{},1,2,6,0,00000000,1,000",
            f(self.head_open),
            f(self.ribbon_out)
        );
        Some(format!("\x02{s1}\x03\r\n\x02{s2}\x03\r\n\x021234,0\x03\r\n").into_bytes())
    }
}

/// One field of a recorded label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimField {
    /// The command that set the field's type: `A0` (text), `BC`, `BQ`, `GB`, … or empty.
    pub kind: String,
    /// Field data with `^FH` escapes decoded.
    pub data: String,
}

/// One label as the simulated printer received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimLabel {
    /// The ZPL from `^XA` to `^XZ` (invalid UTF-8 replaced).
    pub zpl: String,
    /// Fields in order.
    pub fields: Vec<SimField>,
    /// Copies asked for with `^PQ` (1 when absent or malformed).
    pub quantity: u32,
}

impl SimLabel {
    /// Parses one label's ZPL.
    pub fn parse(zpl: &str) -> SimLabel {
        let mut fields = Vec::new();
        let mut quantity = 1;
        let mut kind = String::new();
        let mut fh: Option<char> = None;
        for cmd in zpl.split('^').skip(1) {
            let name: String = cmd.chars().take(2).collect::<String>().to_ascii_uppercase();
            let rest = cmd.get(name.len()..).unwrap_or("");
            match name.as_str() {
                "FO" | "FT" => kind.clear(),
                "FH" => fh = Some(rest.chars().next().unwrap_or('_')),
                "FD" => {
                    let data = match fh {
                        Some(esc) => unescape(rest.trim_end_matches(['\r', '\n']), esc),
                        None => rest.trim_end_matches(['\r', '\n']).to_owned(),
                    };
                    fields.push(SimField {
                        kind: kind.clone(),
                        data,
                    });
                }
                "FS" => fh = None,
                "PQ" => {
                    let n = rest.split(',').next().unwrap_or("").trim();
                    quantity = n.parse().unwrap_or(1).max(1);
                }
                n if (n.starts_with('A') || n.starts_with('B') || n == "GB") && n != "BY" => {
                    kind = n.to_owned();
                }
                _ => {}
            }
        }
        SimLabel {
            zpl: zpl.to_owned(),
            fields,
            quantity,
        }
    }

    /// Data of the fields of the given kind, e.g. `"A0"` for text.
    pub fn data_of(&self, kind: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| f.data.as_str())
            .collect()
    }
}

fn unescape(data: &str, esc: char) -> String {
    if esc == '_' {
        return super::label::hex_unescape(data);
    }
    let swapped: String = data
        .chars()
        .map(|c| if c == esc { '_' } else { c })
        .collect();
    super::label::hex_unescape(&swapped)
}

type Shared = sim_host::Shared<LabelSimState, SimLabel>;

/// A running simulated label printer; stops when dropped.
#[derive(Debug)]
pub struct SimLabelPrinter {
    host: Host<LabelSimState, SimLabel>,
}

impl SimLabelPrinter {
    /// Starts a simulator on a free port of 127.0.0.1.
    pub fn start() -> io::Result<SimLabelPrinter> {
        SimLabelPrinter::bind("127.0.0.1:0")
    }

    /// Starts a simulator listening on `addr`.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<SimLabelPrinter> {
        Ok(SimLabelPrinter {
            host: Host::bind(addr, "sim-zpl", serve)?,
        })
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.host.addr()
    }

    /// The current state.
    pub fn state(&self) -> LabelSimState {
        self.host.state()
    }

    /// Replaces the state.
    pub fn set_state(&self, state: LabelSimState) {
        self.host.set_state(state);
    }

    /// Changes the state in place.
    pub fn update_state(&self, f: impl FnOnce(&mut LabelSimState)) {
        self.host.update_state(f);
    }

    /// Sends `bytes` just before the next `~HS` reply, in the same write.
    pub fn inject_before_next_reply(&self, bytes: &[u8]) {
        self.host.inject_before_next_reply(bytes);
    }

    /// Sends `bytes` now on every open connection, unasked.
    pub fn send_unsolicited(&self, bytes: &[u8]) {
        self.host.send_unsolicited(bytes);
    }

    /// Labels received so far.
    pub fn labels(&self) -> Vec<SimLabel> {
        self.host.done()
    }

    /// Labels received so far, removed from the simulator.
    pub fn take_labels(&self) -> Vec<SimLabel> {
        self.host.take_done()
    }

    /// Waits until at least `count` labels arrived or `timeout` passes; returns them all.
    pub fn wait_for_labels(&self, count: usize, timeout: Duration) -> Vec<SimLabel> {
        self.host.wait_for(count, timeout)
    }
}

fn serve(mut stream: TcpStream, shared: &Shared) {
    let mut label: Option<Vec<u8>> = None;
    // The last two bytes seen, to spot `~HS`, `^XA` and `^XZ` across reads.
    let mut prev = [0u8; 2];
    let mut buf = [0u8; 4096];
    while !shared.stopping() {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(_) => break,
        };
        for &b in &buf[..n] {
            let up = b.to_ascii_uppercase();
            let cmd = [prev[0], prev[1].to_ascii_uppercase(), up];
            prev = [prev[1], b];
            if let Some(l) = label.as_mut() {
                l.push(b);
                if l.len() > MAX_LABEL {
                    label = None;
                    continue;
                }
            }
            match &cmd {
                b"~HS" => {
                    let reply = lock(&shared.state).host_status();
                    if let Some(reply) = reply {
                        let _ = stream.write_all(&shared.with_injected(&reply));
                    }
                }
                b"^XA" => label = Some(b"^XA".to_vec()),
                b"^XZ" => {
                    if let Some(l) = label.take() {
                        let zpl = String::from_utf8_lossy(&l).into_owned();
                        lock(&shared.done).push(SimLabel::parse(&zpl));
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_with_hex_escapes() {
        let l = SimLabel::parse(
            "^XA^CI28^FO1,2^A0N,30,30^FH_^FDM_C3_BCller_5F^FS\n^FO0,0^BY2^BCN,50,Y,N,N,N^FDAB_1^FS\
             ^FO0,0^BQN,2,4^FH#^FDQA,#C3#A9^FS^PQ3^XZ",
        );
        assert_eq!(l.data_of("A0"), ["Müller_"]);
        assert_eq!(l.data_of("BC"), ["AB_1"], "no ^FH: no decoding");
        assert_eq!(l.data_of("BQ"), ["QA,é"]);
        assert_eq!(l.quantity, 3);
    }

    #[test]
    fn status_reply_per_state() {
        let ok = LabelSimState::default().host_status().unwrap();
        assert!(crate::zpl::HostStatus::parse(&ok).unwrap().ready());
        let paused = LabelSimState {
            paused: true,
            ..LabelSimState::default()
        };
        assert!(
            crate::zpl::HostStatus::parse(&paused.host_status().unwrap())
                .unwrap()
                .paused
        );
        let out = LabelSimState {
            paper_out: true,
            ..LabelSimState::default()
        };
        assert!(out.host_status().is_none());
        let loud = LabelSimState {
            silent_in_error: false,
            ..out
        };
        assert!(
            crate::zpl::HostStatus::parse(&loud.host_status().unwrap())
                .unwrap()
                .paper_out
        );
    }
}
