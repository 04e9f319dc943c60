//! Typed LLRP messages: what an inventory client sends and what a reader answers.

use super::{msg, param, Header, LlrpError, Param, Params, Reader, Writer};

/// TagReportContentSelector bit: report the AntennaID.
pub const CONTENT_ANTENNA_ID: u16 = 1 << 12;
/// TagReportContentSelector bit: report the PeakRSSI.
pub const CONTENT_PEAK_RSSI: u16 = 1 << 10;
/// TagReportContentSelector bit: report the first-seen timestamp.
pub const CONTENT_FIRST_SEEN: u16 = 1 << 9;
/// TagReportContentSelector bit: report the last-seen timestamp.
pub const CONTENT_LAST_SEEN: u16 = 1 << 8;
/// TagReportContentSelector bit: report the TagSeenCount.
pub const CONTENT_TAG_SEEN_COUNT: u16 = 1 << 7;

/// StatusCode of LLRPStatus meaning success (M_Success).
const M_SUCCESS: u16 = 0;
/// ProtocolID of EPCglobal Class 1 Gen 2 in an InventoryParameterSpec.
const PROTOCOL_EPC_C1G2: u8 = 1;
/// ROReportTrigger "upon N tags or end of AISpec".
const REPORT_N_TAGS_OR_END_OF_AISPEC: u8 = 1;
/// Trigger type "null" of start and stop triggers.
const TRIGGER_NULL: u8 = 0;
/// ROSpecStartTrigger type "immediate"; stop trigger type "duration".
const TRIGGER_IMMEDIATE_OR_DURATION: u8 = 1;
/// KeepaliveSpec trigger type "periodic".
const KEEPALIVE_PERIODIC: u8 = 1;

/// The LLRPStatus parameter every response carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlrpStatus {
    /// StatusCode; 0 is M_Success.
    pub code: u16,
    /// ErrorDescription (UTF-8; invalid sequences replaced).
    pub description: String,
}

impl LlrpStatus {
    /// M_Success with no description.
    pub fn success() -> Self {
        LlrpStatus {
            code: M_SUCCESS,
            description: String::new(),
        }
    }

    /// Whether the status is M_Success.
    pub fn is_success(&self) -> bool {
        self.code == M_SUCCESS
    }
}

/// What GeneralDeviceCapabilities says about the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// MaxNumberOfAntennaSupported.
    pub max_antennas: u16,
    /// HasUTCClockCapability.
    pub has_utc_clock: bool,
    /// DeviceManufacturerName (an IANA private enterprise number).
    pub manufacturer: u32,
    /// ModelName.
    pub model: u32,
    /// ReaderFirmwareVersion.
    pub firmware: String,
}

/// A READER_EVENT_NOTIFICATION, reduced to the events a client acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderEvent {
    /// UTCTimestamp (or Uptime) in microseconds.
    pub timestamp_us: u64,
    /// ConnectionAttemptEvent status: 0 success, 1 and 2 another connection exists, 3 failed,
    /// 4 another connection was attempted.
    pub connection_attempt: Option<u16>,
    /// A ConnectionCloseEvent: the reader is closing the connection.
    pub connection_close: bool,
}

/// A minimal ROSpec: one AISpec over some antennas with a Gen2 inventory, an ROReportSpec
/// asking for reports every N tags or at the end of the AISpec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoSpec {
    /// ROSpecID (not 0).
    pub rospec_id: u32,
    /// Priority 0..=7, 0 highest.
    pub priority: u8,
    /// Start trigger: immediate if true, null (start with START_ROSPEC) if false.
    pub immediate_start: bool,
    /// ROSpecStopTrigger: a duration in ms, or null (run until STOP_ROSPEC).
    pub duration_ms: Option<u32>,
    /// AntennaIDs of the AISpec; `[0]` means all antennas.
    pub antennas: Vec<u16>,
    /// AISpecStopTrigger: a duration in ms, or null.
    pub ai_duration_ms: Option<u32>,
    /// InventoryParameterSpecID.
    pub inventory_parameter_spec_id: u16,
    /// N of the report trigger "upon N tags or end of AISpec"; 0 = only at the end.
    pub report_every_n_tags: u16,
    /// TagReportContentSelector bits (`CONTENT_*`).
    pub content: u16,
}

/// One TagReportData: a tag and what the reader was asked to report about it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TagReport {
    /// EPC bytes (from EPC-96 or EPCData).
    pub epc: Vec<u8>,
    /// ROSpecID.
    pub rospec_id: Option<u32>,
    /// AntennaID.
    pub antenna_id: Option<u16>,
    /// PeakRSSI in dBm.
    pub peak_rssi: Option<i8>,
    /// ChannelIndex.
    pub channel_index: Option<u16>,
    /// FirstSeenTimestampUTC in µs since the Unix epoch.
    pub first_seen_utc: Option<u64>,
    /// LastSeenTimestampUTC in µs since the Unix epoch.
    pub last_seen_utc: Option<u64>,
    /// TagSeenCount.
    pub tag_seen_count: Option<u16>,
}

/// An LLRP message of the kinds this module models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// GET_READER_CAPABILITIES asking for all capabilities.
    GetReaderCapabilities,
    /// GET_READER_CAPABILITIES_RESPONSE.
    GetReaderCapabilitiesResponse {
        /// Status.
        status: LlrpStatus,
        /// GeneralDeviceCapabilities, if present.
        capabilities: Option<Capabilities>,
    },
    /// SET_READER_CONFIG.
    SetReaderConfig {
        /// ResetToFactoryDefault.
        reset_to_factory_default: bool,
        /// KeepaliveSpec: periodic with this interval in ms, or none sent.
        keepalive_ms: Option<u32>,
    },
    /// ADD_ROSPEC.
    AddRospec(RoSpec),
    /// ENABLE_ROSPEC of an ROSpecID.
    EnableRospec(u32),
    /// START_ROSPEC of an ROSpecID.
    StartRospec(u32),
    /// STOP_ROSPEC of an ROSpecID.
    StopRospec(u32),
    /// DELETE_ROSPEC of an ROSpecID (0 = all).
    DeleteRospec(u32),
    /// A response that carries only LLRPStatus (SET_READER_CONFIG_RESPONSE, the ROSpec
    /// responses, CLOSE_CONNECTION_RESPONSE).
    Response {
        /// Message type of the response.
        msg_type: u16,
        /// Status.
        status: LlrpStatus,
    },
    /// READER_EVENT_NOTIFICATION.
    ReaderEventNotification(ReaderEvent),
    /// RO_ACCESS_REPORT with its TagReportData.
    RoAccessReport(Vec<TagReport>),
    /// KEEPALIVE from the reader.
    Keepalive,
    /// KEEPALIVE_ACK from the client.
    KeepaliveAck,
    /// CLOSE_CONNECTION.
    CloseConnection,
    /// ERROR_MESSAGE.
    ErrorMessage(LlrpStatus),
    /// A well-framed message of a type not modelled here; its body is ignored.
    Other {
        /// Message type.
        msg_type: u16,
    },
}

/// Whether `t` is a response that carries only LLRPStatus.
fn is_status_response(t: u16) -> bool {
    matches!(
        t,
        msg::SET_READER_CONFIG_RESPONSE
            | msg::CLOSE_CONNECTION_RESPONSE
            | msg::ADD_ROSPEC_RESPONSE
            | msg::DELETE_ROSPEC_RESPONSE
            | msg::START_ROSPEC_RESPONSE
            | msg::STOP_ROSPEC_RESPONSE
            | msg::ENABLE_ROSPEC_RESPONSE
    )
}

impl Message {
    /// The message type number.
    pub fn msg_type(&self) -> u16 {
        match self {
            Message::GetReaderCapabilities => msg::GET_READER_CAPABILITIES,
            Message::GetReaderCapabilitiesResponse { .. } => msg::GET_READER_CAPABILITIES_RESPONSE,
            Message::SetReaderConfig { .. } => msg::SET_READER_CONFIG,
            Message::AddRospec(_) => msg::ADD_ROSPEC,
            Message::EnableRospec(_) => msg::ENABLE_ROSPEC,
            Message::StartRospec(_) => msg::START_ROSPEC,
            Message::StopRospec(_) => msg::STOP_ROSPEC,
            Message::DeleteRospec(_) => msg::DELETE_ROSPEC,
            Message::Response { msg_type, .. } | Message::Other { msg_type } => *msg_type,
            Message::ReaderEventNotification(_) => msg::READER_EVENT_NOTIFICATION,
            Message::RoAccessReport(_) => msg::RO_ACCESS_REPORT,
            Message::Keepalive => msg::KEEPALIVE,
            Message::KeepaliveAck => msg::KEEPALIVE_ACK,
            Message::CloseConnection => msg::CLOSE_CONNECTION,
            Message::ErrorMessage(_) => msg::ERROR_MESSAGE,
        }
    }

    /// Encodes the message with message ID `id`. `Other` encodes with an empty body.
    pub fn encode(&self, id: u32) -> Vec<u8> {
        let mut w = Writer::message(self.msg_type(), id);
        match self {
            Message::GetReaderCapabilities => {
                w.u8(0); // RequestedData: all
            }
            Message::GetReaderCapabilitiesResponse {
                status,
                capabilities,
            } => {
                write_status(&mut w, status);
                if let Some(c) = capabilities {
                    w.tlv(param::GENERAL_DEVICE_CAPABILITIES, |w| {
                        let flags = if c.has_utc_clock { 1 << 14 } else { 0 };
                        w.u16(c.max_antennas)
                            .u16(flags)
                            .u32(c.manufacturer)
                            .u32(c.model);
                        let fw = utf8_prefix(&c.firmware, 1024);
                        w.u16(fw.len() as u16).bytes(fw.as_bytes());
                    });
                }
            }
            Message::SetReaderConfig {
                reset_to_factory_default,
                keepalive_ms,
            } => {
                w.u8(if *reset_to_factory_default { 0x80 } else { 0 });
                if let Some(ms) = keepalive_ms {
                    w.tlv(param::KEEPALIVE_SPEC, |w| {
                        w.u8(KEEPALIVE_PERIODIC).u32(*ms);
                    });
                }
            }
            Message::AddRospec(spec) => write_rospec(&mut w, spec),
            Message::EnableRospec(id)
            | Message::StartRospec(id)
            | Message::StopRospec(id)
            | Message::DeleteRospec(id) => {
                w.u32(*id);
            }
            Message::Response { status, .. } | Message::ErrorMessage(status) => {
                write_status(&mut w, status)
            }
            Message::ReaderEventNotification(ev) => {
                w.tlv(param::READER_EVENT_NOTIFICATION_DATA, |w| {
                    w.tlv(param::UTC_TIMESTAMP, |w| {
                        w.u64(ev.timestamp_us);
                    });
                    if let Some(status) = ev.connection_attempt {
                        w.tlv(param::CONNECTION_ATTEMPT_EVENT, |w| {
                            w.u16(status);
                        });
                    }
                    if ev.connection_close {
                        w.tlv(param::CONNECTION_CLOSE_EVENT, |_| {});
                    }
                });
            }
            Message::RoAccessReport(tags) => {
                for t in tags {
                    write_tag_report(&mut w, t);
                }
            }
            Message::Keepalive
            | Message::KeepaliveAck
            | Message::CloseConnection
            | Message::Other { .. } => {}
        }
        w.finish()
    }

    /// Decodes one whole message (as found by [`super::split_frame`]).
    pub fn decode(frame: &[u8]) -> Result<(Header, Message), LlrpError> {
        let header = Header::parse(frame)?.ok_or(LlrpError::Truncated {
            what: "message header",
            needed: super::HEADER_LEN,
            available: frame.len(),
        })?;
        if header.length as usize != frame.len() {
            return Err(LlrpError::FrameLength {
                declared: header.length,
                actual: frame.len(),
            });
        }
        let body = &frame[super::HEADER_LEN..];
        let mut r = Reader::new(body, "message body");
        let m = match header.msg_type {
            msg::GET_READER_CAPABILITIES => {
                r.u8()?;
                Message::GetReaderCapabilities
            }
            msg::GET_READER_CAPABILITIES_RESPONSE => {
                let mut status = None;
                let mut capabilities = None;
                for p in r.params() {
                    match p? {
                        Param::Tlv(param::LLRP_STATUS, b) => status = Some(read_status(b)?),
                        Param::Tlv(param::GENERAL_DEVICE_CAPABILITIES, b) => {
                            capabilities = Some(read_capabilities(b)?)
                        }
                        _ => {}
                    }
                }
                let status = status.ok_or(missing("GET_READER_CAPABILITIES_RESPONSE"))?;
                Message::GetReaderCapabilitiesResponse {
                    status,
                    capabilities,
                }
            }
            msg::SET_READER_CONFIG => {
                let reset_to_factory_default = r.u8()? & 0x80 != 0;
                let mut keepalive_ms = None;
                for p in r.params() {
                    if let Param::Tlv(param::KEEPALIVE_SPEC, b) = p? {
                        let mut k = Reader::new(b, "KeepaliveSpec");
                        let kind = k.u8()?;
                        let ms = k.u32()?;
                        keepalive_ms = (kind == KEEPALIVE_PERIODIC).then_some(ms);
                    }
                }
                Message::SetReaderConfig {
                    reset_to_factory_default,
                    keepalive_ms,
                }
            }
            msg::ADD_ROSPEC => {
                let mut spec = None;
                for p in r.params() {
                    if let Param::Tlv(param::ROSPEC, b) = p? {
                        spec = Some(read_rospec(b)?);
                    }
                }
                Message::AddRospec(spec.ok_or(LlrpError::MissingParam {
                    message: "ADD_ROSPEC",
                    param: "ROSpec",
                })?)
            }
            msg::ENABLE_ROSPEC => Message::EnableRospec(r.u32()?),
            msg::START_ROSPEC => Message::StartRospec(r.u32()?),
            msg::STOP_ROSPEC => Message::StopRospec(r.u32()?),
            msg::DELETE_ROSPEC => Message::DeleteRospec(r.u32()?),
            t if is_status_response(t) => Message::Response {
                msg_type: t,
                status: find_status(r.params(), "response")?,
            },
            msg::ERROR_MESSAGE => Message::ErrorMessage(find_status(r.params(), "ERROR_MESSAGE")?),
            msg::READER_EVENT_NOTIFICATION => {
                let mut ev = None;
                for p in r.params() {
                    if let Param::Tlv(param::READER_EVENT_NOTIFICATION_DATA, b) = p? {
                        ev = Some(read_reader_event(b)?);
                    }
                }
                Message::ReaderEventNotification(ev.ok_or(LlrpError::MissingParam {
                    message: "READER_EVENT_NOTIFICATION",
                    param: "ReaderEventNotificationData",
                })?)
            }
            msg::RO_ACCESS_REPORT => {
                let mut tags = Vec::new();
                for p in r.params() {
                    if let Param::Tlv(param::TAG_REPORT_DATA, b) = p? {
                        tags.push(read_tag_report(b)?);
                    }
                }
                Message::RoAccessReport(tags)
            }
            msg::KEEPALIVE => Message::Keepalive,
            msg::KEEPALIVE_ACK => Message::KeepaliveAck,
            msg::CLOSE_CONNECTION => Message::CloseConnection,
            t => Message::Other { msg_type: t },
        };
        Ok((header, m))
    }
}

fn missing(message: &'static str) -> LlrpError {
    LlrpError::MissingParam {
        message,
        param: "LLRPStatus",
    }
}

fn write_status(w: &mut Writer, s: &LlrpStatus) {
    w.tlv(param::LLRP_STATUS, |w| {
        let d = utf8_prefix(&s.description, 1024);
        w.u16(s.code).u16(d.len() as u16).bytes(d.as_bytes());
    });
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn utf8_prefix(s: &str, max: usize) -> &str {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

fn read_status(b: &[u8]) -> Result<LlrpStatus, LlrpError> {
    let mut r = Reader::new(b, "LLRPStatus");
    let code = r.u16()?;
    let n = r.u16()?;
    let description = String::from_utf8_lossy(r.take(usize::from(n))?).into_owned();
    // FieldError / ParameterError may follow; their detail is not modelled.
    Ok(LlrpStatus { code, description })
}

fn find_status(params: Params<'_>, message: &'static str) -> Result<LlrpStatus, LlrpError> {
    for p in params {
        if let Param::Tlv(param::LLRP_STATUS, b) = p? {
            return read_status(b);
        }
    }
    Err(missing(message))
}

fn read_capabilities(b: &[u8]) -> Result<Capabilities, LlrpError> {
    let mut r = Reader::new(b, "GeneralDeviceCapabilities");
    let max_antennas = r.u16()?;
    let has_utc_clock = r.u16()? & (1 << 14) != 0;
    let manufacturer = r.u32()?;
    let model = r.u32()?;
    let n = r.u16()?;
    let firmware = String::from_utf8_lossy(r.take(usize::from(n))?).into_owned();
    Ok(Capabilities {
        max_antennas,
        has_utc_clock,
        manufacturer,
        model,
        firmware,
    })
}

fn read_reader_event(b: &[u8]) -> Result<ReaderEvent, LlrpError> {
    let mut ev = ReaderEvent {
        timestamp_us: 0,
        connection_attempt: None,
        connection_close: false,
    };
    for p in Params::new(b) {
        match p? {
            Param::Tlv(param::UTC_TIMESTAMP | param::UPTIME, v) => {
                ev.timestamp_us = Reader::new(v, "timestamp").u64()?;
            }
            Param::Tlv(param::CONNECTION_ATTEMPT_EVENT, v) => {
                ev.connection_attempt = Some(Reader::new(v, "ConnectionAttemptEvent").u16()?);
            }
            Param::Tlv(param::CONNECTION_CLOSE_EVENT, _) => ev.connection_close = true,
            _ => {}
        }
    }
    Ok(ev)
}

fn trigger(duration: Option<u32>) -> (u8, u32) {
    match duration {
        Some(ms) => (TRIGGER_IMMEDIATE_OR_DURATION, ms),
        None => (TRIGGER_NULL, 0),
    }
}

fn write_rospec(w: &mut Writer, s: &RoSpec) {
    w.tlv(param::ROSPEC, |w| {
        w.u32(s.rospec_id).u8(s.priority).u8(0); // CurrentState: disabled
        w.tlv(param::RO_BOUNDARY_SPEC, |w| {
            w.tlv(param::ROSPEC_START_TRIGGER, |w| {
                w.u8(if s.immediate_start {
                    TRIGGER_IMMEDIATE_OR_DURATION
                } else {
                    TRIGGER_NULL
                });
            });
            let (kind, ms) = trigger(s.duration_ms);
            w.tlv(param::ROSPEC_STOP_TRIGGER, |w| {
                w.u8(kind).u32(ms);
            });
        });
        w.tlv(param::AI_SPEC, |w| {
            let n = s.antennas.len().min(255);
            w.u16(n as u16);
            for a in &s.antennas[..n] {
                w.u16(*a);
            }
            let (kind, ms) = trigger(s.ai_duration_ms);
            w.tlv(param::AI_SPEC_STOP_TRIGGER, |w| {
                w.u8(kind).u32(ms);
            });
            w.tlv(param::INVENTORY_PARAMETER_SPEC, |w| {
                w.u16(s.inventory_parameter_spec_id).u8(PROTOCOL_EPC_C1G2);
            });
        });
        w.tlv(param::RO_REPORT_SPEC, |w| {
            w.u8(REPORT_N_TAGS_OR_END_OF_AISPEC)
                .u16(s.report_every_n_tags);
            w.tlv(param::TAG_REPORT_CONTENT_SELECTOR, |w| {
                w.u16(s.content);
            });
        });
    });
}

/// Reads a stop trigger body: type and duration.
fn read_trigger(b: &[u8], what: &'static str) -> Result<Option<u32>, LlrpError> {
    let mut r = Reader::new(b, what);
    let kind = r.u8()?;
    let ms = r.u32()?;
    Ok((kind == TRIGGER_IMMEDIATE_OR_DURATION).then_some(ms))
}

fn read_rospec(b: &[u8]) -> Result<RoSpec, LlrpError> {
    let mut r = Reader::new(b, "ROSpec");
    let mut s = RoSpec {
        rospec_id: r.u32()?,
        priority: r.u8()?,
        immediate_start: false,
        duration_ms: None,
        antennas: Vec::new(),
        ai_duration_ms: None,
        inventory_parameter_spec_id: 0,
        report_every_n_tags: 0,
        content: 0,
    };
    r.u8()?; // CurrentState
    let mut boundary = false;
    for p in r.params() {
        match p? {
            Param::Tlv(param::RO_BOUNDARY_SPEC, b) => {
                boundary = true;
                for p in Params::new(b) {
                    match p? {
                        Param::Tlv(param::ROSPEC_START_TRIGGER, b) => {
                            let kind = Reader::new(b, "ROSpecStartTrigger").u8()?;
                            s.immediate_start = kind == TRIGGER_IMMEDIATE_OR_DURATION;
                        }
                        Param::Tlv(param::ROSPEC_STOP_TRIGGER, b) => {
                            s.duration_ms = read_trigger(b, "ROSpecStopTrigger")?;
                        }
                        _ => {}
                    }
                }
            }
            Param::Tlv(param::AI_SPEC, b) => {
                let mut a = Reader::new(b, "AISpec");
                let n = a.u16()?;
                s.antennas = (0..n).map(|_| a.u16()).collect::<Result<_, _>>()?;
                for p in a.params() {
                    match p? {
                        Param::Tlv(param::AI_SPEC_STOP_TRIGGER, b) => {
                            s.ai_duration_ms = read_trigger(b, "AISpecStopTrigger")?;
                        }
                        Param::Tlv(param::INVENTORY_PARAMETER_SPEC, b) => {
                            s.inventory_parameter_spec_id =
                                Reader::new(b, "InventoryParameterSpec").u16()?;
                        }
                        _ => {}
                    }
                }
            }
            Param::Tlv(param::RO_REPORT_SPEC, b) => {
                let mut rr = Reader::new(b, "ROReportSpec");
                rr.u8()?;
                s.report_every_n_tags = rr.u16()?;
                for p in rr.params() {
                    if let Param::Tlv(param::TAG_REPORT_CONTENT_SELECTOR, b) = p? {
                        s.content = Reader::new(b, "TagReportContentSelector").u16()?;
                    }
                }
            }
            _ => {}
        }
    }
    if !boundary {
        return Err(LlrpError::MissingParam {
            message: "ROSpec",
            param: "ROBoundarySpec",
        });
    }
    Ok(s)
}

fn write_tag_report(w: &mut Writer, t: &TagReport) {
    w.tlv(param::TAG_REPORT_DATA, |w| {
        if t.epc.len() == 12 {
            w.tv(param::EPC_96, &t.epc);
        } else {
            w.tlv(param::EPC_DATA, |w| {
                let n = t.epc.len().min(usize::from(u16::MAX / 8) - 8);
                w.u16((n * 8) as u16).bytes(&t.epc[..n]);
            });
        }
        if let Some(v) = t.rospec_id {
            w.tv(param::ROSPEC_ID, &v.to_be_bytes());
        }
        if let Some(v) = t.antenna_id {
            w.tv(param::ANTENNA_ID, &v.to_be_bytes());
        }
        if let Some(v) = t.peak_rssi {
            w.tv(param::PEAK_RSSI, &v.to_be_bytes());
        }
        if let Some(v) = t.channel_index {
            w.tv(param::CHANNEL_INDEX, &v.to_be_bytes());
        }
        if let Some(v) = t.first_seen_utc {
            w.tv(param::FIRST_SEEN_UTC, &v.to_be_bytes());
        }
        if let Some(v) = t.last_seen_utc {
            w.tv(param::LAST_SEEN_UTC, &v.to_be_bytes());
        }
        if let Some(v) = t.tag_seen_count {
            w.tv(param::TAG_SEEN_COUNT, &v.to_be_bytes());
        }
    });
}

fn read_tag_report(b: &[u8]) -> Result<TagReport, LlrpError> {
    let mut t = TagReport::default();
    let mut has_epc = false;
    for p in Params::new(b) {
        match p? {
            Param::Tv(param::EPC_96, v) => {
                t.epc = v.to_vec();
                has_epc = true;
            }
            Param::Tlv(param::EPC_DATA, v) => {
                let mut r = Reader::new(v, "EPCData");
                let bits = r.u16()?;
                let n = usize::from(bits).div_ceil(8);
                let bytes = r.take(n).map_err(|_| LlrpError::EpcLength {
                    bits,
                    bytes: v.len() - 2,
                })?;
                t.epc = bytes.to_vec();
                has_epc = true;
            }
            // TV values have the size `tv_size` gave, so these conversions cannot fail.
            Param::Tv(param::ROSPEC_ID, v) => t.rospec_id = be_u32(v),
            Param::Tv(param::ANTENNA_ID, v) => t.antenna_id = be_u16(v),
            Param::Tv(param::PEAK_RSSI, v) => t.peak_rssi = v.first().map(|b| *b as i8),
            Param::Tv(param::CHANNEL_INDEX, v) => t.channel_index = be_u16(v),
            Param::Tv(param::FIRST_SEEN_UTC, v) => t.first_seen_utc = be_u64(v),
            Param::Tv(param::LAST_SEEN_UTC, v) => t.last_seen_utc = be_u64(v),
            Param::Tv(param::TAG_SEEN_COUNT, v) => t.tag_seen_count = be_u16(v),
            _ => {}
        }
    }
    if !has_epc {
        return Err(LlrpError::MissingParam {
            message: "TagReportData",
            param: "EPCParameter",
        });
    }
    Ok(t)
}

fn be_u16(v: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(v.try_into().ok()?))
}

fn be_u32(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.try_into().ok()?))
}

fn be_u64(v: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(v.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '|')
            .collect();
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn sllurp_reader_event_vector() {
        let bytes =
            hex("043f 00000020 00000000 | 00f6 0016 | 0080 000c 0000000000000000 | 0100 0006 0000");
        let ev = ReaderEvent {
            timestamp_us: 0,
            connection_attempt: Some(0),
            connection_close: false,
        };
        let m = Message::ReaderEventNotification(ev);
        assert_eq!(m.encode(0), bytes);
        let (h, back) = Message::decode(&bytes).unwrap();
        assert_eq!((h.msg_type, h.id), (63, 0));
        assert_eq!(back, m);
    }

    #[test]
    fn sllurp_ro_access_report_vector() {
        let bytes = hex(
            "043d 0000002c 4095892f 00f0 0022 8d 3005fb63ac1f3841ec880467 81 0001 86 ce
             82 0004ec2ea8354c09 88 0001",
        );
        let (h, m) = Message::decode(&bytes).unwrap();
        assert_eq!((h.msg_type, h.length, h.id), (61, 44, 0x4095892f));
        let tag = TagReport {
            epc: hex("3005fb63ac1f3841ec880467"),
            antenna_id: Some(1),
            peak_rssi: Some(-50),
            first_seen_utc: Some(1_385_585_041_558_537),
            tag_seen_count: Some(1),
            ..TagReport::default()
        };
        assert_eq!(m, Message::RoAccessReport(vec![tag]));
        assert_eq!(m.encode(0x4095892f), bytes);
    }

    #[test]
    fn client_messages_bytes() {
        // Every byte of a KEEPALIVE_ACK: ver 1 type 72, length 10, id 5.
        assert_eq!(
            Message::KeepaliveAck.encode(5),
            hex("0448 0000000a 00000005")
        );
        // START_ROSPEC: ver 1 type 22, length 14, id 1, ROSpecID 7.
        assert_eq!(
            Message::StartRospec(7).encode(1),
            hex("0416 0000000e 00000001 00000007")
        );
        // SET_READER_CONFIG: reset bit, KeepaliveSpec (220) periodic 10 000 ms.
        let m = Message::SetReaderConfig {
            reset_to_factory_default: true,
            keepalive_ms: Some(10_000),
        };
        assert_eq!(
            m.encode(2),
            hex("0403 00000014 00000002 80 00dc 0009 01 00002710")
        );
        assert_eq!(
            Message::GetReaderCapabilities.encode(3),
            hex("0401 0000000b 00000003 00")
        );
    }

    #[test]
    fn rospec_round_trip_and_layout() {
        let spec = RoSpec {
            rospec_id: 1,
            priority: 0,
            immediate_start: false,
            duration_ms: None,
            antennas: vec![1, 2],
            ai_duration_ms: Some(500),
            inventory_parameter_spec_id: 1,
            report_every_n_tags: 16,
            content: CONTENT_ANTENNA_ID
                | CONTENT_PEAK_RSSI
                | CONTENT_FIRST_SEEN
                | CONTENT_LAST_SEEN
                | CONTENT_TAG_SEEN_COUNT,
        };
        let bytes = Message::AddRospec(spec.clone()).encode(9);
        let expected = hex("0414 0000004d 00000009
             00b1 0043 00000001 00 00
               00b2 0012 00b3 0005 00 00b6 0009 00 00000000
               00b7 001a 0002 0001 0002
                 00b8 0009 01 000001f4
                 00ba 0007 0001 01
               00ed 000d 01 0010
                 00ee 0006 1780");
        assert_eq!(bytes, expected);
        assert_eq!(Message::decode(&bytes).unwrap().1, Message::AddRospec(spec));
    }

    #[test]
    fn responses_round_trip() {
        let status = LlrpStatus {
            code: 100,
            description: "bad".into(),
        };
        for m in [
            Message::Response {
                msg_type: msg::ADD_ROSPEC_RESPONSE,
                status: status.clone(),
            },
            Message::Response {
                msg_type: msg::CLOSE_CONNECTION_RESPONSE,
                status: status.clone(),
            },
            Message::ErrorMessage(status.clone()),
            Message::GetReaderCapabilitiesResponse {
                status: LlrpStatus::success(),
                capabilities: Some(Capabilities {
                    max_antennas: 4,
                    has_utc_clock: true,
                    manufacturer: 25882,
                    model: 2001002,
                    firmware: "7.1".into(),
                }),
            },
            Message::SetReaderConfig {
                reset_to_factory_default: false,
                keepalive_ms: None,
            },
            Message::Keepalive,
            Message::CloseConnection,
            Message::DeleteRospec(0),
            Message::StopRospec(1),
            Message::EnableRospec(1),
        ] {
            let bytes = m.encode(42);
            assert_eq!(
                Message::decode(&bytes).unwrap(),
                (Header::parse(&bytes).unwrap().unwrap(), m)
            );
        }
    }

    #[test]
    fn epc_data_and_unknown_params() {
        let tag = TagReport {
            epc: vec![0xE2, 0x80, 0x11, 0x60],
            antenna_id: Some(3),
            ..Default::default()
        };
        let mut bytes = Message::RoAccessReport(vec![tag.clone()]).encode(1);
        // Append an unknown TLV (type 1000) inside the message; fix the length.
        bytes.extend_from_slice(&[0x03, 0xe8, 0x00, 0x05, 0xff]);
        let len = bytes.len() as u32;
        bytes[2..6].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            Message::decode(&bytes).unwrap().1,
            Message::RoAccessReport(vec![tag])
        );
    }

    #[test]
    fn garbage_is_typed_errors() {
        let good = Message::Response {
            msg_type: msg::START_ROSPEC_RESPONSE,
            status: LlrpStatus::success(),
        }
        .encode(1);
        // Every truncation that keeps a consistent header length is an error, never a panic.
        for n in 0..good.len() {
            let mut b = good[..n].to_vec();
            if n >= 6 {
                b[2..6].copy_from_slice(&(n as u32).to_be_bytes());
            }
            assert!(Message::decode(&b).is_err(), "prefix {n}");
        }
        let mut no_status = Message::KeepaliveAck.encode(1);
        no_status[1] = msg::START_ROSPEC_RESPONSE as u8;
        assert_eq!(Message::decode(&no_status), Err(missing("response")));
        let tag_without_epc = hex("043d 00000013 00000001 00f0 0009 81 0001 86 ce 00");
        assert!(Message::decode(&tag_without_epc).is_err());
    }
}
