//! Till endpoints: open with a float, pay-ins, pay-outs, drops, close with a blind count by
//! denomination; X (running), Z (at close) and store reports.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use protocol::pos::TillMove;
use protocol::{Event, Money};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{catalog_of, check_text, check_till, idem, read, MANAGER};
use crate::api::extract::{ApiJson, IdemKey, Principal};
use crate::api::problem::{ApiError, Problem};
use crate::api::write::{commit, Decision};
use crate::api::AppState;
use crate::clock::rfc3339;
use crate::domain::cash::{count, CashError, Till};
use crate::store::pos::TillEntry;

fn cash_err(e: CashError) -> ApiError {
    match e {
        CashError::AlreadyOpen(_) | CashError::NotOpen(_) | CashError::SalesInProgress(_) => {
            ApiError::Conflict(e.to_string())
        }
        other => ApiError::field(other.field(), other.to_string()),
    }
}

/// A till session as clients see it, with its report.
pub fn view(e: &TillEntry) -> Value {
    json!({
        "till": e.till.id,
        "open": e.till.open,
        "opened_at": rfc3339(e.opened_at),
        "closed_at": e.closed_at.map(rfc3339),
        "float": e.till.float,
        "expected": e.till.expected().ok(),
        "counted": e.till.counted,
        "over_short": match (e.till.counted, e.till.expected_at_close) {
            (Some(c), Some(x)) => c.checked_sub(x).ok(),
            _ => None,
        },
        "report": e.report,
    })
}

fn load_till(r: &crate::store::Reader<'_>, id: &str) -> Result<TillEntry, ApiError> {
    r.till(id)?
        .ok_or_else(|| ApiError::NotFound(format!("till {id:?} was never opened")))
}

/// A till's float.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenTill {
    #[schema(value_type = Object)]
    pub float: Money,
}

/// Opens a till session with a float in the catalog's currency.
#[utoipa::path(post, path = "/v1/pos/tills/{id}/open", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "till id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = OpenTill,
    responses((status = 201, body = Object), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn open(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<OpenTill>,
) -> Result<Response, ApiError> {
    check_till("id", &id)?;
    let idem = idem(&p, &key, "POST", &format!("/v1/pos/tills/{id}/open"), &req);
    let actor = p.actor();
    let at = crate::clock::now();
    commit(&state, idem, move |r| {
        let c = catalog_of(r)?;
        if req.float.currency != c.currency {
            return Err(ApiError::field(
                "float",
                format!(
                    "the store sells in {}, not {}",
                    c.currency, req.float.currency
                ),
            ));
        }
        let current = r.till(&id)?;
        let till =
            Till::open(current.as_ref().map(|t| &t.till), &id, req.float).map_err(cash_err)?;
        let body = view(&TillEntry {
            till,
            report: crate::domain::report::Report::new(c.currency),
            opened_at: at,
            closed_at: None,
        });
        let event = Event::TillOpened {
            till: id.clone(),
            float: req.float,
            by: actor,
        };
        tracing::info!(till = %id, float = req.float.minor, "till opened");
        Ok(Decision::new(vec![event], StatusCode::CREATED, body))
    })
    .await
}

/// A pay-in, pay-out or drop.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Movement {
    #[schema(value_type = String, example = "paid_out")]
    pub kind: TillMove,
    #[schema(value_type = Object)]
    pub amount: Money,
    /// The reason code or note.
    pub reason: String,
}

/// Pays cash in, out (managers) or drops it to the safe.
#[utoipa::path(post, path = "/v1/pos/tills/{id}/movements", tag = "pos",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "till id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = Movement,
    responses((status = 200, body = Object), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn movement(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<Movement>,
) -> Result<Response, ApiError> {
    check_till("id", &id)?;
    if req.kind == TillMove::PaidOut {
        p.require(MANAGER)?;
    }
    check_text("reason", &req.reason)?;
    let idem = idem(
        &p,
        &key,
        "POST",
        &format!("/v1/pos/tills/{id}/movements"),
        &req,
    );
    let actor = p.actor();
    commit(&state, idem, move |r| {
        let mut entry = load_till(r, &id)?;
        entry
            .till
            .movement(req.kind, req.amount)
            .map_err(cash_err)?;
        entry
            .report
            .add_movement(req.kind, req.amount)
            .map_err(|e| ApiError::Conflict(e.to_string()))?;
        let event = Event::TillMovement {
            till: id.clone(),
            kind: req.kind,
            amount: req.amount,
            reason: req.reason.trim().to_owned(),
            by: actor,
        };
        Ok(Decision::new(vec![event], StatusCode::OK, view(&entry)))
    })
    .await
}

/// One denomination of a count.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Denomination {
    /// Face value in minor units (2000 for a 20 note).
    pub value: i64,
    pub count: i64,
}

/// A blind closing count.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseTill {
    pub denominations: Vec<Denomination>,
}

/// Closes a till with a blind count; answers the Z report with over/short. Refused while a
/// sale is in progress on the till.
#[utoipa::path(post, path = "/v1/pos/tills/{id}/close", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "till id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = CloseTill,
    responses((status = 200, body = Object), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn close(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CloseTill>,
) -> Result<Response, ApiError> {
    check_till("id", &id)?;
    let idem = idem(&p, &key, "POST", &format!("/v1/pos/tills/{id}/close"), &req);
    let actor = p.actor();
    let at = crate::clock::now();
    commit(&state, idem, move |r| {
        let mut entry = load_till(r, &id)?;
        let pairs: Vec<(i64, i64)> = req
            .denominations
            .iter()
            .map(|d| (d.value, d.count))
            .collect();
        let counted = count(entry.till.float.currency, &pairs).map_err(cash_err)?;
        let in_progress = r.open_sales(&id)?;
        let (expected, over_short) = entry.till.close(counted, in_progress).map_err(cash_err)?;
        entry.closed_at = Some(at);
        tracing::info!(till = %id, counted = counted.minor, expected = expected.minor,
            over_short = over_short.minor, "till closed");
        let event = Event::TillClosed {
            till: id.clone(),
            counted,
            expected,
            by: actor,
        };
        Ok(Decision::new(vec![event], StatusCode::OK, view(&entry)))
    })
    .await
}

/// The X report: the till's current (or last) session, running totals.
#[utoipa::path(get, path = "/v1/pos/tills/{id}/x", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "till id")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn x_report(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    read(&state, move |r| Ok(Json(view(&load_till(r, &id)?)))).await
}

/// The Z reports: every closed session of the till, oldest first.
#[utoipa::path(get, path = "/v1/pos/tills/{id}/z", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "till id")),
    responses((status = 200, body = [Object])))]
pub async fn z_reports(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    read(&state, move |r| {
        Ok(Json(r.z_reports(&id)?.iter().map(view).collect()))
    })
    .await
}

/// Totals of every sale, return and cash movement on this box.
#[utoipa::path(get, path = "/v1/pos/reports/store", tag = "pos", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 409, body = Problem)))]
pub async fn store_report(
    State(state): State<AppState>,
    _p: Principal,
) -> Result<Json<Value>, ApiError> {
    read(&state, |r| {
        let c = catalog_of(r)?;
        let report = r
            .store_report()?
            .unwrap_or_else(|| crate::domain::report::Report::new(c.currency));
        Ok(Json(json!(report)))
    })
    .await
}

/// The most ledger entries one offline report lists.
pub const MAX_LEDGER: usize = 500;

/// The offline ledger: completed transactions the cloud has not acknowledged yet (journaled
/// after the link's watermark), how many, the oldest and its age, and how many completed while
/// the cloud was unreachable. Lists at most [`MAX_LEDGER`], oldest first.
#[utoipa::path(get, path = "/v1/pos/reports/offline", tag = "pos", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
pub async fn offline_report(
    State(state): State<AppState>,
    _p: Principal,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.clone();
    let connected = state.cloud_reachable();
    read(&state, move |r| {
        let watermark = store.link_watermark()?;
        let count = r.ledger_count_after(watermark)?;
        let entries = r.ledger_after(watermark, MAX_LEDGER)?;
        let now = crate::clock::now();
        let oldest = entries.first();
        let offline = entries
            .iter()
            .filter(|e| !e.settlement.cloud_reachable)
            .count();
        Ok(Json(json!({
            "cloud_connected": connected,
            "watermark": watermark,
            "unacknowledged": count,
            "completed_offline": offline,
            "oldest_at": oldest.map(|e| rfc3339(e.at)),
            "oldest_age_ms": oldest.map(|e| now.0.saturating_sub(e.at.0).max(0)),
            "entries": entries.iter().map(|e| json!({
                "seq": e.seq,
                "kind": e.kind,
                "id": e.id,
                "at": rfc3339(e.at),
                "amount": e.amount,
                "cloud_reachable": e.settlement.cloud_reachable,
            })).collect::<Vec<_>>(),
        })))
    })
    .await
}

/// The store's sales analysis: sales by hour of day (UTC) and by associate, tax per
/// jurisdiction (collected and refunded), returns with and without a receipt, discounts per
/// promotion, and the store report's totals by tender.
#[utoipa::path(get, path = "/v1/pos/reports/sales", tag = "pos", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 409, body = Problem)))]
pub async fn sales_report(
    State(state): State<AppState>,
    _p: Principal,
) -> Result<Json<Value>, ApiError> {
    read(&state, |r| {
        let c = catalog_of(r)?;
        let a = r
            .analysis()?
            .unwrap_or_else(|| crate::domain::report::Analysis::new(c.currency));
        let by_tender = r
            .store_report()?
            .map(|rep| rep.by_tender)
            .unwrap_or_default();
        let mut v = json!(a);
        v["by_tender"] = json!(by_tender);
        Ok(Json(v))
    })
    .await
}
