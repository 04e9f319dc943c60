//! Request pieces handlers take.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use protocol::event::Actor;
use protocol::{Role, TokenId};
use serde::de::DeserializeOwned;

use super::problem::ApiError;
use crate::store::IdemRequest;

/// The authenticated caller, put into the request by [`super::layers::authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token: TokenId,
    pub role: Role,
    pub label: String,
}

impl Principal {
    /// Refuses unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let needed = roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        Err(ApiError::Forbidden {
            needed,
            has: self.role.to_string(),
        })
    }

    /// The journal's record of who acted.
    pub fn actor(&self) -> Actor {
        Actor::Token(self.token)
    }

    /// The scope of this caller's idempotency keys.
    pub fn idem_scope(&self) -> String {
        format!("token:{}", self.token)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized("authentication required".into()))
    }
}

/// The `Idempotency-Key` header, required on every state-changing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemKey(pub String);

/// The header's name.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

impl IdemKey {
    /// The store's idempotency request for this key, caller scope and request.
    pub fn request(&self, scope: String, method: &str, path: &str, body: &[u8]) -> IdemRequest {
        IdemRequest {
            scope,
            key: self.0.clone(),
            fingerprint: IdemRequest::fingerprint_of(method, path, body),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdemKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let raw = parts
            .headers
            .get(IDEMPOTENCY_KEY)
            .ok_or(ApiError::IdempotencyKeyRequired)?;
        let key = raw.to_str().map_err(|_| ApiError::IdempotencyKeyRequired)?;
        let ok = (1..=crate::store::idempotency::MAX_KEY_LEN).contains(&key.len())
            && key.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(ApiError::IdempotencyKeyRequired);
        }
        Ok(IdemKey(key.to_owned()))
    }
}

/// The client's address, or `0.0.0.0` when the service runs without a socket (tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(ClientIp(ip))
    }
}

/// A JSON body whose rejections are problem documents naming what is wrong.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// The request field a deserialisation message is about.
///
/// axum reports the path to the failing value before the first `": "` (for example
/// `role: unknown variant ...`); a missing or unknown top-level field is named in back-quotes.
fn field_of(detail: &str) -> String {
    let msg = detail
        .split_once("target type: ")
        .map_or(detail, |(_, rest)| rest);
    for lead in ["missing field `", "unknown field `"] {
        if let Some(rest) = msg.strip_prefix(lead) {
            if let Some((name, _)) = rest.split_once('`') {
                return name.to_owned();
            }
        }
    }
    match msg.split_once(": ") {
        Some((path, _))
            if !path.is_empty()
                && path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c)) =>
        {
            path.to_owned()
        }
        _ => "body".to_owned(),
    }
}

/// A query string whose rejections are problem documents naming the parameter.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rejection) => {
                let detail = rejection.body_text();
                let msg = detail
                    .split_once("query string: ")
                    .map_or(detail.as_str(), |(_, r)| r);
                let field = msg.split_once(": ").map_or("query", |(f, _)| f).to_owned();
                Err(ApiError::Validation {
                    field,
                    reason: detail,
                })
            }
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonDataError(e) => {
            let detail = e.body_text();
            ApiError::Validation {
                field: field_of(&detail),
                reason: detail,
            }
        }
        JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest(e.body_text()),
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::BadRequest("expected a body with Content-Type: application/json".into())
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge(other.body_text())
        }
        other => ApiError::BadRequest(other.body_text()),
    }
}
