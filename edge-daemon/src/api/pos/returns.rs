//! Returns against a completed sale, found by its id (the QR code on the receipt).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use protocol::pos::TenderKind;
use protocol::{Event, SaleId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::sales::load_sale;
use super::{catalog_of, check_text, check_till, idem, parse_id, read, MANAGER};
use crate::api::extract::{ApiJson, IdemKey, Principal};
use crate::api::problem::{ApiError, Problem};
use crate::api::write::{commit, Decision};
use crate::api::AppState;
use crate::clock::rfc3339;
use crate::domain::returns::{plan_return, within_window, ReturnError};
use crate::store::pos::ReturnEntry;

/// One line to take back.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLine {
    /// The line number in the original sale.
    pub line: u32,
    pub quantity: i64,
}

/// A return with a receipt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReturn {
    /// The original sale's id.
    pub sale: String,
    pub lines: Vec<ReturnLine>,
    pub reason: String,
    /// The till cash refunds come from; needed when part of the refund is cash.
    #[serde(default)]
    pub till: Option<String>,
}

fn view(e: &ReturnEntry) -> Value {
    json!({
        "id": e.id,
        "original": e.original,
        "at": rfc3339(e.at),
        "till": e.record.till,
        "lines": e.record.lines,
        "total": e.record.total,
        "refunds": e.record.refunds,
        "reason": e.record.reason,
    })
}

fn return_err(e: ReturnError) -> ApiError {
    match e {
        ReturnError::Money(_) => ApiError::Conflict(e.to_string()),
        other => ApiError::field(other.field(), other.to_string()),
    }
}

/// Returns lines of a completed sale, refunded at the price paid to the original tenders.
/// Outside the catalog policy's return window only a manager may.
#[utoipa::path(post, path = "/v1/pos/returns", tag = "pos", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = CreateReturn,
    responses((status = 201, body = Object), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    ApiJson(req): ApiJson<CreateReturn>,
) -> Result<Response, ApiError> {
    let original = parse_id("sale", &req.sale)?;
    check_text("reason", &req.reason)?;
    if let Some(t) = &req.till {
        check_till("till", t)?;
    }
    let idem = idem(&p, &key, "POST", "/v1/pos/returns", &req);
    let actor = p.actor();
    let at = crate::clock::now();
    let by = p.clone();
    commit(&state, idem, move |r| {
        let entry = load_sale(r, original)?;
        let sold = entry
            .record
            .as_ref()
            .ok_or_else(|| ApiError::Conflict(format!("sale {original} is not completed")))?;
        let days = catalog_of(r)?.policy.return_days;
        let sold_at = entry.completed_at.unwrap_or(entry.opened_at);
        if !within_window(sold_at, at, days) && by.require(MANAGER).is_err() {
            return Err(ApiError::Conflict(format!(
                "sale {original} is outside the return window of {} days; a manager can \
                 accept the return",
                days.unwrap_or_default()
            )));
        }
        let lines: Vec<(u32, i64)> = req.lines.iter().map(|l| (l.line, l.quantity)).collect();
        let rec = plan_return(
            sold,
            &entry.returned,
            &lines,
            req.till.clone(),
            req.reason.trim().to_owned(),
            actor,
        )
        .map_err(return_err)?;
        if rec.refunds.iter().any(|t| t.kind == TenderKind::Cash) {
            let till = req
                .till
                .as_deref()
                .ok_or_else(|| ApiError::field("till", "a cash refund needs an open till"))?;
            let t = r
                .till(till)?
                .filter(|t| t.till.open)
                .ok_or_else(|| ApiError::Conflict(format!("till {till:?} is not open")))?;
            let cash: i64 = rec
                .refunds
                .iter()
                .filter(|t| t.kind == TenderKind::Cash)
                .map(|t| t.amount.minor)
                .sum();
            let in_drawer = t
                .till
                .expected()
                .map_err(|e| ApiError::Conflict(e.to_string()))?;
            if cash > in_drawer.minor {
                return Err(ApiError::Conflict(format!(
                    "the cash refund {cash} is more than till {till:?} holds ({})",
                    in_drawer.minor
                )));
            }
        }
        let id = SaleId::random();
        let body = view(&ReturnEntry {
            id,
            original,
            at,
            record: rec.clone(),
        });
        tracing::info!(return_id = %id, original = %original, total = rec.total.minor,
            "return completed");
        let event = Event::ReturnCompleted {
            id,
            original,
            record: rec,
        };
        Ok(Decision::new(vec![event], StatusCode::CREATED, body))
    })
    .await
}

/// One return.
#[utoipa::path(get, path = "/v1/pos/returns/{id}", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "return id")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("id", &id)?;
    read(&state, move |r| {
        let e = r
            .sale_return(id)?
            .ok_or_else(|| ApiError::NotFound(format!("no return {id}")))?;
        Ok(Json(view(&e)))
    })
    .await
}
