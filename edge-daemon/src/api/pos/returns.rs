//! Returns against a completed sale, found by its id (the QR code on the receipt), and
//! returns without a receipt under the catalog policy (managers only).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use protocol::pos::{Settlement, Tender, TenderKind};
use protocol::{Currency, Event, SaleId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::sales::{load_sale, resolve_item, AddLine};
use super::{catalog_of, check_text, check_till, idem, parse_id, read, MANAGER};
use crate::api::extract::{ApiJson, IdemKey, Principal};
use crate::api::problem::{ApiError, Problem};
use crate::api::write::{commit, Decision};
use crate::api::AppState;
use crate::clock::rfc3339;
use crate::domain::returns::{plan_no_receipt, plan_return, within_window, NoReceipt, ReturnError};
use crate::store::pos::{ReturnEntry, SaleEntry};
use crate::store::Reader;

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

pub(crate) fn view(e: &ReturnEntry) -> Value {
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

pub(crate) fn return_err(e: ReturnError) -> ApiError {
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
    let reachable = state.cloud_reachable();
    commit(&state, idem, move |r| {
        let entry = load_sale(r, original)?;
        let sold = entry
            .record
            .as_ref()
            .ok_or_else(|| ApiError::Conflict(format!("sale {original} is not completed")))?;
        check_window(r, &entry, &by, at)?;
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
        check_cash(r, req.till.as_deref(), &[], &rec.refunds, 0)?;
        let id = SaleId::random();
        let body = view(&ReturnEntry {
            id,
            original: Some(original),
            at,
            record: rec.clone(),
        });
        tracing::info!(return_id = %id, original = %original, total = rec.total.minor,
            "return completed");
        let event = Event::ReturnCompletedV2 {
            id,
            original,
            settlement: settlement(reachable, rec.total.currency),
            record: rec,
        };
        Ok(Decision::new(vec![event], StatusCode::CREATED, body))
    })
    .await
}

/// The settlement of a transaction completing now, with the link's state read at the request.
pub(crate) fn settlement(cloud_reachable: bool, currency: Currency) -> Settlement {
    Settlement {
        cloud_reachable,
        ..Settlement::legacy(currency)
    }
}

/// Outside the catalog policy's return window only a manager may take a sale back.
pub(crate) fn check_window(
    r: &Reader<'_>,
    entry: &SaleEntry,
    by: &Principal,
    at: Timestamp,
) -> Result<(), ApiError> {
    let days = catalog_of(r)?.policy.return_days;
    let sold_at = entry.completed_at.unwrap_or(entry.opened_at);
    if !within_window(sold_at, at, days) && by.require(MANAGER).is_err() {
        return Err(ApiError::Conflict(format!(
            "sale {} is outside the return window of {} days; a manager can accept the return",
            entry.id,
            days.unwrap_or_default()
        )));
    }
    Ok(())
}

/// Checks the cash a transaction moves through `till`: any cash needs an open till, and what
/// leaves the drawer (cash `refunds` minus cash `tenders` net of `change`) must be in it.
pub(crate) fn check_cash(
    r: &Reader<'_>,
    till: Option<&str>,
    tenders: &[Tender],
    refunds: &[Tender],
    change: i64,
) -> Result<(), ApiError> {
    let cash = |ts: &[Tender]| -> i64 {
        ts.iter()
            .filter(|t| t.kind == TenderKind::Cash)
            .map(|t| t.amount.minor)
            .sum()
    };
    let (cash_in, cash_out) = (cash(tenders) - change, cash(refunds));
    let any = tenders
        .iter()
        .chain(refunds)
        .any(|t| t.kind == TenderKind::Cash);
    if !any {
        return Ok(());
    }
    let till = till.ok_or_else(|| ApiError::field("till", "cash needs an open till"))?;
    let t = r
        .till(till)?
        .filter(|t| t.till.open)
        .ok_or_else(|| ApiError::Conflict(format!("till {till:?} is not open")))?;
    let in_drawer = t
        .till
        .expected()
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    let out = cash_out - cash_in;
    if out > in_drawer.minor {
        return Err(ApiError::Conflict(format!(
            "the cash refund {out} is more than till {till:?} holds ({})",
            in_drawer.minor
        )));
    }
    Ok(())
}

/// A return without a receipt (managers).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNoReceiptReturn {
    /// The items brought back, by SKU or barcode.
    pub items: Vec<AddLine>,
    pub reason: String,
    /// The till a cash refund comes from.
    #[serde(default)]
    pub till: Option<String>,
}

/// Takes items back without a receipt (managers), priced and refunded by the catalog policy's
/// `no_receipt` rules: current or lowest price, store credit or cash, up to a limit.
#[utoipa::path(post, path = "/v1/pos/returns/no-receipt", tag = "pos",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = CreateNoReceiptReturn,
    responses((status = 201, body = Object), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_no_receipt(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    ApiJson(req): ApiJson<CreateNoReceiptReturn>,
) -> Result<Response, ApiError> {
    p.require(MANAGER)?;
    check_text("reason", &req.reason)?;
    if let Some(t) = &req.till {
        check_till("till", t)?;
    }
    let idem = idem(&p, &key, "POST", "/v1/pos/returns/no-receipt", &req);
    let (actor, at) = (p.actor(), crate::clock::now());
    let reachable = state.cloud_reachable();
    commit(&state, idem, move |r| {
        let c = catalog_of(r)?;
        let policy = c.policy.no_receipt.clone().ok_or_else(|| {
            ApiError::Conflict("the store's policy takes no returns without a receipt".into())
        })?;
        let mut items = Vec::with_capacity(req.items.len());
        for ask in &req.items {
            let mut item = resolve_item(r, &c, ask, at)?;
            item.unit_price = r
                .price_by(&c, &item.sku, policy.basis, at)?
                .ok_or_else(|| {
                    ApiError::field("items", format!("{} has no price to refund", item.sku))
                })?;
            items.push((item, ask.quantity));
        }
        let id = SaleId::random();
        let plan = NoReceipt {
            items: &items,
            policy: &policy,
            tax: &c.tax,
            credit_note: format!("CN-{id}"),
            till: req.till.clone(),
            reason: req.reason.trim().to_owned(),
            by: actor,
        };
        let rec = plan_no_receipt(&plan).map_err(return_err)?;
        check_cash(r, req.till.as_deref(), &[], &rec.refunds, 0)?;
        let mut body = view(&ReturnEntry {
            id,
            original: None,
            at,
            record: rec.clone(),
        });
        body["basis"] = json!(policy.basis);
        tracing::info!(return_id = %id, total = rec.total.minor, "return without a receipt");
        let event = Event::ReturnWithoutReceipt {
            id,
            settlement: settlement(reachable, rec.total.currency),
            basis: policy.basis,
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
