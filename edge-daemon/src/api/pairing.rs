//! The pairing handshake.
//!
//! 1. The device generates a random token and `POST /v1/pairing` with it and its name. It gets a
//!    pairing id and a six-digit code, which it shows (or the receipt printer prints).
//! 2. A manager sees the code on the console (`GET /v1/pairings`) and approves it with a role
//!    (`POST /v1/pairings/{code}/approve`), or `edge-daemon pair approve CODE` on the box.
//! 3. The device polls `GET /v1/pairing/{id}`; once approved, its token works.
//!
//! Steps 1 and 3 are the only unauthenticated endpoints besides health and the OpenAPI
//! document; step 1 is rate-limited per client address and in total.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use protocol::event::Actor;
use protocol::{PairingId, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, ClientIp, IdemKey, Principal};
use super::problem::{ApiError, Problem};
use super::write::{commit, Decision};
use super::AppState;
use crate::auth;
use crate::clock::{now, rfc3339};
use crate::store::{PairingRecord, PairingState};

/// A device asks to pair.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairingRequest {
    /// A name a manager recognises, e.g. "Till 3 iPad". 1 to 64 characters.
    pub device_name: String,
    /// The bearer token the device will use: 32 to 128 of `A-Z a-z 0-9 - _ . ~`, from a
    /// cryptographic random source. Only its hash is stored.
    pub token: String,
}

/// The answer to a pairing request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PairingCreated {
    pub pairing_id: String,
    /// Six digits to show a manager.
    pub code: String,
    pub expires_at: String,
}

/// Where a pairing stands, as the device polls it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PairingStatus {
    pub pairing_id: String,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub state: String,
    /// The granted role, once approved.
    pub role: Option<String>,
}

/// A pending pairing as a manager sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingPairing {
    pub pairing_id: String,
    pub code: String,
    pub device_name: String,
    pub requested_at: String,
    pub expires_at: String,
}

impl From<PairingRecord> for PendingPairing {
    fn from(p: PairingRecord) -> Self {
        PendingPairing {
            pairing_id: p.id.to_string(),
            code: p.code,
            device_name: p.device_name,
            requested_at: rfc3339(p.requested_at),
            expires_at: rfc3339(p.expires_at),
        }
    }
}

/// A manager's approval.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// `associate`, `manager` or `technician` (technician only by a technician).
    #[schema(value_type = String)]
    pub role: Role,
}

/// The outcome of an approval or rejection.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PairingDecision {
    pub pairing_id: String,
    pub device_name: String,
    /// `approved` or `rejected`.
    pub state: String,
    pub role: Option<String>,
}

/// Starts pairing. Unauthenticated and rate-limited.
#[utoipa::path(post, path = "/v1/pairing", tag = "pairing", request_body = PairingRequest,
    params(("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 201, body = PairingCreated), (status = 409, body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn request(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    key: IdemKey,
    ApiJson(req): ApiJson<PairingRequest>,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(&req).unwrap_or_default();
    // Keys are scoped to the device's own token, so two devices cannot collide on a key.
    let scope = format!("pairing:{}", hex::encode(auth::hash_token(&req.token)));
    let idem = key.request(scope, "POST", "/v1/pairing", &body);
    let limits = state.limits.clone();
    let ttl_ms =
        i64::try_from(state.config.pairing.code_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    commit(&state, idem, move |r| {
        // Charged only for new requests: a retry of a known key is answered before this runs.
        limits.check(ip)?;
        let (events, new) = auth::request_pairing(
            r,
            &req.device_name,
            &req.token,
            now(),
            ttl_ms,
            auth::random_code,
        )?;
        tracing::info!(pairing = %new.id, "pairing requested");
        let body = PairingCreated {
            pairing_id: new.id.to_string(),
            code: new.code,
            expires_at: rfc3339(new.expires_at),
        };
        Ok(Decision::new(events, StatusCode::CREATED, body))
    })
    .await
}

/// Where a pairing stands. Unauthenticated: the id is unguessable and the answer holds no secret.
#[utoipa::path(get, path = "/v1/pairing/{id}", tag = "pairing",
    params(("id" = String, Path, description = "pairing id")),
    responses((status = 200, body = PairingStatus), (status = 404, body = Problem)))]
pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PairingStatus>, ApiError> {
    let id: PairingId = id
        .parse()
        .map_err(|_| ApiError::field("id", "not a pairing id (UUID)"))?;
    let store = state.store.clone();
    let rec = super::blocking(move || store.reader().pairing(id))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??
        .ok_or_else(|| ApiError::NotFound(format!("no pairing {id}")))?;
    let (state_name, role) = match rec.state {
        PairingState::Pending if rec.is_open(now()) => ("pending", None),
        PairingState::Pending => ("expired", None),
        PairingState::Approved(role) => ("approved", Some(role.to_string())),
        PairingState::Rejected => ("rejected", None),
    };
    Ok(Json(PairingStatus {
        pairing_id: id.to_string(),
        state: state_name.to_owned(),
        role,
    }))
}

const APPROVERS: &[Role] = &[Role::Manager, Role::Technician];

/// Pairings waiting for approval, oldest first.
#[utoipa::path(get, path = "/v1/pairings", tag = "pairing", security(("bearer" = [])),
    responses((status = 200, body = [PendingPairing]), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<PendingPairing>>, ApiError> {
    p.require(APPROVERS)?;
    let store = state.store.clone();
    let open = super::blocking(move || store.reader().open_pairings(now()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(open.into_iter().map(PendingPairing::from).collect()))
}

/// Approves the pairing that shows `code`.
#[utoipa::path(post, path = "/v1/pairings/{code}/approve", tag = "pairing",
    security(("bearer" = [])), request_body = Approval,
    params(("code" = String, Path, description = "six-digit pairing code"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 200, body = PairingDecision), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 410, body = Problem), (status = 422, body = Problem)))]
pub async fn approve(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<Approval>,
) -> Result<Response, ApiError> {
    p.require(APPROVERS)?;
    let body = serde_json::to_vec(&req).unwrap_or_default();
    let path = format!("/v1/pairings/{code}/approve");
    let idem = key.request(p.idem_scope(), "POST", &path, &body);
    let (actor, actor_role): (Actor, Role) = (p.actor(), p.role);
    commit(&state, idem, move |r| {
        let (events, rec) =
            auth::approve_pairing(r, &code, req.role, actor, Some(actor_role), now())?;
        tracing::info!(pairing = %rec.id, role = %req.role, "pairing approved");
        let body = PairingDecision {
            pairing_id: rec.id.to_string(),
            device_name: rec.device_name,
            state: "approved".into(),
            role: Some(req.role.to_string()),
        };
        Ok(Decision::new(events, StatusCode::OK, body))
    })
    .await
}

/// Refuses the pairing that shows `code`; its token never becomes valid.
#[utoipa::path(post, path = "/v1/pairings/{code}/reject", tag = "pairing",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "six-digit pairing code"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 200, body = PairingDecision), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 410, body = Problem)))]
pub async fn reject(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    p.require(APPROVERS)?;
    let path = format!("/v1/pairings/{code}/reject");
    let idem = key.request(p.idem_scope(), "POST", &path, b"");
    let actor = p.actor();
    commit(&state, idem, move |r| {
        let (events, rec) = auth::reject_pairing(r, &code, actor, now())?;
        let body = PairingDecision {
            pairing_id: rec.id.to_string(),
            device_name: rec.device_name,
            state: "rejected".into(),
            role: None,
        };
        Ok(Decision::new(events, StatusCode::OK, body))
    })
    .await
}
