//! A blocking LLRP client over TCP.
//!
//! [`LlrpClient::connect`] runs the session set-up as numbered steps:
//! 1. TCP connect (bounded by [`ClientConfig::connect_timeout`]).
//! 2. Wait for READER_EVENT_NOTIFICATION with ConnectionAttemptEvent; a status other than
//!    success is [`ClientError::ConnectionRefused`].
//! 3. GET_READER_CAPABILITIES.
//! 4. SET_READER_CONFIG with ResetToFactoryDefault (if configured) and a periodic
//!    KeepaliveSpec.
//! 5. DELETE_ROSPEC of all ROSpecs (its status is ignored: there may be none).
//! 6. ADD_ROSPEC, ENABLE_ROSPEC, START_ROSPEC.
//!
//! Every request waits for the response with the same message ID, bounded by
//! [`ClientConfig::response_timeout`]; a response whose LLRPStatus is not success is
//! [`ClientError::Status`]. Tag reads that arrive meanwhile are queued, never dropped.
//!
//! Then [`LlrpClient::next_read`], [`LlrpClient::reads`] (an iterator) or
//! [`LlrpClient::run`] (a callback) deliver [`TagReport`]s until the [`StopHandle`] is
//! triggered. Every KEEPALIVE is answered with KEEPALIVE_ACK. A reader that sends nothing for
//! [`ClientConfig::dead_after`] (no reports, no keepalives) is [`ClientError::ReaderSilent`].
//!
//! [`LlrpClient::stop`] stops cleanly (STOP_ROSPEC, DELETE_ROSPEC, CLOSE_CONNECTION) and
//! returns the reads that arrived during the stop. Reconnecting is the caller's loop; use
//! [`Backoff`] for its jittered exponential delays.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use thiserror::Error;

use super::llrp::{
    msg, Capabilities, Deframer, LlrpError, LlrpStatus, Message, RoSpec, TagReport,
    CONTENT_ANTENNA_ID, CONTENT_FIRST_SEEN, CONTENT_LAST_SEEN, CONTENT_PEAK_RSSI,
    CONTENT_TAG_SEEN_COUNT,
};

/// Why a session failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The address resolved to nothing.
    #[error("cannot resolve reader address {0}")]
    Resolve(String),
    /// Socket error (connect, read, write).
    #[error("I/O error talking to the reader")]
    Io(#[from] io::Error),
    /// The reader sent bytes that are not LLRP.
    #[error("malformed LLRP from the reader")]
    Protocol(#[from] LlrpError),
    /// The reader refused the session (ConnectionAttemptEvent status).
    #[error("reader refused the connection (ConnectionAttemptEvent status {0})")]
    ConnectionRefused(u16),
    /// A request was answered with a status other than success.
    #[error("{request} failed with status {}: {}", status.code, status.description)]
    Status {
        /// The request.
        request: &'static str,
        /// The reader's status.
        status: LlrpStatus,
    },
    /// The reader answered a request with ERROR_MESSAGE.
    #[error("reader rejected {request} (ERROR_MESSAGE status {})", status.code)]
    Rejected {
        /// The request.
        request: &'static str,
        /// The reader's status.
        status: LlrpStatus,
    },
    /// No answer in time.
    #[error("no {what} within {timeout:?}")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// How long we waited.
        timeout: Duration,
    },
    /// Nothing at all (no reports, no keepalives) arrived for this long.
    #[error("reader silent for {0:?}: presumed dead")]
    ReaderSilent(Duration),
    /// The reader closed the connection.
    #[error("reader closed the connection")]
    Closed,
}

/// Settings of a session. `Default` suits a fixed reader on the store LAN.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Bound on the TCP connect.
    pub connect_timeout: Duration,
    /// Bound on each request/response exchange and on the connection event.
    pub response_timeout: Duration,
    /// Keepalive period asked of the reader (KeepaliveSpec).
    pub keepalive_interval: Duration,
    /// Silence after which the reader is presumed dead; keep it a few keepalive periods.
    pub dead_after: Duration,
    /// How often a waiting [`LlrpClient::next_read`] checks the stop handle.
    pub poll_interval: Duration,
    /// Send ResetToFactoryDefault before configuring.
    pub reset_to_factory_default: bool,
    /// ROSpecID to use (not 0).
    pub rospec_id: u32,
    /// Antennas to inventory; `[0]` means all.
    pub antennas: Vec<u16>,
    /// AISpec duration; `None` = run until stopped.
    pub ai_duration: Option<Duration>,
    /// Report every N tags (and at the end of each AISpec); 0 = only at the end.
    pub report_every_n_tags: u16,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(5),
            keepalive_interval: Duration::from_secs(5),
            dead_after: Duration::from_secs(16),
            poll_interval: Duration::from_millis(100),
            reset_to_factory_default: true,
            rospec_id: 1,
            antennas: vec![0],
            ai_duration: None,
            report_every_n_tags: 1,
        }
    }
}

impl ClientConfig {
    /// The ROSpec this configuration asks for: null start trigger (START_ROSPEC starts it),
    /// null ROSpec stop trigger, and a report of antenna, peak RSSI, first/last seen and seen
    /// count for every tag.
    pub fn rospec(&self) -> RoSpec {
        RoSpec {
            rospec_id: self.rospec_id,
            priority: 0,
            immediate_start: false,
            duration_ms: None,
            antennas: self.antennas.clone(),
            ai_duration_ms: self.ai_duration.map(duration_ms),
            inventory_parameter_spec_id: 1,
            report_every_n_tags: self.report_every_n_tags,
            content: CONTENT_ANTENNA_ID
                | CONTENT_PEAK_RSSI
                | CONTENT_FIRST_SEEN
                | CONTENT_LAST_SEEN
                | CONTENT_TAG_SEEN_COUNT,
        }
    }
}

fn duration_ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// Stops a running [`LlrpClient`] read loop from another thread.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// Asks the read loop to return; it does within one poll interval.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Counters of a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Messages received.
    pub messages: u64,
    /// RO_ACCESS_REPORT messages received.
    pub reports: u64,
    /// TagReportData received.
    pub reads: u64,
    /// KEEPALIVEs answered with KEEPALIVE_ACK.
    pub keepalives: u64,
}

/// A session with one LLRP reader. See the module docs for the steps.
#[derive(Debug)]
pub struct LlrpClient {
    stream: TcpStream,
    peer: SocketAddr,
    config: ClientConfig,
    deframer: Deframer,
    pending: VecDeque<TagReport>,
    next_id: u32,
    last_rx: Instant,
    stop: StopHandle,
    stats: ClientStats,
    capabilities: Option<Capabilities>,
    read_buf: Vec<u8>,
}

impl LlrpClient {
    /// Connects to `addr` (e.g. `"reader-1:5084"`) and starts the inventory.
    pub fn connect(addr: impl ToSocketAddrs, config: ClientConfig) -> Result<Self, ClientError> {
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        let mut last_err = None;
        let mut stream = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, config.connect_timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let stream = match (stream, last_err) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(e.into()),
            (None, None) => return Err(ClientError::Resolve(format!("{addrs:?}"))),
        };
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(config.poll_interval.max(Duration::from_millis(1))))?;
        stream.set_write_timeout(Some(config.response_timeout))?;
        let peer = stream.peer_addr()?;
        let mut c = LlrpClient {
            stream,
            peer,
            config,
            deframer: Deframer::new(),
            pending: VecDeque::new(),
            next_id: 1,
            last_rx: Instant::now(),
            stop: StopHandle::default(),
            stats: ClientStats::default(),
            capabilities: None,
            read_buf: vec![0; 64 * 1024],
        };
        c.start_session()?;
        Ok(c)
    }

    fn start_session(&mut self) -> Result<(), ClientError> {
        // Step 2: the reader speaks first.
        let deadline = Instant::now() + self.config.response_timeout;
        loop {
            match self.recv_until(deadline, "ConnectionAttemptEvent")? {
                Message::ReaderEventNotification(ev) => match ev.connection_attempt {
                    Some(0) => break,
                    Some(status) => return Err(ClientError::ConnectionRefused(status)),
                    None => {}
                },
                other => self.handle_unsolicited(other)?,
            }
        }
        // Step 3.
        if let Message::GetReaderCapabilitiesResponse { capabilities, .. } =
            self.request(Message::GetReaderCapabilities, "GET_READER_CAPABILITIES")?
        {
            self.capabilities = capabilities;
        }
        // Step 4.
        let config = Message::SetReaderConfig {
            reset_to_factory_default: self.config.reset_to_factory_default,
            keepalive_ms: Some(duration_ms(self.config.keepalive_interval)),
        };
        self.request(config, "SET_READER_CONFIG")?;
        // Step 5: a failure only means there was nothing to delete.
        match self.request(Message::DeleteRospec(0), "DELETE_ROSPEC") {
            Ok(_) | Err(ClientError::Status { .. }) => {}
            Err(e) => return Err(e),
        }
        // Step 6.
        let id = self.config.rospec_id;
        self.request(Message::AddRospec(self.config.rospec()), "ADD_ROSPEC")?;
        self.request(Message::EnableRospec(id), "ENABLE_ROSPEC")?;
        self.request(Message::StartRospec(id), "START_ROSPEC")?;
        Ok(())
    }

    /// The reader's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// GeneralDeviceCapabilities from the session set-up, if the reader sent them.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.capabilities.as_ref()
    }

    /// Counters of this session.
    pub fn stats(&self) -> ClientStats {
        self.stats
    }

    /// A handle that makes the read loop return (`Ok(None)` / end of iteration).
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// The next tag read; `Ok(None)` once the stop handle is triggered. Blocks, answering
    /// keepalives, until a read arrives, the reader falls silent or the connection fails.
    pub fn next_read(&mut self) -> Result<Option<TagReport>, ClientError> {
        loop {
            if let Some(r) = self.pending.pop_front() {
                return Ok(Some(r));
            }
            if self.stop.is_stopped() {
                return Ok(None);
            }
            if let Some(m) = self.poll()? {
                self.handle_unsolicited(m)?;
            }
        }
    }

    /// The next tag read if one arrives within `timeout`; `Ok(None)` when none did, or once the
    /// stop handle is triggered (tell them apart with [`LlrpClient::is_stopped`]). Keepalives
    /// are answered meanwhile, so a caller can close time windows while the field is quiet
    /// without the reader being taken for dead.
    pub fn next_read_within(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<TagReport>, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.pending.pop_front() {
                return Ok(Some(r));
            }
            if self.stop.is_stopped() || Instant::now() >= deadline {
                return Ok(None);
            }
            if let Some(m) = self.poll()? {
                self.handle_unsolicited(m)?;
            }
        }
    }

    /// Whether the stop handle was triggered.
    pub fn is_stopped(&self) -> bool {
        self.stop.is_stopped()
    }

    /// Tag reads as an iterator; it ends when the stop handle is triggered, or after
    /// yielding the first error.
    pub fn reads(&mut self) -> Reads<'_> {
        Reads {
            client: self,
            done: false,
        }
    }

    /// Calls `f` for every tag read until the stop handle is triggered.
    pub fn run(&mut self, mut f: impl FnMut(TagReport)) -> Result<(), ClientError> {
        while let Some(r) = self.next_read()? {
            f(r);
        }
        Ok(())
    }

    /// Stops the inventory and closes the session: STOP_ROSPEC, DELETE_ROSPEC,
    /// CLOSE_CONNECTION. Returns the reads still queued or received during the stop.
    pub fn stop(mut self) -> Result<Vec<TagReport>, ClientError> {
        let id = self.config.rospec_id;
        self.request(Message::StopRospec(id), "STOP_ROSPEC")?;
        self.request(Message::DeleteRospec(id), "DELETE_ROSPEC")?;
        self.request(Message::CloseConnection, "CLOSE_CONNECTION")?;
        let _ = self.stream.shutdown(Shutdown::Both);
        Ok(self.pending.drain(..).collect())
    }

    /// Sends `m` and waits for the response with its message ID.
    fn request(&mut self, m: Message, name: &'static str) -> Result<Message, ClientError> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let expected = response_type(m.msg_type());
        self.send(&m.encode(id))?;
        let deadline = Instant::now() + self.config.response_timeout;
        loop {
            let (hid, resp) = self.recv_with_id(deadline, name)?;
            if hid == id && resp.msg_type() == expected {
                let status = match &resp {
                    Message::Response { status, .. }
                    | Message::GetReaderCapabilitiesResponse { status, .. } => Some(status),
                    _ => None,
                };
                if let Some(status) = status.filter(|s| !s.is_success()) {
                    return Err(ClientError::Status {
                        request: name,
                        status: status.clone(),
                    });
                }
                return Ok(resp);
            }
            if let (true, Message::ErrorMessage(status)) = (hid == id, &resp) {
                return Err(ClientError::Rejected {
                    request: name,
                    status: status.clone(),
                });
            }
            self.handle_unsolicited(resp)?;
        }
    }

    /// Handles a message that is not the awaited response.
    fn handle_unsolicited(&mut self, m: Message) -> Result<(), ClientError> {
        match m {
            Message::RoAccessReport(tags) => {
                self.stats.reports += 1;
                self.stats.reads += tags.len() as u64;
                let now = now_us();
                self.pending.extend(tags.into_iter().map(|mut t| {
                    // Readers without a UTC clock: stamp the read on arrival.
                    if t.first_seen_utc.is_none() && t.last_seen_utc.is_none() {
                        t.first_seen_utc = Some(now);
                        t.last_seen_utc = Some(now);
                    }
                    t
                }));
            }
            Message::ReaderEventNotification(ev) if ev.connection_close => {
                return Err(ClientError::Closed)
            }
            // Keepalives are answered where they are received; other events, stray responses
            // and unmodelled messages need nothing from the client.
            _ => {}
        }
        Ok(())
    }

    fn recv_until(
        &mut self,
        deadline: Instant,
        what: &'static str,
    ) -> Result<Message, ClientError> {
        self.recv_with_id(deadline, what).map(|(_, m)| m)
    }

    /// The next message other than KEEPALIVE (answered here), before `deadline`.
    fn recv_with_id(
        &mut self,
        deadline: Instant,
        what: &'static str,
    ) -> Result<(u32, Message), ClientError> {
        loop {
            if let Some(m) = self.next_buffered()? {
                return Ok(m);
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout {
                    what,
                    timeout: self.config.response_timeout,
                });
            }
            self.fill()?;
        }
    }

    /// One read from the socket and the message it completes, if any.
    fn poll(&mut self) -> Result<Option<Message>, ClientError> {
        if let Some((_, m)) = self.next_buffered()? {
            return Ok(Some(m));
        }
        self.fill()?;
        Ok(self.next_buffered()?.map(|(_, m)| m))
    }

    /// Decodes the next buffered message; answers KEEPALIVE and returns the rest.
    fn next_buffered(&mut self) -> Result<Option<(u32, Message)>, ClientError> {
        while let Some((h, m)) = self.deframer.next_message()? {
            self.stats.messages += 1;
            if m == Message::Keepalive {
                self.send(&Message::KeepaliveAck.encode(h.id))?;
                self.stats.keepalives += 1;
                continue;
            }
            return Ok(Some((h.id, m)));
        }
        Ok(None)
    }

    /// Reads once (bounded by the poll interval); checks the reader is alive.
    fn fill(&mut self) -> Result<(), ClientError> {
        match self.stream.read(&mut self.read_buf) {
            Ok(0) => Err(ClientError::Closed),
            Ok(n) => {
                self.last_rx = Instant::now();
                self.deframer.push(&self.read_buf[..n]);
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                let silent = self.last_rx.elapsed();
                if silent >= self.config.dead_after {
                    Err(ClientError::ReaderSilent(silent))
                } else {
                    Ok(())
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes)?;
        Ok(())
    }
}

/// The response type of a request type.
fn response_type(request: u16) -> u16 {
    match request {
        msg::GET_READER_CAPABILITIES => msg::GET_READER_CAPABILITIES_RESPONSE,
        msg::SET_READER_CONFIG => msg::SET_READER_CONFIG_RESPONSE,
        msg::CLOSE_CONNECTION => msg::CLOSE_CONNECTION_RESPONSE,
        // ADD/DELETE/START/STOP/ENABLE_ROSPEC: the response type is the request's plus 10.
        t => t + 10,
    }
}

/// Microseconds since the Unix epoch.
fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Iterator over tag reads; see [`LlrpClient::reads`].
#[derive(Debug)]
pub struct Reads<'a> {
    client: &'a mut LlrpClient,
    done: bool,
}

impl Iterator for Reads<'_> {
    type Item = Result<TagReport, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.client.next_read() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Jittered exponential backoff for the caller's reconnect loop.
///
/// The n-th delay is uniformly random in `[cap/2, cap]` with `cap = min(max, base·2ⁿ)`, so
/// readers that lost their host together do not reconnect in the same instant.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// Backoff from `base` doubling up to `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        let seed = RandomState::new().build_hasher().finish() | 1;
        Backoff {
            base,
            max: max.max(base),
            attempt: 0,
            rng: seed,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let half = cap / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(if nanos == 0 {
            0
        } else {
            self.rng % (nanos + 1)
        })
    }

    /// Starts over after a session that worked.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let d: Vec<_> = (0..8).map(|_| b.next_delay()).collect();
        assert!(d[0] >= Duration::from_millis(50) && d[0] <= Duration::from_millis(100));
        assert!(d[3] >= Duration::from_millis(400) && d[3] <= Duration::from_millis(800));
        assert!(d[7] >= Duration::from_secs(1) && d[7] <= Duration::from_secs(2));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
        // Two clients do not produce the same sequence.
        let mut a = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut c = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let sa: Vec<_> = (0..5).map(|_| a.next_delay()).collect();
        let sc: Vec<_> = (0..5).map(|_| c.next_delay()).collect();
        assert_ne!(sa, sc);
    }

    #[test]
    fn response_types() {
        assert_eq!(response_type(msg::ADD_ROSPEC), msg::ADD_ROSPEC_RESPONSE);
        assert_eq!(
            response_type(msg::ENABLE_ROSPEC),
            msg::ENABLE_ROSPEC_RESPONSE
        );
        assert_eq!(
            response_type(msg::CLOSE_CONNECTION),
            msg::CLOSE_CONNECTION_RESPONSE
        );
    }
}
