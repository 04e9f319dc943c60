//! The point-of-sale endpoints under `/v1/pos`, behind the `pos` module gate.
//!
//! Handlers orchestrate: they read the projections, ask [`crate::domain`] what a request means,
//! and journal the answer through [`super::write::commit`], so every state-changing request
//! takes an `Idempotency-Key`, a 2xx means the events are on disk, and a retry with the same
//! key returns the first answer. A request the domain refuses changes nothing and gets a
//! problem document naming the field at fault.
//!
//! # Layout
//! - [`catalog`]: catalog status and loading, item lookup by SKU, barcode or text.
//! - [`sales`]: carts: lines, quantities, price overrides, coupons, customers, tenders,
//!   completion (with a receipt print job), void, email receipts and their outbox.
//! - [`returns`]: returns against a completed sale, and without a receipt (managers).
//! - [`exchanges`]: items of a completed sale exchanged for new ones in one transaction.
//! - [`tills`]: till open, pay-in, pay-out, drop, close with a count; X, Z and store reports.
//! - [`customers`]: customer profiles.
//! - [`receipt`]: the receipt document of a completed sale.
//!
//! # Roles
//! Associates sell, return and exchange with a receipt, open tills, pay in and drop. Price
//! overrides, pay-outs, returns without a receipt, voiding a sale that has tenders, erasing a
//! customer and loading a catalog need a manager (catalog loading also a technician).
//!
//! # Current limitations
//! - Tills are not mapped to devices: a cash sale opens the first drawer, and the receipt is
//!   queued on the first receipt printer.
//! - Email receipts are queued for the cloud to send; the box sends no mail itself.
//! - Text search reads items in SKU order until it has enough matches: a word that few of a
//!   million items hold reads them all (about a second). There is no word index.
//! - Exchanges take new items by SKU or barcode with automatic promotions only: no coupons,
//!   price overrides or exemptions on the new items.
//! - A sale's receipt does not show its cash rounding or tax exemption yet (the API answers
//!   both).

pub mod catalog;
pub mod customers;
pub mod exchanges;
pub mod receipt;
pub mod returns;
pub mod sales;
pub mod tills;

#[cfg(test)]
mod tests;

use axum::routing::{get, post};
use axum::Router;
use protocol::{Role, SaleId};
use serde::Serialize;

use super::extract::{IdemKey, Principal};
use super::problem::ApiError;
use super::AppState;
use crate::domain::catalog::Catalog;
use crate::store::{IdemRequest, Reader};

/// Roles that approve: overrides, pay-outs, voids with tenders, erasures.
pub const MANAGER: &[Role] = &[Role::Manager];

/// The routes, relative to `/v1/pos`; catalog loads may be up to `catalog_body_limit` bytes.
pub fn routes(catalog_body_limit: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/catalog",
            get(catalog::info)
                .post(catalog::load)
                .layer(axum::extract::DefaultBodyLimit::max(catalog_body_limit)),
        )
        .route("/items", get(catalog::lookup))
        .route("/items/{sku}", get(catalog::item))
        .route("/sales", post(sales::create))
        .route("/sales/{id}", get(sales::get))
        .route("/sales/{id}/lines", post(sales::add_line))
        .route(
            "/sales/{id}/lines/{line}/quantity",
            post(sales::set_quantity),
        )
        .route(
            "/sales/{id}/lines/{line}/price",
            post(sales::override_price),
        )
        .route("/sales/{id}/coupons", post(sales::coupon))
        .route("/sales/{id}/customer", post(sales::customer))
        .route("/sales/{id}/exemption", post(sales::exempt))
        .route("/sales/{id}/tenders", post(sales::tender))
        .route("/sales/{id}/complete", post(sales::complete))
        .route("/sales/{id}/void", post(sales::void))
        .route("/sales/{id}/email", post(sales::email))
        .route("/sales/{id}/receipt", post(sales::reprint))
        .route("/outbox", get(sales::outbox))
        .route("/returns", post(returns::create))
        .route("/returns/no-receipt", post(returns::create_no_receipt))
        .route("/returns/{id}", get(returns::get))
        .route("/exchanges", post(exchanges::create))
        .route("/tills/{id}/open", post(tills::open))
        .route("/tills/{id}/movements", post(tills::movement))
        .route("/tills/{id}/close", post(tills::close))
        .route("/tills/{id}/x", get(tills::x_report))
        .route("/tills/{id}/z", get(tills::z_reports))
        .route("/reports/store", get(tills::store_report))
        .route("/reports/offline", get(tills::offline_report))
        .route("/reports/sales", get(tills::sales_report))
        .route("/customers", get(customers::list).post(customers::create))
        .route(
            "/customers/{id}",
            get(customers::get)
                .put(customers::update)
                .delete(customers::erase),
        )
}

/// Runs `f` over the projections on the blocking pool.
pub(crate) async fn read<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Reader<'_>) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || f(&store.reader()))
        .await
        .map_err(|e| ApiError::Internal(format!("read task failed: {e}")))?
}

/// The idempotency request of `method path` with `body`, in the caller's scope.
pub(crate) fn idem(
    p: &Principal,
    key: &IdemKey,
    method: &str,
    path: &str,
    body: &impl Serialize,
) -> IdemRequest {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    key.request(p.idem_scope(), method, path, &bytes)
}

/// A sale or return id from the path.
pub(crate) fn parse_id(field: &str, s: &str) -> Result<SaleId, ApiError> {
    s.parse()
        .map_err(|_| ApiError::field(field, "not a sale id (UUID)"))
}

/// The current catalog, or a conflict when none is loaded.
pub(crate) fn catalog_of(r: &Reader<'_>) -> Result<Catalog, ApiError> {
    r.catalog()?
        .ok_or_else(|| ApiError::Conflict("no catalog is loaded on this box".into()))
}

/// The longest till id.
pub const MAX_TILL: usize = 32;

/// Checks a till id: 1 to [`MAX_TILL`] of `a-z`, `0-9`, `-`, `_`.
pub(crate) fn check_till(field: &str, id: &str) -> Result<(), ApiError> {
    let ok = (1..=MAX_TILL).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            field,
            format!("a till id is 1 to {MAX_TILL} of a-z, 0-9, '-' and '_'"),
        ))
    }
}

/// Checks a free-text field through the domain's rule.
pub(crate) fn check_text(field: &str, s: &str) -> Result<(), ApiError> {
    crate::domain::sale::check_text(field, s).map_err(|e| ApiError::field(field, e.to_string()))
}
