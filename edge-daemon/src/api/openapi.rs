//! The OpenAPI document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{devices, events, pairing, pos, problem, system, tokens};

/// The API description served at `/v1/openapi.json`.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Store edge daemon LAN API", description = "REST + JSON for in-store devices. \
        Errors are application/problem+json. State-changing requests need an Idempotency-Key."),
    paths(
        system::health, system::whoami, system::modules, system::journal, system::metrics,
        pairing::request, pairing::status, pairing::list, pairing::approve, pairing::reject,
        tokens::list, tokens::revoke, document, events::events,
        devices::list, devices::get, devices::claim, devices::release, devices::print,
        devices::label, devices::open, devices::check, devices::raw, devices::simulate, devices::jobs,
        devices::job, devices::cancel, devices::reprint,
        pos::catalog::info, pos::catalog::load, pos::catalog::item, pos::catalog::lookup,
        pos::sales::create, pos::sales::get, pos::sales::add_line, pos::sales::set_quantity,
        pos::sales::override_price, pos::sales::coupon, pos::sales::customer, pos::sales::exempt,
        pos::sales::tender, pos::sales::complete, pos::sales::void, pos::sales::email,
        pos::sales::reprint,
        pos::sales::outbox,
        pos::returns::create, pos::returns::get, pos::exchanges::create,
        pos::returns::create_no_receipt,
        pos::tills::open, pos::tills::movement, pos::tills::close, pos::tills::x_report,
        pos::tills::z_reports, pos::tills::store_report, pos::tills::offline_report,
        pos::tills::sales_report,
        pos::customers::create, pos::customers::update, pos::customers::erase,
        pos::customers::get, pos::customers::list,
    ),
    components(schemas(problem::Problem)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "system",
    responses((status = 200, description = "this document")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
