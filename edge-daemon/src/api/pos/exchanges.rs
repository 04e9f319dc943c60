//! Exchanges: items of a completed sale taken back and new items sold in one request, one
//! journal event ([`Event::ExchangeCompleted`]), decided by [`crate::domain::exchange`].
//!
//! The new sale gets the exchange's id: its receipt is printed like a sale's, and its items can
//! later be returned against that id.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use protocol::pos::{CartOp, Tender, TenderKind};
use protocol::{Event, SaleId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::returns::{check_cash, check_window, return_err, settlement, ReturnLine};
use super::sales::{load_sale, pricing, resolve_item, sale_err, AddLine, AddTender};
use super::{catalog_of, check_text, check_till, idem, parse_id, receipt};
use crate::api::extract::{ApiJson, IdemKey, Principal};
use crate::api::problem::{ApiError, Problem};
use crate::api::write::{commit, Decision};
use crate::api::AppState;
use crate::clock::now;
use crate::domain::exchange::{plan_exchange, ExchangeError, ExchangeRequest};
use crate::domain::sale::Cart;

/// An exchange against a receipt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExchange {
    /// The original sale's id (the QR code on its receipt).
    pub sale: String,
    /// Lines of the original sale taken back.
    pub return_lines: Vec<ReturnLine>,
    /// The new items, by SKU or barcode.
    pub items: Vec<AddLine>,
    /// Tenders for a positive balance; none when the new items cost no more.
    #[serde(default)]
    pub tenders: Vec<AddTender>,
    pub reason: String,
    /// The till for cash (balance paid or refunded in cash).
    #[serde(default)]
    pub till: Option<String>,
}

fn exchange_err(e: ExchangeError) -> ApiError {
    match e {
        ExchangeError::Return(r) => return_err(r),
        ExchangeError::Sale(s) => sale_err(s),
        ExchangeError::Money(_) => ApiError::Conflict(e.to_string()),
        other => ApiError::field(other.field(), other.to_string()),
    }
}

/// Exchanges items of a completed sale for new ones: the returned items pay for the new ones,
/// the balance is paid with `tenders` or refunded to the original tenders. Answers the
/// exchange with the new sale's id, and queues its receipt.
#[utoipa::path(post, path = "/v1/pos/exchanges", tag = "pos", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = CreateExchange,
    responses((status = 201, body = Object), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    ApiJson(req): ApiJson<CreateExchange>,
) -> Result<Response, ApiError> {
    let original = parse_id("sale", &req.sale)?;
    check_text("reason", &req.reason)?;
    if let Some(t) = &req.till {
        check_till("till", t)?;
    }
    let idem = idem(&p, &key, "POST", "/v1/pos/exchanges", &req);
    let (actor, at, by) = (p.actor(), now(), p.clone());
    let reachable = state.cloud_reachable();
    let devices = state.devices.clone();
    let store_id = state.store.store_id().clone();
    commit(&state, idem, move |r| {
        let entry = load_sale(r, original)?;
        let sold = entry
            .record
            .as_ref()
            .ok_or_else(|| ApiError::Conflict(format!("sale {original} is not completed")))?;
        check_window(r, &entry, &by, at)?;
        let c = catalog_of(r)?;
        let mut cart = Cart::open(req.till.clone(), c.currency, actor.clone());
        for item in &req.items {
            let op = CartOp::AddLine {
                line: cart.next_line(),
                item: resolve_item(r, &c, item, at)?,
                quantity: item.quantity,
            };
            cart.apply(&op).map_err(sale_err)?;
        }
        let tenders: Vec<Tender> = req
            .tenders
            .iter()
            .map(|t| Tender {
                kind: t.kind,
                amount: t.amount,
                reference: t.reference.clone(),
            })
            .collect();
        if tenders.iter().any(|t| t.kind == TenderKind::Cash) && req.till.is_none() {
            return Err(ApiError::field("till", "cash needs an open till"));
        }
        let lines: Vec<(u32, i64)> = req
            .return_lines
            .iter()
            .map(|l| (l.line, l.quantity))
            .collect();
        let ask = ExchangeRequest {
            original: sold,
            before: &entry.returned,
            lines: &lines,
            cart: &cart,
            tenders: &tenders,
            till: req.till.clone(),
            reason: req.reason.trim().to_owned(),
            by: actor,
        };
        let rec = plan_exchange(&ask, &pricing(&c, at), settlement(reachable, c.currency))
            .map_err(exchange_err)?;
        check_cash(
            r,
            req.till.as_deref(),
            &rec.sold.tenders,
            &rec.returned.refunds,
            rec.sold.change.minor,
        )?;
        let id = SaleId::random();
        let doc = receipt::document(&store_id, id, &rec.sold, at);
        let job = receipt::print_job(devices.as_deref(), &doc);
        let body = json!({
            "id": id,
            "original": original,
            "returned": rec.returned,
            "sold": rec.sold,
            "balance": rec.balance,
            "cloud_reachable": rec.settlement.cloud_reachable,
            "receipt_job": job.as_ref().map(|j| j.id),
        });
        tracing::info!(exchange = %id, original = %original, balance = rec.balance.minor,
            "exchange completed");
        let event = Event::ExchangeCompleted {
            id,
            original,
            record: rec,
        };
        let mut d = Decision::new(vec![event], StatusCode::CREATED, body);
        if let Some(job) = job {
            d = d.with_print_job(job);
        }
        Ok(d)
    })
    .await
}
