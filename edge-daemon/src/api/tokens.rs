//! Listing and revoking tokens.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use protocol::{Role, TokenId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{IdemKey, Principal};
use super::problem::{ApiError, Problem};
use super::write::{commit, Decision};
use super::AppState;
use crate::auth;
use crate::clock::rfc3339;
use crate::store::TokenRecord;

/// A token as managers see it: never the secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub label: String,
    pub role: Option<String>,
    pub active: bool,
    pub revoked: bool,
    pub created_at: String,
}

impl From<TokenRecord> for TokenView {
    fn from(t: TokenRecord) -> Self {
        TokenView {
            id: t.id.to_string(),
            label: t.label,
            role: t.role.map(|r| r.to_string()),
            active: t.active,
            revoked: t.revoked,
            created_at: rfc3339(t.created_at),
        }
    }
}

const MANAGERS: &[Role] = &[Role::Manager, Role::Technician];

/// Every token with a role, oldest first.
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = [TokenView]), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    p.require(MANAGERS)?;
    let store = state.store.clone();
    let tokens = super::blocking(move || store.reader().tokens())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

/// Revokes a token; requests with it answer 401 from then on. Revoking twice is not an error.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "token id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 200, body = TokenView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    p.require(MANAGERS)?;
    let id: TokenId = id
        .parse()
        .map_err(|_| ApiError::field("id", "not a token id (UUID)"))?;
    let idem = key.request(p.idem_scope(), "DELETE", &format!("/v1/tokens/{id}"), b"");
    let (actor, actor_role) = (p.actor(), p.role);
    commit(&state, idem, move |r| {
        let events = auth::revoke_token(r, id, actor, Some(actor_role))?;
        let mut view = r
            .token_by_id(id)?
            .ok_or_else(|| ApiError::NotFound("token".into()))?;
        view.revoked = true;
        view.active = false;
        Ok(Decision::new(events, StatusCode::OK, TokenView::from(view)))
    })
    .await
}
