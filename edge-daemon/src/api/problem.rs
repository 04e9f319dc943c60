//! Errors at the HTTP edge, answered as `application/problem+json` (RFC 9457).
//!
//! Each [`ApiError`] decides its status and its problem type. What the client sees is the
//! problem document; internal causes (store errors) are logged once here and shown only as
//! "internal error".

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthError;
use crate::store::{StoreError, WriteError};

/// The media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A relative URI naming the kind of problem, e.g. `/problems/validation`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request, for a person.
    pub detail: String,
    /// The request field at fault, if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Every error the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("this endpoint needs one of the roles {needed}; the token has {has}")]
    Forbidden { needed: String, has: String },
    #[error("{field}: {reason}")]
    Validation { field: String, reason: String },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the module {module} is switched off for this store")]
    ModuleDisabled { module: &'static str },
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyConflict,
    #[error(
        "state-changing requests need an Idempotency-Key header (1 to 255 visible characters)"
    )]
    IdempotencyKeyRequired,
    #[error("too many requests; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    DeviceUnavailable(String),
    #[error("the request took too long")]
    Timeout,
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Not authenticated",
            ),
            Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden", "Role not allowed"),
            Validation { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request field",
            ),
            BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Malformed request"),
            NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Gone(_) => (StatusCode::GONE, "gone", "No longer available"),
            Conflict(_) => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflicts with current state",
            ),
            ModuleDisabled { .. } => (
                StatusCode::NOT_FOUND,
                "module-disabled",
                "Capability module switched off",
            ),
            IdempotencyConflict => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
            ),
            IdempotencyKeyRequired => (
                StatusCode::BAD_REQUEST,
                "idempotency-key-required",
                "Idempotency key required",
            ),
            RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            DeviceUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "device-unavailable",
                "Device unavailable",
            ),
            Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "Request timed out",
            ),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let (status, kind, title) = self.parts();
        let field = match self {
            ApiError::Validation { field, .. } => Some(field.clone()),
            _ => None,
        };
        Problem {
            kind: format!("/problems/{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            field,
        }
    }

    /// A validation error of `field`.
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> ApiError {
        ApiError::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Renders a problem document with its status.
pub fn problem_response(p: &Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(p).unwrap_or_default();
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(cause = %cause, "request failed");
        }
        let mut resp = problem_response(&self.problem());
        if let ApiError::Unauthorized(_) = self {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::RateLimited { retry_after_secs } = self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ StoreError::EventTooLarge { .. } => ApiError::PayloadTooLarge(e.to_string()),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Invalid { field, reason } => ApiError::field(field, reason),
            e @ AuthError::UnknownCode(_) => ApiError::NotFound(e.to_string()),
            e @ AuthError::UnknownToken(_) => ApiError::NotFound(e.to_string()),
            e @ AuthError::ExpiredCode(_) => ApiError::Gone(e.to_string()),
            e @ AuthError::TokenTaken => ApiError::Conflict(e.to_string()),
            e @ AuthError::NoFreeCode => ApiError::Conflict(e.to_string()),
            AuthError::CannotGrant { actor, role } => ApiError::Forbidden {
                needed: format!("a role allowed to grant {role}"),
                has: actor.to_string(),
            },
            AuthError::Store(e) => e.into(),
        }
    }
}

impl From<WriteError<ApiError>> for ApiError {
    fn from(e: WriteError<ApiError>) -> Self {
        match e {
            WriteError::Rejected(e) => e,
            WriteError::IdempotencyConflict => ApiError::IdempotencyConflict,
            WriteError::Store(e) => e.into(),
        }
    }
}
