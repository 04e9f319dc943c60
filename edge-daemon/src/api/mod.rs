//! The LAN API: axum routes under `/v1`, authentication, idempotency, problem+json errors,
//! OpenAPI, Prometheus metrics.
//!
//! # Layout
//! - [`problem`]: [`ApiError`] and the problem+json document.
//! - [`extract`]: the request pieces handlers take: [`extract::Principal`] (who is calling, set by
//!   the authentication layer), [`extract::IdemKey`], [`extract::ApiJson`].
//! - [`layers`]: the middleware: authentication, module gates, problem rendering for errors that
//!   arise outside handlers, request metrics.
//! - [`write`]: runs a state-changing request through the store with its idempotency key.
//! - [`system`], [`pairing`], [`tokens`]: the handlers.
//! - [`pos`]: the point-of-sale endpoints under `/v1/pos`, behind the `pos` module gate.
//! - [`openapi`]: the OpenAPI document, built from the handlers' annotations.
//!
//! [`router`] builds the whole service, so tests drive it without a socket.

pub mod devices;
pub mod events;
pub mod extract;
pub mod layers;
pub mod openapi;
pub mod pairing;
pub mod pos;
pub mod problem;
pub mod system;
pub mod tokens;
pub mod write;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{middleware, Router};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use metrics_exporter_prometheus::PrometheusHandle;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use self::problem::{ApiError, Problem};
use crate::config::Config;
use crate::store::Store;

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    /// Renders `/metrics`; absent when no recorder was installed (tests).
    pub metrics: Option<PrometheusHandle>,
    pub limits: Arc<PairingLimits>,
    pub started: Instant,
    /// Live device events and claims.
    pub hub: crate::devices::hub::Hub,
    /// The devices; absent when the box runs none (API tests).
    pub devices: Option<Arc<crate::devices::manager::DeviceManager>>,
    /// The cloud link's figures, whose `connected` flag completed transactions record (the
    /// offline ledger); absent when the box runs without a link (never reachable).
    pub link: Option<Arc<cloud_bridge::edge::EdgeStats>>,
}

/// Rate limits of the unauthenticated pairing handshake.
#[derive(Debug)]
pub struct PairingLimits {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    total: DefaultDirectRateLimiter,
}

impl PairingLimits {
    /// Limits from the configuration (zero means one per minute).
    pub fn new(per_client_per_minute: u32, total_per_minute: u32) -> PairingLimits {
        let q = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        PairingLimits {
            per_client: RateLimiter::keyed(q(per_client_per_minute)),
            total: RateLimiter::direct(q(total_per_minute)),
        }
    }

    /// Takes one request from `client`'s allowance and the total one.
    pub fn check(&self, client: IpAddr) -> Result<(), ApiError> {
        let clock = governor::clock::DefaultClock::default();
        let wait = |n: governor::NotUntil<governor::clock::QuantaInstant>| {
            use governor::clock::Clock;
            ApiError::RateLimited {
                retry_after_secs: n.wait_time_from(clock.now()).as_secs().max(1),
            }
        };
        self.per_client.check_key(&client).map_err(wait)?;
        self.total.check().map_err(wait)?;
        Ok(())
    }
}

impl AppState {
    /// State for a router over `store` with `config`.
    pub fn new(store: Store, config: Config, metrics: Option<PrometheusHandle>) -> AppState {
        let limits = PairingLimits::new(
            config.pairing.per_client_per_minute,
            config.pairing.total_per_minute,
        );
        AppState {
            store,
            config: Arc::new(config),
            metrics,
            limits: Arc::new(limits),
            started: Instant::now(),
            hub: Default::default(),
            devices: None,
            link: None,
        }
    }

    /// Whether the cloud link is connected now.
    pub fn cloud_reachable(&self) -> bool {
        self.link
            .as_ref()
            .is_some_and(|l| l.connected.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// The same state with a device manager (whose hub becomes the state's hub).
    pub fn with_devices(mut self, devices: Arc<crate::devices::manager::DeviceManager>) -> Self {
        self.hub = devices.hub.clone();
        self.devices = Some(devices);
        self
    }
}

/// Runs blocking store work on tokio's blocking pool inside the caller's span, so that what it
/// logs carries the request's id, method and path.
pub async fn blocking<T, F>(f: F) -> Result<T, tokio::task::JoinError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f)).await
}

/// The whole LAN service.
pub fn router(state: AppState) -> Router {
    let public = Router::new()
        .route("/v1/health", get(system::health))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/v1/pairing", post(pairing::request))
        .route("/v1/pairing/{id}", get(pairing::status));

    let mut protected = Router::new()
        .route("/v1/whoami", get(system::whoami))
        .route("/v1/modules", get(system::modules))
        .route("/v1/events", get(events::events))
        .route("/v1/devices", get(devices::list))
        .route("/v1/devices/{name}", get(devices::get))
        .route("/v1/devices/{name}/claim", post(devices::claim))
        .route("/v1/devices/{name}/release", post(devices::release))
        .route("/v1/devices/{name}/print", post(devices::print))
        .route("/v1/devices/{name}/label", post(devices::label))
        .route("/v1/devices/{name}/open", post(devices::open))
        .route("/v1/devices/{name}/check", post(devices::check))
        .route("/v1/devices/{name}/raw", post(devices::raw))
        .route("/v1/devices/{name}/simulate", post(devices::simulate))
        .route("/v1/print-jobs", get(devices::jobs))
        .route("/v1/print-jobs/{id}", get(devices::job))
        .route("/v1/print-jobs/{id}/cancel", post(devices::cancel))
        .route("/v1/print-jobs/{id}/reprint", post(devices::reprint))
        .route("/v1/journal", get(system::journal))
        .route("/v1/pairings", get(pairing::list))
        .route("/v1/pairings/{code}/approve", post(pairing::approve))
        .route("/v1/pairings/{code}/reject", post(pairing::reject))
        .route("/v1/tokens", get(tokens::list))
        .route("/v1/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/metrics", get(system::metrics));
    let authenticate = middleware::from_fn_with_state(state.clone(), layers::authenticate);
    for module in layers::Module::ALL {
        let enabled = module.enabled(&state.config.modules);
        // `layer` (not `route_layer`) so that the module's fallback is authenticated too: a
        // caller without a token learns nothing, not even which modules are on.
        let own = match module {
            layers::Module::Pos => pos::routes(state.config.api.catalog_body_limit_bytes),
            _ => Router::new(),
        };
        let routes = layers::module_router(module, enabled, own).layer(authenticate.clone());
        protected = protected.nest(module.prefix(), routes);
    }
    let protected = protected.route_layer(authenticate);

    let timeout = Duration::from_millis(state.config.api.request_timeout_ms);
    let body_limit = state.config.api.body_limit_bytes;
    Router::new()
        .merge(public)
        .merge(protected)
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(layers::request_span))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(middleware::from_fn(layers::record_metrics))
                .layer(middleware::from_fn(layers::problem_for_bare_errors))
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::Timeout
                }))
                .timeout(timeout)
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .with_state(state)
}

#[cfg(test)]
mod tests;
