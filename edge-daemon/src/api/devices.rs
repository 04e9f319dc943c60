//! Devices: list, claim, print, open the drawer, check, raw pass-through, simulator controls.
//!
//! A claim makes a device exclusive: while one client holds it, `print`, `label`, `open` and
//! `raw` from any other client answer 409; the claimant, and anybody on an unclaimed device,
//! go ahead. Actions that cannot be undone (`open`, `raw`) run at most once per idempotency key:
//! a retry that races the first request waits for it and replays its answer.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use drivers::escpos::{encode, Paper, PaperLevel, PrinterProfile};
use protocol::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{ApiJson, ApiQuery, IdemKey, Principal};
use super::problem::{ApiError, Problem};
use super::write::{commit, Decision};
use super::AppState;
use crate::clock::rfc3339;
use crate::devices::config::{self, DeviceSpec};
use crate::devices::document::ReceiptDocument;
use crate::devices::label::LabelDocument;
use crate::devices::manager::{DeviceError, DeviceManager, DeviceView};
use crate::store::{JobState, NewPrintJob, PrintJob};

impl From<DeviceError> for ApiError {
    fn from(e: DeviceError) -> Self {
        match e {
            DeviceError::Unknown(_) => ApiError::NotFound(e.to_string()),
            DeviceError::WrongKind { .. } => ApiError::Conflict(e.to_string()),
            DeviceError::NoAnswer { .. } | DeviceError::Failed { .. } => {
                ApiError::DeviceUnavailable(e.to_string())
            }
        }
    }
}

/// Refuses the request when another client holds the claim on `name`.
fn claim_allows(state: &AppState, p: &Principal, name: &str) -> Result<(), ApiError> {
    match state.hub.claimant(name) {
        Some(owner) if owner != p.token => Err(ApiError::Conflict(format!(
            "{name} is claimed by another client; it is theirs until they release it"
        ))),
        _ => Ok(()),
    }
}

/// Runs a device action once per idempotency key: waits while another request with the key is
/// in flight, replays a recorded answer, or acts and records its answer.
async fn act_once<F>(
    state: &AppState,
    devices: &DeviceManager,
    idem: crate::store::IdemRequest,
    act: F,
) -> Result<Response, ApiError>
where
    F: FnOnce() -> Result<ActionView, ApiError> + Send + 'static,
{
    let _entered = devices
        .in_flight
        .enter(format!("{}\0{}", idem.scope, idem.key))
        .await;
    if let Some(resp) = super::write::replay(state, &idem).await? {
        return Ok(resp);
    }
    let view = blocking(act).await?;
    commit(state, idem, move |_| {
        Ok(Decision::new(Vec::new(), StatusCode::OK, view))
    })
    .await
}

fn manager(state: &AppState) -> Result<Arc<DeviceManager>, ApiError> {
    state
        .devices
        .clone()
        .ok_or_else(|| ApiError::NotFound("this box runs no devices".into()))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// A device with its state.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceInfo {
    pub name: String,
    pub kind: String,
    pub simulated: bool,
    /// `unknown`, `online`, `offline`, `paper_low`, `paper_out`, `cover_open`, `error`, `open`,
    /// `closed`.
    pub state: String,
    pub detail: Option<String>,
    pub since: String,
    /// Claimed by the calling client.
    pub claimed_by_you: bool,
    /// Claimed by some client.
    pub claimed: bool,
    #[schema(value_type = Object)]
    pub stats: serde_json::Value,
}

fn info(state: &AppState, p: &Principal, d: DeviceView) -> DeviceInfo {
    let claimant = state.hub.claimant(&d.name);
    DeviceInfo {
        claimed_by_you: claimant == Some(p.token),
        claimed: claimant.is_some(),
        name: d.name,
        kind: d.kind.to_owned(),
        simulated: d.simulated,
        state: d.state.state,
        detail: d.state.detail,
        since: rfc3339(d.state.since),
        stats: serde_json::to_value(d.state.stats).unwrap_or_default(),
    }
}

/// Every device of the store, by name.
#[utoipa::path(get, path = "/v1/devices", tag = "devices", security(("bearer" = [])),
    responses((status = 200, body = [DeviceInfo]), (status = 401, body = Problem)))]
pub async fn list(State(state): State<AppState>, p: Principal) -> Json<Vec<DeviceInfo>> {
    let views = state.devices.as_ref().map(|m| m.list()).unwrap_or_default();
    Json(views.into_iter().map(|d| info(&state, &p, d)).collect())
}

/// One device.
#[utoipa::path(get, path = "/v1/devices/{name}", tag = "devices", security(("bearer" = [])),
    params(("name" = String, Path, description = "device name")),
    responses((status = 200, body = DeviceInfo), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
) -> Result<Json<DeviceInfo>, ApiError> {
    let view = manager(&state)?.get(&name)?;
    Ok(Json(info(&state, &p, view)))
}

/// The outcome of a claim or release.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClaimView {
    pub device: String,
    pub claimed_by_you: bool,
}

/// Claims a device: its scans and tag reads go to this client's event stream only.
#[utoipa::path(post, path = "/v1/devices/{name}/claim", tag = "devices",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "device name"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 200, body = ClaimView), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn claim(
    State(state): State<AppState>,
    p: Principal,
    _key: IdemKey,
    Path(name): Path<String>,
) -> Result<Json<ClaimView>, ApiError> {
    manager(&state)?.get(&name)?;
    // Claims live in memory and are idempotent by nature: claiming twice is one claim.
    state
        .hub
        .claim(&name, p.token)
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    Ok(Json(ClaimView {
        device: name,
        claimed_by_you: true,
    }))
}

/// Releases a claim; a manager may release another client's claim.
#[utoipa::path(post, path = "/v1/devices/{name}/release", tag = "devices",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "device name"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 200, body = ClaimView), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn release(
    State(state): State<AppState>,
    p: Principal,
    _key: IdemKey,
    Path(name): Path<String>,
) -> Result<Json<ClaimView>, ApiError> {
    manager(&state)?.get(&name)?;
    let force = matches!(p.role, Role::Manager | Role::Technician);
    if state.hub.claimant(&name).is_some() {
        state
            .hub
            .release(&name, p.token, force)
            .map_err(|e| ApiError::Conflict(e.to_string()))?;
    }
    Ok(Json(ClaimView {
        device: name,
        claimed_by_you: false,
    }))
}

/// A print job as clients see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub job_id: String,
    pub device: String,
    pub what: String,
    /// `queued`, `waiting`, `printing`, `done`, `failed`, `cancelled`, `interrupted`.
    pub state: String,
    pub detail: Option<String>,
    pub attempts: u32,
    pub created_at: String,
    pub updated_at: String,
}

impl From<PrintJob> for JobView {
    fn from(j: PrintJob) -> Self {
        JobView {
            job_id: j.id.to_string(),
            device: j.device,
            what: j.what,
            state: j.state.name().to_owned(),
            detail: j.state.detail().map(str::to_owned),
            attempts: j.attempts,
            created_at: rfc3339(j.created_at),
            updated_at: rfc3339(j.updated_at),
        }
    }
}

fn queued_view(id: Uuid, device: &str, what: &str) -> JobView {
    let now = rfc3339(crate::clock::now());
    JobView {
        job_id: id.to_string(),
        device: device.to_owned(),
        what: what.to_owned(),
        state: "queued".into(),
        detail: None,
        attempts: 0,
        created_at: now.clone(),
        updated_at: now,
    }
}

fn profile_of(spec: &DeviceSpec) -> Result<PrinterProfile, ApiError> {
    match spec {
        DeviceSpec::ReceiptPrinter { paper, font, .. } => {
            let paper = match paper {
                config::Paper::Mm58 => Paper::Mm58,
                config::Paper::Mm80 => Paper::Mm80,
            };
            Ok(PrinterProfile::new(paper, (*font).into()))
        }
        other => Err(ApiError::Conflict(format!(
            "device is a {}, which does not print receipts",
            other.kind()
        ))),
    }
}

/// Queues a receipt. The job is on disk when this answers 202; it prints whole or not at all,
/// waits while the paper is out, and reports its states as events.
#[utoipa::path(post, path = "/v1/devices/{name}/print", tag = "devices",
    security(("bearer" = [])), request_body = ReceiptDocument,
    params(("name" = String, Path, description = "receipt printer name"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 202, body = JobView), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn print(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(name): Path<String>,
    ApiJson(doc): ApiJson<ReceiptDocument>,
) -> Result<Response, ApiError> {
    let devices = manager(&state)?;
    let profile = profile_of(devices.spec(&name)?)?;
    claim_allows(&state, &p, &name)?;
    let receipt = doc
        .to_receipt()
        .map_err(|e| ApiError::field(e.field, e.reason))?;
    let payload = encode(&receipt, &profile);
    let body = serde_json::to_vec(&doc).unwrap_or_default();
    let job = Enqueue {
        name,
        what: "receipt",
        action: "print",
        payload,
    };
    enqueue(&state, &devices, &p, key, &body, job).await
}

/// A job for [`enqueue`].
struct Enqueue {
    name: String,
    what: &'static str,
    /// The last path segment of the request, for its idempotency fingerprint.
    action: &'static str,
    payload: Vec<u8>,
}

/// Puts a job on the durable queue in the request's write and wakes the printer.
async fn enqueue(
    state: &AppState,
    devices: &DeviceManager,
    p: &Principal,
    key: IdemKey,
    body: &[u8],
    job: Enqueue,
) -> Result<Response, ApiError> {
    let Enqueue {
        name,
        what,
        action,
        payload,
    } = job;
    let path = format!("/v1/devices/{name}/{action}");
    let idem = key.request(p.idem_scope(), "POST", &path, body);
    let device = name.clone();
    let resp = commit(state, idem, move |_| {
        let id = Uuid::new_v4();
        let job = NewPrintJob {
            id,
            device: device.clone(),
            what: what.into(),
            payload,
        };
        let view = queued_view(id, &device, what);
        Ok(Decision::new(Vec::new(), StatusCode::ACCEPTED, view).with_print_job(job))
    })
    .await?;
    devices.wake(&name);
    Ok(resp)
}

/// Queues a label on a label printer. The job is on disk when this answers 202; it prints whole
/// or not at all and waits while the printer is out of labels or its head is open.
#[utoipa::path(post, path = "/v1/devices/{name}/label", tag = "devices",
    security(("bearer" = [])), request_body = LabelDocument,
    params(("name" = String, Path, description = "label printer name"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 202, body = JobView), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn label(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(name): Path<String>,
    ApiJson(doc): ApiJson<LabelDocument>,
) -> Result<Response, ApiError> {
    let devices = manager(&state)?;
    if let spec @ (DeviceSpec::ReceiptPrinter { .. }
    | DeviceSpec::SerialScanner { .. }
    | DeviceSpec::WedgeScanner { .. }
    | DeviceSpec::RfidReader { .. }
    | DeviceSpec::KickDrawer { .. }
    | DeviceSpec::GpioDrawer { .. }) = devices.spec(&name)?
    {
        return Err(ApiError::Conflict(format!(
            "{name} is a {}, which does not print labels",
            spec.kind()
        )));
    }
    claim_allows(&state, &p, &name)?;
    let label = doc
        .to_label()
        .map_err(|e| ApiError::field(e.field, e.reason))?;
    let payload = label.to_zpl().into_bytes();
    let body = serde_json::to_vec(&doc).unwrap_or_default();
    let job = Enqueue {
        name,
        what: "label",
        action: "label",
        payload,
    };
    enqueue(&state, &devices, &p, key, &body, job).await
}

/// Which jobs to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct JobsQuery {
    /// Only this device's jobs.
    pub device: Option<String>,
    /// At most this many, newest first (default 50, at most 500).
    pub limit: Option<usize>,
}

/// Recent print jobs, newest first.
#[utoipa::path(get, path = "/v1/print-jobs", tag = "devices", security(("bearer" = [])),
    params(JobsQuery), responses((status = 200, body = [JobView]), (status = 422, body = Problem)))]
pub async fn jobs(
    State(state): State<AppState>,
    _p: Principal,
    ApiQuery(q): ApiQuery<JobsQuery>,
) -> Result<Json<Vec<JobView>>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 500 {
        return Err(ApiError::field("limit", "must be 1 to 500"));
    }
    let store = state.store.clone();
    let jobs = blocking(move || Ok(store.print_jobs(q.device.as_deref(), limit)?)).await?;
    Ok(Json(jobs.into_iter().map(JobView::from).collect()))
}

fn job_id(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::field("id", "not a job id (UUID)"))
}

/// One print job.
#[utoipa::path(get, path = "/v1/print-jobs/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = JobView), (status = 404, body = Problem)))]
pub async fn job(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let id = job_id(&id)?;
    let store = state.store.clone();
    let job = blocking(move || Ok(store.print_job(id)?)).await?;
    job.map(|j| Json(j.into()))
        .ok_or_else(|| ApiError::NotFound(format!("no print job {id}")))
}

/// Cancels a job that has not printed yet. Cancelling a cancelled job is not an error.
#[utoipa::path(post, path = "/v1/print-jobs/{id}/cancel", tag = "devices",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "job id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 200, body = JobView), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    _p: Principal,
    _key: IdemKey,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let id = job_id(&id)?;
    let store = state.store.clone();
    let job = blocking(move || {
        let job = store
            .print_job(id)?
            .ok_or_else(|| ApiError::NotFound(format!("no job {id}")))?;
        match job.state {
            JobState::Cancelled => Ok(job),
            s if s.is_pending() => Ok(store
                .update_print_job(id, JobState::Cancelled, false)?
                .ok_or_else(|| ApiError::NotFound(format!("no job {id}")))?),
            s => Err(ApiError::Conflict(format!(
                "the job is {}; only a waiting job can be \
                cancelled",
                s.name()
            ))),
        }
    })
    .await?;
    if let Some(m) = &state.devices {
        m.wake(&job.device);
    }
    Ok(Json(job.into()))
}

/// Prints a job again as a new job (a reprint, or after an interruption).
#[utoipa::path(post, path = "/v1/print-jobs/{id}/reprint", tag = "devices",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "job id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 202, body = JobView), (status = 404, body = Problem)))]
pub async fn reprint(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = job_id(&id)?;
    let store = state.store.clone();
    let original = blocking(move || {
        store
            .print_job(id)?
            .ok_or_else(|| ApiError::NotFound(format!("no print job {id}")))
    })
    .await?;
    let idem = key.request(
        p.idem_scope(),
        "POST",
        &format!("/v1/print-jobs/{id}/reprint"),
        b"",
    );
    let device = original.device.clone();
    let resp = commit(&state, idem, move |_| {
        let new_id = Uuid::new_v4();
        let what = format!("reprint of {}", original.what);
        let view = queued_view(new_id, &original.device, &what);
        let job = NewPrintJob {
            id: new_id,
            device: original.device,
            what,
            payload: original.payload,
        };
        Ok(Decision::new(Vec::new(), StatusCode::ACCEPTED, view).with_print_job(job))
    })
    .await?;
    if let Some(m) = &state.devices {
        m.wake(&device);
    }
    Ok(resp)
}

/// The outcome of an action on a device.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActionView {
    pub device: String,
    pub result: String,
}

/// Opens a cash drawer. A retry with the same key answers again without opening it twice.
#[utoipa::path(post, path = "/v1/devices/{name}/open", tag = "devices",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "drawer name"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 200, body = ActionView), (status = 409, body = Problem),
        (status = 503, body = Problem)))]
pub async fn open(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let devices = manager(&state)?;
    devices.spec(&name)?;
    claim_allows(&state, &p, &name)?;
    let idem = key.request(
        p.idem_scope(),
        "POST",
        &format!("/v1/devices/{name}/open"),
        b"",
    );
    let d = devices.clone();
    act_once(&state, &devices, idem, move || {
        d.open_drawer(&name)?;
        tracing::info!(device = %name, token = %p.token, "drawer opened");
        Ok(ActionView {
            device: name,
            result: "opened".into(),
        })
    })
    .await
}

/// Checks a device now and answers with its condition.
#[utoipa::path(post, path = "/v1/devices/{name}/check", tag = "devices",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "device name")),
    responses((status = 200, body = ActionView), (status = 503, body = Problem)))]
pub async fn check(
    State(state): State<AppState>,
    _p: Principal,
    Path(name): Path<String>,
) -> Result<Json<ActionView>, ApiError> {
    let devices = manager(&state)?;
    let n = name.clone();
    let result = blocking(move || Ok(devices.check(&n)?)).await?;
    Ok(Json(ActionView {
        device: name,
        result,
    }))
}

/// Vendor bytes to send as they are.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBytes {
    /// The bytes in hexadecimal, at most 64 KiB.
    pub hex: String,
}

/// Sends vendor commands to a printer as they are (technicians only). A retry with the same key
/// answers again without sending them twice.
#[utoipa::path(post, path = "/v1/devices/{name}/raw", tag = "devices",
    security(("bearer" = [])), request_body = RawBytes,
    params(("name" = String, Path, description = "device name"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 200, body = ActionView), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn raw(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<RawBytes>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Technician])?;
    let bytes = hex::decode(req.hex.trim()).map_err(|e| ApiError::field("hex", e.to_string()))?;
    if bytes.is_empty() || bytes.len() > 64 * 1024 {
        return Err(ApiError::field("hex", "must be 1 byte to 64 KiB"));
    }
    let devices = manager(&state)?;
    devices.spec(&name)?;
    claim_allows(&state, &p, &name)?;
    let path = format!("/v1/devices/{name}/raw");
    let idem = key.request(p.idem_scope(), "POST", &path, &bytes);
    let d = devices.clone();
    act_once(&state, &devices, idem, move || {
        d.raw(&name, bytes)?;
        tracing::warn!(device = %name, token = %p.token, "raw bytes sent");
        Ok(ActionView {
            device: name,
            result: "sent".into(),
        })
    })
    .await
}

/// A change to a simulated device.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Simulate {
    /// Receipt printer paper: `ok`, `low` or `out`.
    pub paper: Option<String>,
    /// Receipt printer cover open.
    pub cover_open: Option<bool>,
    /// Receipt printer offline.
    pub offline: Option<bool>,
    /// The drawer's sensor reads open.
    pub drawer_open: Option<bool>,
    /// Label printer head open.
    pub head_open: Option<bool>,
    /// The scanner simulator scans this data (an AIM prefix such as `]E0` may lead).
    pub scan: Option<String>,
}

/// Changes a simulated device's condition (technicians; simulated devices only).
#[utoipa::path(post, path = "/v1/devices/{name}/simulate", tag = "devices",
    security(("bearer" = [])), request_body = Simulate,
    params(("name" = String, Path, description = "simulated device name"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 200, body = ActionView), (status = 403, body = Problem),
        (status = 409, body = Problem)))]
pub async fn simulate(
    State(state): State<AppState>,
    p: Principal,
    _key: IdemKey,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<Simulate>,
) -> Result<Json<ActionView>, ApiError> {
    p.require(&[Role::Technician])?;
    let devices = manager(&state)?;
    let view = devices.get(&name)?;
    if !view.simulated {
        return Err(ApiError::Conflict(format!(
            "{name} is not a simulated device"
        )));
    }
    let paper = match req.paper.as_deref() {
        None => None,
        Some("ok") => Some(PaperLevel::Ok),
        Some("low") => Some(PaperLevel::NearEnd),
        Some("out") => Some(PaperLevel::Out),
        Some(other) => {
            return Err(ApiError::field(
                "paper",
                format!("{other:?} is not ok, low or out"),
            ))
        }
    };
    let sims = &devices.sims;
    match devices.spec(&name)? {
        DeviceSpec::ReceiptPrinter { .. } | DeviceSpec::KickDrawer { .. } => {
            let sim = sims.receipt.as_ref().ok_or_else(|| no_sim(&name))?;
            sim.update_state(|s| {
                if let Some(paper) = paper {
                    s.paper = paper;
                }
                if let Some(c) = req.cover_open {
                    s.cover_open = c;
                }
                if let Some(o) = req.offline {
                    s.offline = o;
                }
                if let Some(d) = req.drawer_open {
                    s.drawer_pin3_high = d;
                }
            });
        }
        DeviceSpec::LabelPrinter { .. } => {
            let sim = sims.label.as_ref().ok_or_else(|| no_sim(&name))?;
            sim.update_state(|s| {
                if let Some(paper) = paper {
                    s.paper_out = paper == PaperLevel::Out;
                }
                if let Some(h) = req.head_open {
                    s.head_open = h;
                }
                if let Some(o) = req.offline {
                    s.silent = o;
                }
            });
        }
        DeviceSpec::SerialScanner { .. } => {
            let data = req
                .scan
                .as_deref()
                .ok_or_else(|| ApiError::field("scan", "the data to scan is missing"))?;
            let sim = sims.scanner.as_ref().ok_or_else(|| no_sim(&name))?;
            sim.lock()
                .unwrap_or_else(|p| p.into_inner())
                .scan(data)
                .map_err(|e| ApiError::DeviceUnavailable(format!("scanner simulator: {e}")))?;
        }
        DeviceSpec::RfidReader { .. }
        | DeviceSpec::WedgeScanner { .. }
        | DeviceSpec::GpioDrawer { .. } => {
            return Err(ApiError::Conflict(format!(
                "{name} has nothing to change in its simulator"
            )));
        }
    }
    devices.wake(&name);
    Ok(Json(ActionView {
        device: name,
        result: "changed".into(),
    }))
}

fn no_sim(name: &str) -> ApiError {
    ApiError::Conflict(format!("{name} has no simulator"))
}
