//! A simulated LLRP reader on a TCP socket.
//!
//! [`SimReader`] listens (on `127.0.0.1:0` by default), serves one client session at a time on
//! its own thread and speaks enough LLRP for [`super::client::LlrpClient`]: the connection
//! event, success responses to the set-up requests, and, while its ROSpec runs,
//! RO_ACCESS_REPORTs drawn from a configurable population of EPCs at a configurable read rate,
//! with antenna and RSSI varying per read. It sends KEEPALIVEs at the period the client's
//! KeepaliveSpec asks for, and counts the KEEPALIVE_ACKs.
//!
//! A second simultaneous client gets a ConnectionAttemptEvent "a client-initiated connection
//! already exists" and is closed, as a real reader does. Garbage that breaks framing closes
//! the session; a well-framed message that does not decode gets an ERROR_MESSAGE. Nothing a
//! client sends makes the simulator panic.
//!
//! Tests steer it: [`SimReader::set_silent`] makes the reader stop sending anything (a hung
//! reader), [`SimReader::sent_counts`] tells exactly which reads were sent.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::epc::encode_sgtin96;
use super::llrp::{
    msg, Capabilities, Deframer, LlrpError, LlrpStatus, Message, ReaderEvent, RoSpec, TagReport,
    CONTENT_ANTENNA_ID, CONTENT_FIRST_SEEN, CONTENT_LAST_SEEN, CONTENT_PEAK_RSSI,
    CONTENT_TAG_SEEN_COUNT,
};

/// LLRP StatusCode M_FieldError, used for an unknown ROSpecID.
const M_FIELD_ERROR: u16 = 101;
/// LLRP StatusCode M_UnsupportedMessage.
const M_UNSUPPORTED_MESSAGE: u16 = 109;
/// LLRP StatusCode M_ParameterError, used for a message that does not decode.
const M_PARAMETER_ERROR: u16 = 100;
/// ConnectionAttemptEvent status: a client-initiated connection already exists.
const CONNECTION_EXISTS: u16 = 2;

/// What the simulated reader reads.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// EPCs of the tag population; reads cycle through them in order.
    pub tags: Vec<Vec<u8>>,
    /// Tag reads per second while the ROSpec runs.
    pub reads_per_second: u32,
    /// Antenna ports reads are spread over.
    pub antennas: Vec<u16>,
    /// Most TagReportData per RO_ACCESS_REPORT (the ROSpec's N may lower it).
    pub max_tags_per_report: usize,
    /// Scheduling period of reads and keepalives.
    pub tick: Duration,
    /// Seed of the antenna/RSSI variation.
    pub seed: u64,
}

impl SimConfig {
    /// `n` SGTIN-96 tags (company prefix 0614141, ten GTINs), 1,100 reads/s over 4 antennas.
    pub fn sgtin_population(n: usize) -> Self {
        let tags = (0..n)
            .map(|i| {
                let item = format!("0{:05}", 10_000 + i % 10);
                let serial = 1_000 + i as u64;
                // Valid by construction: 7-digit prefix, 6-digit item reference, small serial.
                encode_sgtin96(1, "0614141", &item, serial)
                    .map(|b| b.to_vec())
                    .unwrap_or_default()
            })
            .collect();
        SimConfig {
            tags,
            reads_per_second: 1_100,
            antennas: vec![1, 2, 3, 4],
            max_tags_per_report: 64,
            tick: Duration::from_millis(5),
            seed: 0x5eed,
        }
    }
}

/// Counters of the simulator, over all sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Sessions accepted.
    pub sessions: u64,
    /// Connections refused because a session was active.
    pub refused: u64,
    /// Tag reads sent (sum of TagSeenCount).
    pub reads_sent: u64,
    /// RO_ACCESS_REPORT messages sent.
    pub reports_sent: u64,
    /// KEEPALIVEs sent.
    pub keepalives_sent: u64,
    /// KEEPALIVE_ACKs received.
    pub keepalive_acks: u64,
    /// STOP_ROSPEC received.
    pub stop_rospec: u64,
    /// DELETE_ROSPEC received.
    pub delete_rospec: u64,
    /// CLOSE_CONNECTION received.
    pub close_connection: u64,
    /// Messages that did not decode, or streams that lost framing.
    pub garbage: u64,
}

#[derive(Debug, Default)]
struct SimState {
    stats: SimStats,
    sent: HashMap<Vec<u8>, u64>,
}

#[derive(Debug)]
struct Shared {
    config: SimConfig,
    shutdown: AtomicBool,
    silent: AtomicBool,
    busy: AtomicBool,
    state: Mutex<SimState>,
}

impl Shared {
    /// The state; a panic elsewhere while holding the lock does not poison the simulator.
    fn state(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A simulated LLRP reader serving on a TCP socket; stops when dropped.
#[derive(Debug)]
pub struct SimReader {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl SimReader {
    /// Starts a reader on `127.0.0.1` with an ephemeral port.
    pub fn start(config: SimConfig) -> io::Result<Self> {
        SimReader::bind("127.0.0.1:0", config)
    }

    /// Starts a reader on `addr` (e.g. `0.0.0.0:5084`).
    pub fn bind(addr: impl ToSocketAddrs, config: SimConfig) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            shutdown: AtomicBool::new(false),
            silent: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            state: Mutex::new(SimState::default()),
        });
        let s = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("llrp-sim".into())
            .spawn(move || accept_loop(&s, &listener))?;
        Ok(SimReader {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Counters so far.
    pub fn stats(&self) -> SimStats {
        self.shared.state().stats
    }

    /// Reads sent per EPC (sum of TagSeenCount) so far.
    pub fn sent_counts(&self) -> HashMap<Vec<u8>, u64> {
        self.shared.state().sent.clone()
    }

    /// While silent the reader sends nothing at all (no reports, no keepalives, no
    /// responses) but keeps the connection open: a hung reader.
    pub fn set_silent(&self, silent: bool) {
        self.shared.silent.store(silent, Ordering::Release);
    }

    /// Stops serving and joins the threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SimReader {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    let mut sessions: Vec<JoinHandle<()>> = Vec::new();
    let mut n: u64 = 0;
    while !shared.shutdown.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((stream, _)) => {
                n += 1;
                if shared.busy.swap(true, Ordering::AcqRel) {
                    refuse(shared, stream);
                    continue;
                }
                let s = Arc::clone(shared);
                let spawned = thread::Builder::new()
                    .name("llrp-sim-session".into())
                    .spawn(move || {
                        let _ = serve(&s, stream, n);
                        s.busy.store(false, Ordering::Release);
                    });
                match spawned {
                    Ok(h) => sessions.push(h),
                    Err(_) => shared.busy.store(false, Ordering::Release),
                }
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
        sessions.retain(|h| !h.is_finished());
    }
    for h in sessions {
        let _ = h.join();
    }
}

fn refuse(shared: &Shared, mut stream: TcpStream) {
    shared.state().stats.refused += 1;
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let ev = ReaderEvent {
        timestamp_us: now_us(),
        connection_attempt: Some(CONNECTION_EXISTS),
        connection_close: false,
    };
    let _ = stream.write_all(&Message::ReaderEventNotification(ev).encode(0));
}

/// One client session.
struct Session<'a> {
    shared: &'a Shared,
    stream: TcpStream,
    rospec: Option<RoSpec>,
    enabled: bool,
    running: bool,
    keepalive: Option<Duration>,
    last_keepalive: Instant,
    credit: f64,
    last_tick: Instant,
    cursor: usize,
    rng: u64,
    next_id: u32,
}

fn serve(shared: &Shared, stream: TcpStream, n: u64) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(shared.config.tick.max(Duration::from_millis(1))))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    shared.state().stats.sessions += 1;
    let mut s = Session {
        shared,
        stream,
        rospec: None,
        enabled: false,
        running: false,
        keepalive: None,
        last_keepalive: Instant::now(),
        credit: 0.0,
        last_tick: Instant::now(),
        cursor: 0,
        rng: (shared.config.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1,
        next_id: 1,
    };
    let ev = ReaderEvent {
        timestamp_us: now_us(),
        connection_attempt: Some(0),
        connection_close: false,
    };
    s.send_unsolicited(&Message::ReaderEventNotification(ev))?;
    let mut deframer = Deframer::new();
    let mut buf = vec![0u8; 16 * 1024];
    while !shared.shutdown.load(Ordering::Acquire) {
        match s.stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(k) => deframer.push(&buf[..k]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        loop {
            match deframer.next_message() {
                Ok(Some((h, m))) => {
                    if !s.handle(h.id, m)? {
                        return Ok(());
                    }
                }
                Ok(None) => break,
                Err(LlrpError::Version(_) | LlrpError::MessageLength(_)) => {
                    // Framing is lost: a real reader drops the connection too.
                    shared.state().stats.garbage += 1;
                    return Ok(());
                }
                Err(e) => {
                    shared.state().stats.garbage += 1;
                    let status = LlrpStatus {
                        code: M_PARAMETER_ERROR,
                        description: e.to_string(),
                    };
                    s.send_reply(&Message::ErrorMessage(status), 0)?;
                }
            }
        }
        s.tick()?;
    }
    Ok(())
}

impl Session<'_> {
    fn silent(&self) -> bool {
        self.shared.silent.load(Ordering::Acquire)
    }

    fn send_reply(&mut self, m: &Message, id: u32) -> io::Result<()> {
        if self.silent() {
            return Ok(());
        }
        self.stream.write_all(&m.encode(id))
    }

    fn send_unsolicited(&mut self, m: &Message) -> io::Result<()> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.send_reply(m, id)
    }

    fn respond(&mut self, request: u16, id: u32, status: LlrpStatus) -> io::Result<()> {
        let msg_type = match request {
            msg::SET_READER_CONFIG => msg::SET_READER_CONFIG_RESPONSE,
            msg::CLOSE_CONNECTION => msg::CLOSE_CONNECTION_RESPONSE,
            t => t + 10,
        };
        self.send_reply(&Message::Response { msg_type, status }, id)
    }

    /// Handles one client message; `Ok(false)` ends the session.
    fn handle(&mut self, id: u32, m: Message) -> io::Result<bool> {
        let ok = LlrpStatus::success();
        let not_found = || LlrpStatus {
            code: M_FIELD_ERROR,
            description: "no such ROSpec".into(),
        };
        let known =
            |spec: &Option<RoSpec>, rid: u32| spec.as_ref().is_some_and(|s| s.rospec_id == rid);
        match m {
            Message::GetReaderCapabilities => {
                let caps = Capabilities {
                    max_antennas: self.shared.config.antennas.len() as u16,
                    has_utc_clock: true,
                    manufacturer: 0,
                    model: 0,
                    firmware: "sim-1".into(),
                };
                let resp = Message::GetReaderCapabilitiesResponse {
                    status: ok,
                    capabilities: Some(caps),
                };
                self.send_reply(&resp, id)?;
            }
            Message::SetReaderConfig {
                reset_to_factory_default,
                keepalive_ms,
            } => {
                if reset_to_factory_default {
                    self.rospec = None;
                    self.enabled = false;
                    self.running = false;
                }
                self.keepalive = keepalive_ms.map(|ms| Duration::from_millis(ms.into()));
                self.last_keepalive = Instant::now();
                self.respond(msg::SET_READER_CONFIG, id, ok)?;
            }
            Message::AddRospec(spec) => {
                self.rospec = Some(spec);
                self.enabled = false;
                self.running = false;
                self.respond(msg::ADD_ROSPEC, id, ok)?;
            }
            Message::EnableRospec(rid) => {
                let status = if known(&self.rospec, rid) {
                    ok
                } else {
                    not_found()
                };
                self.enabled = status.is_success();
                self.respond(msg::ENABLE_ROSPEC, id, status)?;
            }
            Message::StartRospec(rid) => {
                let status = if known(&self.rospec, rid) && self.enabled {
                    ok
                } else {
                    not_found()
                };
                if status.is_success() {
                    self.running = true;
                    self.credit = 0.0;
                    self.last_tick = Instant::now();
                }
                self.respond(msg::START_ROSPEC, id, status)?;
            }
            Message::StopRospec(rid) => {
                self.shared.state().stats.stop_rospec += 1;
                let status = if known(&self.rospec, rid) {
                    ok
                } else {
                    not_found()
                };
                self.running = false;
                self.respond(msg::STOP_ROSPEC, id, status)?;
            }
            Message::DeleteRospec(rid) => {
                self.shared.state().stats.delete_rospec += 1;
                let status = if rid == 0 || known(&self.rospec, rid) {
                    ok
                } else {
                    not_found()
                };
                if status.is_success() {
                    self.rospec = None;
                    self.enabled = false;
                    self.running = false;
                }
                self.respond(msg::DELETE_ROSPEC, id, status)?;
            }
            Message::CloseConnection => {
                self.shared.state().stats.close_connection += 1;
                self.respond(msg::CLOSE_CONNECTION, id, ok)?;
                return Ok(false);
            }
            Message::KeepaliveAck => self.shared.state().stats.keepalive_acks += 1,
            other => {
                let status = LlrpStatus {
                    code: M_UNSUPPORTED_MESSAGE,
                    description: format!("message type {} not supported", other.msg_type()),
                };
                self.send_reply(&Message::ErrorMessage(status), id)?;
            }
        }
        Ok(true)
    }

    fn next_rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Sends the reads and keepalive that are due.
    fn tick(&mut self) -> io::Result<()> {
        let now = Instant::now();
        let dt = now.duration_since(self.last_tick).as_secs_f64();
        self.last_tick = now;
        if self.silent() {
            self.credit = 0.0;
            return Ok(());
        }
        if let Some(period) = self.keepalive.filter(|p| !p.is_zero()) {
            if now.duration_since(self.last_keepalive) >= period {
                self.last_keepalive = now;
                self.shared.state().stats.keepalives_sent += 1;
                self.send_unsolicited(&Message::Keepalive)?;
            }
        }
        let Some(spec) = self.rospec.as_ref().filter(|_| self.running) else {
            return Ok(());
        };
        let cfg = &self.shared.config;
        if cfg.tags.is_empty() {
            return Ok(());
        }
        let rate = f64::from(cfg.reads_per_second);
        // At most half a second of reads at once, so a stall does not become a flood.
        self.credit = (self.credit + rate * dt).min(rate * 0.5 + 1.0);
        let due = self.credit.floor() as usize;
        self.credit -= due as f64;
        let n_report = usize::from(spec.report_every_n_tags);
        let batch = if n_report == 0 {
            cfg.max_tags_per_report
        } else {
            n_report
        }
        .clamp(1, cfg.max_tags_per_report.max(1));
        let content = spec.content;
        let antennas = match spec.antennas.as_slice() {
            [] | [0] => cfg.antennas.clone(),
            list => list.to_vec(),
        };
        let mut left = due;
        while left > 0 {
            let k = left.min(batch);
            left -= k;
            let ts = now_us();
            let mut tags = Vec::with_capacity(k);
            for _ in 0..k {
                let r = self.next_rand();
                let epc = cfg.tags[self.cursor % cfg.tags.len()].clone();
                self.cursor = self.cursor.wrapping_add(1);
                let antenna = antennas.get(r as usize % antennas.len().max(1)).copied();
                let rssi = -35 - ((r >> 16) % 40) as i8;
                let on = |bit: u16| content & bit != 0;
                tags.push(TagReport {
                    epc,
                    rospec_id: None,
                    antenna_id: antenna.filter(|_| on(CONTENT_ANTENNA_ID)),
                    peak_rssi: Some(rssi).filter(|_| on(CONTENT_PEAK_RSSI)),
                    channel_index: None,
                    first_seen_utc: Some(ts).filter(|_| on(CONTENT_FIRST_SEEN)),
                    last_seen_utc: Some(ts).filter(|_| on(CONTENT_LAST_SEEN)),
                    tag_seen_count: Some(1).filter(|_| on(CONTENT_TAG_SEEN_COUNT)),
                });
            }
            {
                let mut st = self.shared.state();
                st.stats.reports_sent += 1;
                st.stats.reads_sent += k as u64;
                for t in &tags {
                    *st.sent.entry(t.epc.clone()).or_insert(0) += 1;
                }
            }
            self.send_unsolicited(&Message::RoAccessReport(tags))?;
        }
        Ok(())
    }
}

/// Microseconds since the Unix epoch.
fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}
