//! Catalog endpoints: status, loading a snapshot or delta, item lookup.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use protocol::Role;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::{catalog_of, idem, read};
use crate::api::extract::{ApiJson, ApiQuery, IdemKey, Principal};
use crate::api::problem::{ApiError, Problem};
use crate::api::write::{commit, Decision};
use crate::api::AppState;
use crate::clock::now;
use crate::domain::barcode::Barcode;
use crate::domain::catalog::{Catalog, CatalogError, Item};

/// Most items one search returns.
pub const MAX_RESULTS: usize = 100;

/// The largest catalog document one load may carry, in bytes: its event must stay within an
/// envelope ([`protocol::envelope::MAX_ENCODED_LEN`], 256 KiB). About 1,500 SKUs; a bigger
/// catalog comes as a snapshot in parts.
pub const MAX_DOCUMENT: usize = 240 * 1024;

/// An item with its current price.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemView {
    pub sku: String,
    pub product: String,
    pub name: String,
    pub category: String,
    pub tax_class: String,
    /// Barcodes in lookup form: `g` + GTIN-14, or `s` + store code.
    pub barcodes: Vec<String>,
    /// Minor units, absent if no price book in effect lists the SKU.
    pub price_minor: Option<i64>,
    /// On-hand units from sales and returns; negative is allowed and means "sold below zero".
    pub on_hand: i64,
    pub currency: String,
}

fn view(r: &crate::store::Reader<'_>, item: Item, catalog: &Catalog) -> Result<ItemView, ApiError> {
    let price = r.price_of(catalog, &item.sku, now())?.map(|m| m.minor);
    let on_hand = r.on_hand(&item.sku)?;
    Ok(ItemView {
        sku: item.sku,
        product: item.product,
        name: item.name,
        category: item.category,
        tax_class: item.tax_class,
        barcodes: item.barcodes,
        price_minor: price,
        on_hand,
        currency: catalog.currency.to_string(),
    })
}

/// The loaded catalog's version, currency and size, and a snapshot still arriving in parts.
#[utoipa::path(get, path = "/v1/pos/catalog", tag = "pos", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 409, body = Problem)))]
pub async fn info(State(state): State<AppState>, _p: Principal) -> Result<Json<Value>, ApiError> {
    read(&state, |r| {
        let h = r
            .catalog_head()?
            .ok_or_else(|| ApiError::Conflict("no catalog is loaded on this box".into()))?;
        let c = &h.catalog;
        let arriving = r.catalog_stage()?.map(|s| {
            json!({"version": s.version, "parts": s.parts, "received": s.next,
                "products": s.products, "skus": s.skus})
        });
        Ok(Json(json!({
            "version": c.version,
            "currency": c.currency,
            "tax_inclusive": c.tax.inclusive,
            "products": h.products,
            "skus": h.skus,
            "arriving": arriving,
            "categories": c.categories,
            "promotions": c.promotions.iter().map(|p| json!({
                "id": p.id, "name": p.name, "coupon": p.coupon.is_some()})).collect::<Vec<_>>(),
        })))
    })
    .await
}

/// Which document a load carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoadKind {
    Snapshot,
    Delta,
}

/// A catalog document to load.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadRequest {
    pub kind: LoadKind,
    /// The catalog (snapshot) or delta document, as JSON text. For part 0 of a snapshot in
    /// parts, a catalog document with the first products; for later parts, a chunk:
    /// `{"version", "products", "prices": {book: {sku: minor}}}`.
    pub json: String,
    /// For a snapshot in parts: this part's number, from 0, in order.
    #[serde(default)]
    pub part: Option<u32>,
    /// For a snapshot in parts: how many parts it has.
    #[serde(default)]
    pub parts: Option<u32>,
}

/// Loads a catalog snapshot or delta (managers and technicians). A delta against another
/// version than the loaded one is refused with 409; ask the cloud for a snapshot. A big
/// snapshot comes in parts (`part`, `parts`): the box goes on selling from its current
/// catalog until the last part has arrived, then switches at once; a part out of order is
/// refused with 409.
#[utoipa::path(post, path = "/v1/pos/catalog", tag = "pos", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = LoadRequest,
    responses((status = 200, body = Object), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn load(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    ApiJson(req): ApiJson<LoadRequest>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Manager, Role::Technician])?;
    let idem = idem(&p, &key, "POST", "/v1/pos/catalog", &req);
    let actor = p.actor();
    if req.json.len() > MAX_DOCUMENT {
        return Err(ApiError::field(
            "json",
            format!(
                "the document is {} bytes; one load takes at most {MAX_DOCUMENT} bytes: send a \
                 snapshot in parts (part, parts)",
                req.json.len()
            ),
        ));
    }
    let parts = match (req.kind, req.part, req.parts) {
        (_, None, None) => None,
        (LoadKind::Snapshot, Some(part), Some(parts)) => Some((part, parts)),
        (LoadKind::Delta, _, _) => {
            return Err(ApiError::field("part", "a delta does not come in parts"))
        }
        _ => {
            return Err(ApiError::field(
                "parts",
                "give both part and parts, or neither",
            ))
        }
    };
    commit(&state, idem, move |r| {
        let loaded = match parts {
            None => r.catalog_load(req.kind == LoadKind::Delta, &req.json, actor)?,
            Some((part, parts)) => {
                let version = match serde_json::from_str::<Value>(&req.json)
                    .ok()
                    .and_then(|v| v.get("version").and_then(Value::as_u64))
                {
                    Some(v) => v,
                    None => return Err(ApiError::field("json", "the part has no version")),
                };
                r.catalog_part(version, part, parts, &req.json, actor)?
            }
        };
        let (event, outcome) = loaded.map_err(|e| match e {
            CatalogError::WrongBase { .. }
            | CatalogError::Stale { .. }
            | CatalogError::Part { .. } => ApiError::Conflict(e.to_string()),
            other => ApiError::field("json", other.to_string()),
        })?;
        tracing::info!(
            version = outcome.version,
            kind = ?req.kind,
            part = ?parts,
            skus = outcome.skus,
            in_effect = outcome.in_effect,
            "catalog loaded"
        );
        let body = serde_json::to_value(&outcome).unwrap_or_default();
        Ok(Decision::new(vec![event], StatusCode::OK, body))
    })
    .await
}

/// One item by SKU.
#[utoipa::path(get, path = "/v1/pos/items/{sku}", tag = "pos", security(("bearer" = [])),
    params(("sku" = String, Path, description = "the SKU")),
    responses((status = 200, body = ItemView), (status = 404, body = Problem)))]
pub async fn item(
    State(state): State<AppState>,
    _p: Principal,
    Path(sku): Path<String>,
) -> Result<Json<ItemView>, ApiError> {
    read(&state, move |r| {
        let c = catalog_of(r)?;
        let item = r
            .item(&sku)?
            .ok_or_else(|| ApiError::NotFound(format!("no item with SKU {sku:?}")))?;
        Ok(Json(view(r, item, &c)?))
    })
    .await
}

/// How to look items up: exactly one of the two.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LookupQuery {
    /// A scanned barcode: GTIN-8/12/13/14 or a store code.
    pub barcode: Option<String>,
    /// Words that must all appear in the name or SKU.
    pub q: Option<String>,
}

/// Items by scanned barcode (at most one) or by text search (at most 100, SKU order).
#[utoipa::path(get, path = "/v1/pos/items", tag = "pos", security(("bearer" = [])),
    params(LookupQuery),
    responses((status = 200, body = [ItemView]), (status = 422, body = Problem)))]
pub async fn lookup(
    State(state): State<AppState>,
    _p: Principal,
    ApiQuery(q): ApiQuery<LookupQuery>,
) -> Result<Json<Vec<ItemView>>, ApiError> {
    read(&state, move |r| {
        let c = catalog_of(r)?;
        let items = match (q.barcode, q.q) {
            (Some(code), None) => {
                let key = Barcode::parse(&code)
                    .map_err(|e| ApiError::field("barcode", e.to_string()))?
                    .key();
                r.item_by_barcode(&key)?.into_iter().collect()
            }
            (None, Some(text)) if !text.trim().is_empty() => r.search_items(&text, MAX_RESULTS)?,
            _ => {
                return Err(ApiError::field(
                    "query",
                    "give exactly one of barcode or q (not empty)",
                ))
            }
        };
        let views = items.into_iter().map(|i| view(r, i, &c));
        Ok(Json(views.collect::<Result<_, _>>()?))
    })
    .await
}
