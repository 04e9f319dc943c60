//! Middleware: authentication, module gates, problem rendering, metrics, request spans.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::extract::Principal;
use super::problem::{problem_response, ApiError, Problem, PROBLEM_JSON};
use super::AppState;
use crate::auth::{self, Authn};

/// Checks the bearer token and puts the [`Principal`] into the request. Every route behind this
/// layer answers 401 without a valid token.
pub async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = bearer(req.headers()).ok_or_else(|| {
        ApiError::Unauthorized("send Authorization: Bearer <token>; pair the device first".into())
    })?;
    let store = state.store.clone();
    let outcome = super::blocking(move || auth::authenticate(&store.reader(), &token))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let principal = match outcome {
        Authn::Valid { id, role, label } => Principal {
            token: id,
            role,
            label,
        },
        Authn::Unknown => return Err(ApiError::Unauthorized("unknown token".into())),
        Authn::Revoked => return Err(ApiError::Unauthorized("this token was revoked".into())),
        Authn::AwaitingApproval => {
            return Err(ApiError::Unauthorized(
                "this token's pairing has not been approved by a manager".into(),
            ))
        }
    };
    tracing::Span::current().record("role", principal.role.as_str());
    req.extensions_mut().insert(principal);
    // For the module gates below, which switches live in the store.
    req.extensions_mut().insert(state);
    Ok(next.run(req).await)
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// A capability module: one per rollout phase, each owning a path prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Module {
    Pos,
    PosPlus,
    Omni,
    OmniPlus,
}

impl Module {
    pub const ALL: [Module; 4] = [Module::Pos, Module::PosPlus, Module::Omni, Module::OmniPlus];

    /// The name in configuration and in problem documents.
    pub fn name(self) -> &'static str {
        match self {
            Module::Pos => "pos",
            Module::PosPlus => "pos_plus",
            Module::Omni => "omni",
            Module::OmniPlus => "omni_plus",
        }
    }

    /// The path prefix of the module's endpoints.
    pub fn prefix(self) -> &'static str {
        match self {
            Module::Pos => "/v1/pos",
            Module::PosPlus => "/v1/pos-plus",
            Module::Omni => "/v1/omni",
            Module::OmniPlus => "/v1/omni-plus",
        }
    }

    /// Switched on in this configuration.
    pub fn enabled(self, m: &crate::config::Modules) -> bool {
        match self {
            Module::Pos => m.pos,
            Module::PosPlus => m.pos_plus,
            Module::Omni => m.omni,
            Module::OmniPlus => m.omni_plus,
        }
    }
}

/// The `routes` of `module`, behind its gate: when the module is off, every path under its
/// prefix answers 404 with the problem type `module-disabled`. Modules gain endpoints with their
/// rollout phases; until then a module's router holds only the gate and the not-found answer.
///
/// `configured` is the switch from the configuration; a module switch from the cloud (stored by
/// the link, [`crate::store::Store::link_module`]) overrides it, live, from the next request on.
/// The gate sits inside [`authenticate`], which hands it the state.
pub fn module_router(
    module: Module,
    configured: bool,
    routes: Router<AppState>,
) -> Router<AppState> {
    let router = routes.fallback(|| async { ApiError::NotFound("no such endpoint".into()) });
    router.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| async move {
            let live = req
                .extensions()
                .get::<AppState>()
                .and_then(|s| s.store.link_module(module.name()).ok().flatten());
            if live.unwrap_or(configured) {
                next.run(req).await
            } else {
                ApiError::ModuleDisabled {
                    module: module.name(),
                }
                .into_response()
            }
        },
    ))
}

/// Errors produced outside the handlers (405 from the router, 413 from a body limit, 408 from
/// a layer) come without a body; this gives them a problem document like every other error.
pub async fn problem_for_bare_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return resp;
    }
    let (mut parts, _) = resp.into_parts();
    let title = status.canonical_reason().unwrap_or("Error").to_owned();
    let p = Problem {
        kind: format!("/problems/http-{}", status.as_u16()),
        detail: title.clone(),
        title,
        status: status.as_u16(),
        field: None,
    };
    let fresh = problem_response(&p);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(PROBLEM_JSON),
    );
    Response::from_parts(parts, fresh.into_body())
}

/// Counts requests by route and status, and times them.
pub async fn record_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(),
        "status" => status)
    .increment(1);
    metrics::histogram!("http_request_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}

/// One span per request, with the request id, method and path as fields.
pub fn request_span(req: &axum::http::Request<Body>) -> tracing::Span {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %request_id,
        role = tracing::field::Empty,
    )
}
