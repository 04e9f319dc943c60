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
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(20);
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

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<LabelSimState>,
    labels: Mutex<Vec<SimLabel>>,
    inject: Mutex<Vec<u8>>,
    conns: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running simulated label printer; stops when dropped.
#[derive(Debug)]
pub struct SimLabelPrinter {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl SimLabelPrinter {
    /// Starts a simulator on a free port of 127.0.0.1.
    pub fn start() -> io::Result<SimLabelPrinter> {
        SimLabelPrinter::bind("127.0.0.1:0")
    }

    /// Starts a simulator listening on `addr`.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<SimLabelPrinter> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("sim-zpl".into())
            .spawn(move || accept_loop(&listener, &accept_shared))?;
        Ok(SimLabelPrinter {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The current state.
    pub fn state(&self) -> LabelSimState {
        *lock(&self.shared.state)
    }

    /// Replaces the state.
    pub fn set_state(&self, state: LabelSimState) {
        *lock(&self.shared.state) = state;
    }

    /// Changes the state in place.
    pub fn update_state(&self, f: impl FnOnce(&mut LabelSimState)) {
        f(&mut lock(&self.shared.state));
    }

    /// Sends `bytes` just before the next `~HS` reply, in the same write.
    pub fn inject_before_next_reply(&self, bytes: &[u8]) {
        lock(&self.shared.inject).extend_from_slice(bytes);
    }

    /// Sends `bytes` now on every open connection, unasked.
    pub fn send_unsolicited(&self, bytes: &[u8]) {
        for mut conn in lock(&self.shared.conns).iter() {
            let _ = conn.write_all(bytes);
        }
    }

    /// Labels received so far.
    pub fn labels(&self) -> Vec<SimLabel> {
        lock(&self.shared.labels).clone()
    }

    /// Labels received so far, removed from the simulator.
    pub fn take_labels(&self) -> Vec<SimLabel> {
        std::mem::take(&mut *lock(&self.shared.labels))
    }

    /// Waits until at least `count` labels arrived or `timeout` passes; returns them all.
    pub fn wait_for_labels(&self, count: usize, timeout: Duration) -> Vec<SimLabel> {
        let deadline = Instant::now() + timeout;
        loop {
            let labels = self.labels();
            if labels.len() >= count || Instant::now() >= deadline {
                return labels;
            }
            std::thread::sleep(TICK / 4);
        }
    }
}

impl Drop for SimLabelPrinter {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for conn in lock(&self.shared.conns).iter() {
            let _ = conn.shutdown(std::net::Shutdown::Both);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = Arc::clone(shared);
                let spawned = std::thread::Builder::new()
                    .name("sim-zpl-conn".into())
                    .spawn(move || serve(stream, &shared));
                drop(spawned);
            }
            Err(_) => std::thread::sleep(TICK),
        }
    }
}

fn serve(mut stream: TcpStream, shared: &Shared) {
    let setup = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(TICK)))
        .and_then(|()| stream.try_clone());
    let Ok(clone) = setup else { return };
    lock(&shared.conns).push(clone);
    let peer = stream.peer_addr().ok();

    let mut label: Option<Vec<u8>> = None;
    // The last two bytes seen, to spot `~HS`, `^XA` and `^XZ` across reads.
    let mut prev = [0u8; 2];
    let mut buf = [0u8; 4096];
    while !shared.stop.load(Ordering::SeqCst) {
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
                        let mut out = std::mem::take(&mut *lock(&shared.inject));
                        out.extend_from_slice(&reply);
                        let _ = stream.write_all(&out);
                    }
                }
                b"^XA" => label = Some(b"^XA".to_vec()),
                b"^XZ" => {
                    if let Some(l) = label.take() {
                        let zpl = String::from_utf8_lossy(&l).into_owned();
                        lock(&shared.labels).push(SimLabel::parse(&zpl));
                    }
                }
                _ => {}
            }
        }
    }
    lock(&shared.conns).retain(|c| c.peer_addr().ok() != peer);
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
