//! Health, identity, modules, the journal and metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiQuery, Principal};
use super::layers::Module;
use super::problem::{ApiError, Problem};
use super::AppState;
use crate::clock::rfc3339;

/// The daemon's health.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the store cannot be read.
    pub status: String,
    pub store_id: String,
    pub version: String,
    pub uptime_secs: u64,
    /// The box's provisioning as its boot check found it (`image.provisioning_status`);
    /// absent when not configured. It never changes `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<Provisioning>,
}

/// What the store box's boot-time provisioning check found.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Provisioning {
    /// True only when the box runs a provisioning that passed every check.
    pub ok: bool,
    /// `provisioned`, `not_provisioned`, `invalid` or `daemon_failed`; absent when the file
    /// cannot be read.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub store_id: Option<String>,
    /// One line for a person: what is wrong and what to do.
    pub message: String,
}

/// Reads the provisioning status file; a file that is missing or garbled says so.
async fn provisioning(path: &std::path::Path) -> Provisioning {
    let unreadable = |why: String| Provisioning {
        ok: false,
        state: None,
        store_id: None,
        message: format!("cannot read provisioning status {}: {why}", path.display()),
    };
    match tokio::fs::read(path).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| unreadable(e.to_string())),
        Err(e) => unreadable(e.to_string()),
    }
}

/// Health, without authentication; 503 when the store is unreadable.
#[utoipa::path(get, path = "/v1/health", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let healthy = tokio::task::spawn_blocking(move || store.health().is_ok())
        .await
        .unwrap_or(false);
    let body = Health {
        status: if healthy { "ok" } else { "degraded" }.to_owned(),
        store_id: state.store.store_id().to_string(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_secs: state.started.elapsed().as_secs(),
        provisioning: match &state.config.image.provisioning_status {
            Some(path) => Some(provisioning(path).await),
            None => None,
        },
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Who the caller is.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    pub token_id: String,
    pub role: String,
    pub label: String,
}

/// The caller's token id, role and label.
#[utoipa::path(get, path = "/v1/whoami", tag = "system", security(("bearer" = [])),
    responses((status = 200, body = WhoAmI), (status = 401, body = Problem)))]
pub async fn whoami(p: Principal) -> Json<WhoAmI> {
    Json(WhoAmI {
        token_id: p.token.to_string(),
        role: p.role.to_string(),
        label: p.label,
    })
}

/// One capability module and whether it is on.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModuleView {
    pub name: String,
    pub prefix: String,
    /// Whether its endpoints answer now: the cloud's switch if it sent one, else the
    /// configuration's.
    pub enabled: bool,
    /// Where `enabled` comes from: `config` or `cloud`.
    pub source: String,
}

/// The capability modules of this store, as the API gates them now.
#[utoipa::path(get, path = "/v1/modules", tag = "system", security(("bearer" = [])),
    responses((status = 200, body = [ModuleView]), (status = 401, body = Problem)))]
pub async fn modules(
    State(state): State<AppState>,
    _p: Principal,
) -> Result<Json<Vec<ModuleView>>, ApiError> {
    let store = state.store.clone();
    let cloud = super::blocking(move || store.link_modules())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(
        Module::ALL
            .iter()
            .map(|m| {
                let switched = cloud
                    .iter()
                    .find(|(c, _)| c.to_string() == m.name())
                    .map(|(_, on)| *on);
                ModuleView {
                    name: m.name().to_owned(),
                    prefix: m.prefix().to_owned(),
                    enabled: switched.unwrap_or_else(|| m.enabled(&state.config.modules)),
                    source: if switched.is_some() {
                        "cloud"
                    } else {
                        "config"
                    }
                    .to_owned(),
                }
            })
            .collect(),
    ))
}

/// Which part of the journal to list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct JournalQuery {
    /// List events with a sequence greater than this (default 0).
    #[serde(default)]
    pub after: u64,
    /// At most this many events (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// One journal entry as JSON.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JournalEntry {
    pub seq: u64,
    pub id: String,
    pub at: String,
    pub kind: String,
    /// The event's fields, as serde renders them.
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
}

/// A page of the journal.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JournalPage {
    pub events: Vec<JournalEntry>,
    /// The newest sequence in the journal.
    pub last_seq: u64,
}

/// The journal, for technicians and managers.
#[utoipa::path(get, path = "/v1/journal", tag = "system", security(("bearer" = [])),
    params(JournalQuery),
    responses((status = 200, body = JournalPage), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
pub async fn journal(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<JournalQuery>,
) -> Result<Json<JournalPage>, ApiError> {
    p.require(&[Role::Technician, Role::Manager])?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::field("limit", "must be 1 to 1000"));
    }
    let store = state.store.clone();
    let (envs, stats) = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::store::StoreError>((store.journal_after(q.after, limit)?, store.stats()?))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let events = envs
        .into_iter()
        .map(|e| JournalEntry {
            seq: e.seq,
            id: e.id.to_string(),
            at: rfc3339(e.at),
            kind: e.event.kind().to_owned(),
            event: serde_json::to_value(&e.event).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    Ok(Json(JournalPage {
        events,
        last_seq: stats.last_seq,
    }))
}

/// Prometheus metrics, for technicians and managers.
#[utoipa::path(get, path = "/metrics", tag = "system", security(("bearer" = [])),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn metrics(State(state): State<AppState>, p: Principal) -> Result<Response, ApiError> {
    p.require(&[Role::Technician, Role::Manager])?;
    let store = state.store.clone();
    let stats = tokio::task::spawn_blocking(move || store.stats())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    metrics::gauge!("journal_last_seq").set(stats.last_seq as f64);
    metrics::gauge!("uptime_seconds").set(state.started.elapsed().as_secs_f64());
    let text = state
        .metrics
        .as_ref()
        .map(|h| h.render())
        .unwrap_or_default();
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}
