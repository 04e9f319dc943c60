//! Sale endpoints: open a cart, change it, take tenders, complete or void it.
//!
//! Each change is one `SaleChanged` event decided by [`Cart::apply`]; completion journals the
//! sale's one `SaleCompletedV2` record and, in the same transaction, the receipt's print job.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use protocol::event::Actor;
use protocol::pos::{CartOp, Settlement, Tender, TenderKind};
use protocol::{CustomerId, Event, Money, SaleId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{catalog_of, check_text, check_till, idem, parse_id, read, receipt, MANAGER};
use crate::api::extract::{ApiJson, IdemKey, Principal};
use crate::api::problem::{ApiError, Problem};
use crate::api::write::{commit, Decision};
use crate::api::AppState;
use crate::clock::{now, rfc3339};
use crate::devices::manager::DeviceManager;
use crate::domain::barcode::Barcode;
use crate::domain::catalog::Catalog;
use crate::domain::promo::{check_coupon, check_coupon_uses, PromotionError};
use crate::domain::sale::{Cart, CartState, PricingContext, SaleError};
use crate::domain::tax::ExemptionBy;
use crate::store::pos::SaleEntry;
use crate::store::Reader;

/// A domain refusal as a problem: state conflicts are 409, bad input 422 naming the field.
pub(crate) fn sale_err(e: SaleError) -> ApiError {
    match e {
        SaleError::NotOpen(_) | SaleError::LinesFrozen => ApiError::Conflict(e.to_string()),
        SaleError::Money(_) | SaleError::Tax(_) => ApiError::Conflict(e.to_string()),
        other => ApiError::field(other.field(), other.to_string()),
    }
}

pub(crate) fn load_sale(r: &Reader<'_>, id: SaleId) -> Result<SaleEntry, ApiError> {
    r.sale(id)?
        .ok_or_else(|| ApiError::NotFound(format!("no sale {id}")))
}

fn state_name(s: CartState) -> &'static str {
    match s {
        CartState::Open => "open",
        CartState::Completed => "completed",
        CartState::Voided => "voided",
    }
}

/// The sale as clients see it: its record once completed, else the cart priced now.
pub fn sale_view(e: &SaleEntry, c: &Catalog, at: Timestamp) -> Result<Value, ApiError> {
    let mut v = json!({
        "id": e.id,
        "state": state_name(e.cart.state),
        "till": e.cart.till,
        "currency": e.cart.currency,
        "opened_at": rfc3339(e.opened_at),
        "customer": e.cart.customer,
        "coupons": e.cart.coupons,
        "tenders": e.cart.tenders,
        "returned": e.returned.quantities,
        "void_reason": e.void_reason,
        "tax_exemption": e.cart.exemption,
    });
    if let Some(rec) = &e.record {
        v["lines"] = json!(rec.lines);
        for (k, m) in [
            ("subtotal", rec.subtotal),
            ("discount", rec.discount),
            ("tax", rec.tax),
            ("total", rec.total),
            ("change", rec.change),
        ] {
            v[k] = json!(m);
        }
        v["completed_at"] = json!(e.completed_at.map(rfc3339));
        return Ok(v);
    }
    let p = e.cart.price(&pricing(c, at)).map_err(sale_err)?;
    v["lines"] = json!(p.lines);
    for (k, m) in [
        ("subtotal", p.subtotal),
        ("discount", p.discount),
        ("tax", p.tax),
        ("total", p.total),
        ("paid", p.paid),
        ("due", p.due),
        ("cash_due", p.cash_due),
        ("cash_rounding", p.cash_rounding),
    ] {
        v[k] = json!(m);
    }
    Ok(v)
}

/// The pricing context of catalog `c` at `at`.
pub(crate) fn pricing(c: &Catalog, at: Timestamp) -> PricingContext<'_> {
    PricingContext {
        promotions: &c.promotions,
        tax: &c.tax,
        at,
    }
}

/// Decides one cart change: `op_of` builds the change from the cart and the catalog.
fn change(
    r: &Reader<'_>,
    sale: SaleId,
    at: Timestamp,
    op_of: impl FnOnce(&SaleEntry, &Catalog) -> Result<CartOp, ApiError>,
) -> Result<Decision, ApiError> {
    let entry = load_sale(r, sale)?;
    let c = catalog_of(r)?;
    let op = op_of(&entry, &c)?;
    let mut next = entry.clone();
    next.cart.apply(&op).map_err(sale_err)?;
    let body = sale_view(&next, &c, at)?;
    Ok(Decision::new(
        vec![Event::SaleChanged { sale, op }],
        StatusCode::OK,
        body,
    ))
}

/// Decides and journals one change of the sale `id`, for `POST /v1/pos/sales/{id}/{suffix}`
/// with `body`; `op_of` builds the change from the projections, the sale, the catalog, the body
/// and the time of the request.
async fn cart_change<B>(
    state: &AppState,
    p: &Principal,
    key: &IdemKey,
    id: &str,
    suffix: &str,
    body: B,
    op_of: impl FnOnce(&Reader<'_>, &SaleEntry, &Catalog, &B, Timestamp) -> Result<CartOp, ApiError>
        + Send
        + 'static,
) -> Result<Response, ApiError>
where
    B: Serialize + Send + 'static,
{
    let sale = parse_id("id", id)?;
    let path = format!("/v1/pos/sales/{sale}/{suffix}");
    let idem = idem(p, key, "POST", &path, &body);
    let at = now();
    commit(state, idem, move |r| {
        change(r, sale, at, |e, c| op_of(r, e, c, &body, at))
    })
    .await
}

/// A new sale.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSale {
    /// The till the sale rings on; needed for cash. Must be open.
    #[serde(default)]
    pub till: Option<String>,
}

/// Opens a cart in the catalog's currency.
#[utoipa::path(post, path = "/v1/pos/sales", tag = "pos", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = CreateSale,
    responses((status = 201, body = Object), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    ApiJson(req): ApiJson<CreateSale>,
) -> Result<Response, ApiError> {
    if let Some(t) = &req.till {
        check_till("till", t)?;
    }
    let idem = idem(&p, &key, "POST", "/v1/pos/sales", &req);
    let (actor, at) = (p.actor(), now());
    commit(&state, idem, move |r| {
        let c = catalog_of(r)?;
        if let Some(t) = &req.till {
            match r.till(t)? {
                Some(e) if e.till.open => {}
                _ => return Err(ApiError::Conflict(format!("till {t:?} is not open"))),
            }
        }
        let sale = SaleId::random();
        let entry = SaleEntry {
            id: sale,
            opened_at: at,
            cart: Cart::open(req.till.clone(), c.currency, actor.clone()),
            record: None,
            completed_at: None,
            completed_seq: None,
            returned: Default::default(),
            void_reason: None,
        };
        let body = sale_view(&entry, &c, at)?;
        let event = Event::SaleOpened {
            sale,
            till: req.till.clone(),
            currency: c.currency,
            by: actor,
        };
        tracing::info!(sale = %sale, till = ?req.till, "sale opened");
        Ok(Decision::new(vec![event], StatusCode::CREATED, body))
    })
    .await
}

/// One sale, priced now (or as completed).
#[utoipa::path(get, path = "/v1/pos/sales/{id}", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "sale id")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let sale = parse_id("id", &id)?;
    read(&state, move |r| {
        let e = load_sale(r, sale)?;
        let c = catalog_of(r)?;
        Ok(Json(sale_view(&e, &c, now())?))
    })
    .await
}

fn default_quantity() -> i64 {
    1
}

/// An item to add: exactly one of `sku` and `barcode`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLine {
    #[serde(default)]
    pub sku: Option<String>,
    /// As scanned: GTIN-8/12/13/14 or a store code.
    #[serde(default)]
    pub barcode: Option<String>,
    #[serde(default = "default_quantity")]
    pub quantity: i64,
}

/// Adds a line by SKU or scanned barcode at the price in effect now.
#[utoipa::path(post, path = "/v1/pos/sales/{id}/lines", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "sale id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = AddLine,
    responses((status = 200, body = Object), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_line(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AddLine>,
) -> Result<Response, ApiError> {
    cart_change(&state, &p, &key, &id, "lines", req, |r, e, c, req, at| {
        Ok(CartOp::AddLine {
            line: e.cart.next_line(),
            item: resolve_item(r, c, req, at)?,
            quantity: req.quantity,
        })
    })
    .await
}

/// The cart line of an item asked for by SKU or barcode, at its price in effect at `at`.
pub(crate) fn resolve_item(
    r: &Reader<'_>,
    c: &Catalog,
    req: &AddLine,
    at: Timestamp,
) -> Result<protocol::pos::LineItem, ApiError> {
    let (field, item) = match (&req.sku, &req.barcode) {
        (Some(sku), None) => ("sku", r.item(sku)?),
        (None, Some(code)) => {
            let key = Barcode::parse(code)
                .map_err(|e| ApiError::field("barcode", e.to_string()))?
                .key();
            ("barcode", r.item_by_barcode(&key)?)
        }
        _ => {
            return Err(ApiError::field(
                "sku",
                "give exactly one of sku and barcode",
            ))
        }
    };
    let item = item.ok_or_else(|| ApiError::field(field, "no such item in the catalog"))?;
    let price = r
        .price_of(c, &item.sku, at)?
        .ok_or_else(|| ApiError::field(field, format!("{} has no price in effect", item.sku)))?;
    Ok(item.line_item(price))
}

/// A line's new quantity; zero removes the line.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantity {
    pub quantity: i64,
}

/// Changes a line's quantity (zero removes it).
#[utoipa::path(post, path = "/v1/pos/sales/{id}/lines/{line}/quantity", tag = "pos",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "sale id"),
        ("line" = u32, Path, description = "line number"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = SetQuantity,
    responses((status = 200, body = Object), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn set_quantity(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path((id, line)): Path<(String, u32)>,
    ApiJson(req): ApiJson<SetQuantity>,
) -> Result<Response, ApiError> {
    let suffix = format!("lines/{line}/quantity");
    cart_change(
        &state,
        &p,
        &key,
        &id,
        &suffix,
        req,
        move |_, _, _, req, _| {
            Ok(CartOp::SetQuantity {
                line,
                quantity: req.quantity,
            })
        },
    )
    .await
}

/// A manager's unit price for a line.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverridePrice {
    #[schema(value_type = Object)]
    pub unit_price: Money,
    pub reason: String,
}

/// Overrides a line's unit price (managers), with a reason kept on the receipt and journal.
#[utoipa::path(post, path = "/v1/pos/sales/{id}/lines/{line}/price", tag = "pos",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "sale id"),
        ("line" = u32, Path, description = "line number"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = OverridePrice,
    responses((status = 200, body = Object), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn override_price(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path((id, line)): Path<(String, u32)>,
    ApiJson(req): ApiJson<OverridePrice>,
) -> Result<Response, ApiError> {
    p.require(MANAGER)?;
    check_text("reason", &req.reason)?;
    let suffix = format!("lines/{line}/price");
    let actor = p.actor();
    cart_change(
        &state,
        &p,
        &key,
        &id,
        &suffix,
        req,
        move |_, _, _, req, _| {
            Ok(CartOp::OverridePrice {
                line,
                unit_price: req.unit_price,
                reason: req.reason.trim().to_owned(),
                by: actor,
            })
        },
    )
    .await
}

/// A coupon code.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyCoupon {
    pub code: String,
}

/// Enters a coupon; it must belong to a promotion in effect, and counts once per sale.
#[utoipa::path(post, path = "/v1/pos/sales/{id}/coupons", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "sale id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = ApplyCoupon,
    responses((status = 200, body = Object), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn coupon(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ApplyCoupon>,
) -> Result<Response, ApiError> {
    cart_change(&state, &p, &key, &id, "coupons", req, |r, e, c, req, at| {
        let code = req.code.trim().to_ascii_uppercase();
        check_coupon(&c.promotions, &code, at)
            .map_err(|e| ApiError::field("code", e.to_string()))?;
        check_coupon_limits(r, c, &e.cart, std::slice::from_ref(&code), false)?;
        Ok(CartOp::ApplyCoupon { code })
    })
    .await
}

/// Why a sale is exempted from tax.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExemptTax {
    /// The certificate number or reason, journaled with the sale.
    pub reason: String,
}

/// Exempts the sale from tax with a reason: a manager, or an associate when the catalog's tax
/// configuration allows (`exemption_by`). Not in stores whose prices include tax.
#[utoipa::path(post, path = "/v1/pos/sales/{id}/exemption", tag = "pos",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "sale id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = ExemptTax,
    responses((status = 200, body = Object), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn exempt(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ExemptTax>,
) -> Result<Response, ApiError> {
    check_text("reason", &req.reason)?;
    let (actor, by) = (p.actor(), p.clone());
    cart_change(
        &state,
        &p,
        &key,
        &id,
        "exemption",
        req,
        move |_, _, c, req, _| {
            if c.tax.exemption_by == ExemptionBy::Manager {
                by.require(MANAGER)?;
            }
            if c.tax.inclusive {
                return Err(sale_err(SaleError::ExemptInclusive));
            }
            Ok(CartOp::ExemptTax {
                reason: req.reason.trim().to_owned(),
                by: actor,
            })
        },
    )
    .await
}

/// Refuses `codes` whose use limits the completed sales have reached. A per-customer limit
/// needs the customer attached when the sale `completes`.
fn check_coupon_limits(
    r: &Reader<'_>,
    c: &Catalog,
    cart: &Cart,
    codes: &[String],
    completes: bool,
) -> Result<(), ApiError> {
    for code in codes {
        let Some(p) = c
            .promotions
            .iter()
            .find(|p| p.coupon.as_deref() == Some(code.as_str()))
        else {
            continue;
        };
        let (used, mine) = r.coupon_uses(code, cart.customer)?;
        match check_coupon_uses(p, code, used, mine) {
            Err(PromotionError::CouponNeedsCustomer(_)) if !completes => {}
            Err(e) => return Err(ApiError::field("code", e.to_string())),
            Ok(()) => {}
        }
    }
    Ok(())
}

/// The customer a sale is for.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachCustomer {
    pub customer: String,
}

/// Attaches a customer profile to the sale.
#[utoipa::path(post, path = "/v1/pos/sales/{id}/customer", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "sale id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = AttachCustomer,
    responses((status = 200, body = Object), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn customer(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AttachCustomer>,
) -> Result<Response, ApiError> {
    let customer: CustomerId = req
        .customer
        .parse()
        .map_err(|_| ApiError::field("customer", "not a customer id (UUID)"))?;
    cart_change(
        &state,
        &p,
        &key,
        &id,
        "customer",
        req,
        move |r, _, _, _, _| {
            if r.customer(customer)?.is_none() {
                return Err(ApiError::field("customer", "no such customer"));
            }
            Ok(CartOp::AttachCustomer { customer })
        },
    )
    .await
}

/// A payment.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTender {
    #[schema(value_type = String, example = "cash")]
    pub kind: TenderKind,
    #[schema(value_type = Object)]
    pub amount: Money,
    /// The terminal's authorisation reference, gift card or credit note; not for cash.
    #[serde(default)]
    pub reference: Option<String>,
}

/// Takes a tender: cash (may exceed what is due; change is given), card by its terminal
/// reference, gift card or store credit (never more than is due).
#[utoipa::path(post, path = "/v1/pos/sales/{id}/tenders", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "sale id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = AddTender,
    responses((status = 200, body = Object), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn tender(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AddTender>,
) -> Result<Response, ApiError> {
    cart_change(&state, &p, &key, &id, "tenders", req, |_, e, c, req, at| {
        if req.kind == TenderKind::Cash && e.cart.till.is_none() {
            return Err(ApiError::field(
                "kind",
                "cash needs a sale opened on a till",
            ));
        }
        let tender = Tender {
            kind: req.kind,
            amount: req.amount,
            reference: req.reference.clone(),
        };
        let priced = e.cart.price(&pricing(c, at)).map_err(sale_err)?;
        e.cart.check_tender(&priced, &tender).map_err(sale_err)?;
        Ok(CartOp::AddTender { tender })
    })
    .await
}

/// Completes a fully paid sale: journals its record and queues the receipt on the receipt
/// printer, if the box has one, in the same transaction.
#[utoipa::path(post, path = "/v1/pos/sales/{id}/complete", tag = "pos",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "sale id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 200, body = Object), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn complete(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let sale = parse_id("id", &id)?;
    let path = format!("/v1/pos/sales/{sale}/complete");
    let idem = idem(&p, &key, "POST", &path, &());
    let (actor, at) = (p.actor(), now());
    let devices = state.devices.clone();
    let store_id = state.store.store_id().clone();
    // Set by the decision only, so a replayed answer never opens the drawer again.
    let took_cash = Arc::new(AtomicBool::new(false));
    let cash_flag = took_cash.clone();
    let reachable = state.cloud_reachable();
    let resp = commit(&state, idem, move |r| {
        let entry = load_sale(r, sale)?;
        let c = catalog_of(r)?;
        let priced = entry.cart.price(&pricing(&c, at)).map_err(sale_err)?;
        let record = entry.cart.complete(&priced, actor).map_err(sale_err)?;
        check_coupon_limits(r, &c, &entry.cart, &record.coupons, true)?;
        let mut next = entry.clone();
        next.cart.mark(CartState::Completed).map_err(sale_err)?;
        next.record = Some(record.clone());
        next.completed_at = Some(at);
        let mut body = sale_view(&next, &c, at)?;
        let mut below_zero = Vec::new();
        for l in &record.lines {
            if r.on_hand(&l.item.sku)? - l.quantity < 0 {
                below_zero.push(l.item.sku.clone());
            }
        }
        if !below_zero.is_empty() {
            tracing::warn!(sale = %sale, skus = ?below_zero, "sold below zero on-hand stock");
        }
        body["below_zero"] = json!(below_zero);
        let cash = record.tenders.iter().any(|t| t.kind == TenderKind::Cash);
        cash_flag.store(cash, Ordering::SeqCst);
        let doc = receipt::document(&store_id, sale, &record, at);
        let job = receipt::print_job(devices.as_deref(), &doc);
        tracing::info!(sale = %sale, total = record.total.minor, lines = record.lines.len(),
            receipt = job.is_some(), "sale completed");
        body["receipt_job"] = json!(job.as_ref().map(|j| j.id));
        let settlement = Settlement {
            cash_rounding: priced.cash_rounding,
            exemption: entry.cart.exemption.clone(),
            ..super::returns::settlement(reachable, record.total.currency)
        };
        body["cash_rounding"] = json!(priced.cash_rounding);
        let event = Event::SaleCompletedV2 {
            sale,
            record,
            settlement,
        };
        let mut d = Decision::new(vec![event], StatusCode::OK, body);
        if let Some(job) = job {
            d = d.with_print_job(job);
        }
        Ok(d)
    })
    .await?;
    if let Some(devices) = state.devices.clone() {
        if let Some((name, _)) = receipt::printer(&devices) {
            devices.wake(&name);
        }
        if took_cash.load(Ordering::SeqCst) {
            open_drawer(devices, sale).await;
        }
    }
    Ok(resp)
}

/// Prints a completed sale's receipt again on the receipt printer; answers the print job.
#[utoipa::path(post, path = "/v1/pos/sales/{id}/receipt", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "sale id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 202, body = Object), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn reprint(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let sale = parse_id("id", &id)?;
    let idem = idem(
        &p,
        &key,
        "POST",
        &format!("/v1/pos/sales/{sale}/receipt"),
        &(),
    );
    let devices = state.devices.clone();
    let store_id = state.store.store_id().clone();
    let resp = commit(&state, idem, move |r| {
        let entry = load_sale(r, sale)?;
        let rec = entry
            .record
            .as_ref()
            .ok_or_else(|| ApiError::Conflict(format!("sale {sale} is not completed")))?;
        let at = entry.completed_at.unwrap_or(entry.opened_at);
        let doc = receipt::document(&store_id, sale, rec, at);
        let job = receipt::print_job(devices.as_deref(), &doc)
            .ok_or_else(|| ApiError::Conflict("this box has no receipt printer".into()))?;
        let body = json!({"sale": sale, "receipt_job": job.id});
        tracing::info!(sale = %sale, job = %job.id, "receipt reprinted");
        Ok(Decision::new(vec![], StatusCode::ACCEPTED, body).with_print_job(job))
    })
    .await?;
    if let Some(devices) = state.devices.clone() {
        if let Some((name, _)) = receipt::printer(&devices) {
            devices.wake(&name);
        }
    }
    Ok(resp)
}

/// Opens the first cash drawer after a cash sale. The sale is already durable, so a drawer
/// that does not open is logged, not answered as an error.
async fn open_drawer(devices: Arc<DeviceManager>, sale: SaleId) {
    let Some(drawer) = devices.list().into_iter().find(|d| d.kind == "drawer") else {
        return;
    };
    let name = drawer.name;
    let d = devices.clone();
    let n = name.clone();
    match tokio::task::spawn_blocking(move || d.open_drawer(&n)).await {
        Ok(Ok(())) => tracing::info!(sale = %sale, device = %name, "drawer opened for cash"),
        Ok(Err(e)) => tracing::warn!(sale = %sale, device = %name, error = %e,
            "the drawer did not open for a cash sale"),
        Err(e) => tracing::warn!(sale = %sale, error = %e, "drawer task failed"),
    }
}

/// Why a sale is voided.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidSale {
    pub reason: String,
}

/// Voids an open sale. A sale with tenders needs a manager (refund them outside the box).
#[utoipa::path(post, path = "/v1/pos/sales/{id}/void", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "sale id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = VoidSale,
    responses((status = 200, body = Object), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn void(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<VoidSale>,
) -> Result<Response, ApiError> {
    let sale = parse_id("id", &id)?;
    check_text("reason", &req.reason)?;
    let idem = idem(
        &p,
        &key,
        "POST",
        &format!("/v1/pos/sales/{sale}/void"),
        &req,
    );
    let at = now();
    let by = p.clone();
    commit(&state, idem, move |r| {
        let entry = load_sale(r, sale)?;
        let c = catalog_of(r)?;
        if !entry.cart.tenders.is_empty() {
            by.require(MANAGER)?;
        }
        let mut next = entry.clone();
        next.cart.mark(CartState::Voided).map_err(sale_err)?;
        next.void_reason = Some(req.reason.trim().to_owned());
        let body = sale_view(&next, &c, at)?;
        let event = Event::SaleVoided {
            sale,
            reason: req.reason.trim().to_owned(),
            by: Actor::Token(by.token),
        };
        Ok(Decision::new(vec![event], StatusCode::OK, body))
    })
    .await
}

/// Where to email a receipt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailReceipt {
    pub to: String,
}

/// Queues a completed sale's receipt for email (text and HTML), sent by the cloud.
#[utoipa::path(post, path = "/v1/pos/sales/{id}/email", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "sale id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = EmailReceipt,
    responses((status = 202, body = Object), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn email(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EmailReceipt>,
) -> Result<Response, ApiError> {
    let sale = parse_id("id", &id)?;
    let to = super::customers::check_email("to", &req.to)?;
    let idem = idem(
        &p,
        &key,
        "POST",
        &format!("/v1/pos/sales/{sale}/email"),
        &req,
    );
    let actor = p.actor();
    commit(&state, idem, move |r| {
        let entry = load_sale(r, sale)?;
        if entry.record.is_none() {
            return Err(ApiError::Conflict(format!("sale {sale} is not completed")));
        }
        let body = json!({"sale": sale, "to": to, "state": "queued"});
        let event = Event::ReceiptEmailRequested {
            sale,
            to,
            by: actor,
        };
        Ok(Decision::new(vec![event], StatusCode::ACCEPTED, body))
    })
    .await
}

/// Email receipts waiting for the cloud, oldest first (managers).
#[utoipa::path(get, path = "/v1/pos/outbox", tag = "pos", security(("bearer" = [])),
    responses((status = 200, body = [Object]), (status = 403, body = Problem)))]
pub async fn outbox(State(state): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(MANAGER)?;
    read(&state, |r| Ok(Json(json!(r.outbox()?)))).await
}
