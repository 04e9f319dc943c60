//! Customer profiles: create, find, read, change, erase; all offline, sent to the cloud as
//! journal events.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use protocol::pos::CustomerProfile;
use protocol::{CustomerId, Event};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{idem, read, MANAGER};
use crate::api::extract::{ApiJson, ApiQuery, IdemKey, Principal};
use crate::api::problem::{ApiError, Problem};
use crate::api::write::{commit, Decision};
use crate::api::AppState;
use crate::clock::{now, rfc3339};
use crate::store::pos::CustomerEntry;

/// Most customers one search returns.
pub const MAX_RESULTS: usize = 100;

/// A customer profile as clients send it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub marketing_consent: bool,
}

/// A stored customer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomerView {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub marketing_consent: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<CustomerEntry> for CustomerView {
    fn from(c: CustomerEntry) -> Self {
        CustomerView {
            id: c.id.to_string(),
            name: c.profile.name,
            email: c.profile.email,
            phone: c.profile.phone,
            marketing_consent: c.profile.marketing_consent,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

/// Checks and normalises a profile.
fn profile(b: &CustomerBody) -> Result<CustomerProfile, ApiError> {
    let name = b.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::field("name", "must be 1 to 100 bytes"));
    }
    let email = b.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let email = email.map(|e| check_email("email", e)).transpose()?;
    let phone = b.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
    if let Some(p) = phone {
        let digits = p.chars().filter(char::is_ascii_digit).count();
        let ok = p.len() <= 32
            && (4..=15).contains(&digits)
            && p.chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if !ok {
            return Err(ApiError::field("phone", "not a phone number"));
        }
    }
    Ok(CustomerProfile {
        name: name.to_owned(),
        email,
        phone: phone.map(str::to_owned),
        marketing_consent: b.marketing_consent,
    })
}

/// Checks an email address (one `@`, a dot in the domain, no spaces, at most 254 bytes) and
/// lower-cases it.
pub(crate) fn check_email(field: &str, e: &str) -> Result<String, ApiError> {
    let e = e.trim();
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'))
        && !e.chars().any(char::is_whitespace);
    if ok {
        Ok(e.to_lowercase())
    } else {
        Err(ApiError::field(field, "not an email address"))
    }
}

fn parse(id: &str) -> Result<CustomerId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::field("id", "not a customer id (UUID)"))
}

fn saved(
    id: CustomerId,
    profile: CustomerProfile,
    created: Option<&CustomerEntry>,
) -> CustomerView {
    let at = now();
    CustomerView::from(CustomerEntry {
        id,
        profile,
        created_at: created.map_or(at, |c| c.created_at),
        updated_at: at,
    })
}

/// Creates a customer profile.
#[utoipa::path(post, path = "/v1/pos/customers", tag = "pos", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = CustomerBody,
    responses((status = 201, body = CustomerView), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    ApiJson(req): ApiJson<CustomerBody>,
) -> Result<Response, ApiError> {
    let profile = profile(&req)?;
    let idem = idem(&p, &key, "POST", "/v1/pos/customers", &req);
    let actor = p.actor();
    commit(&state, idem, move |_| {
        let id = CustomerId::random();
        let view = saved(id, profile.clone(), None);
        let event = Event::CustomerSaved {
            customer: id,
            profile,
            by: actor,
        };
        Ok(Decision::new(vec![event], StatusCode::CREATED, view))
    })
    .await
}

/// Replaces a customer's profile.
#[utoipa::path(put, path = "/v1/pos/customers/{id}", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "customer id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    request_body = CustomerBody,
    responses((status = 200, body = CustomerView), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CustomerBody>,
) -> Result<Response, ApiError> {
    let id = parse(&id)?;
    let profile = profile(&req)?;
    let idem = idem(&p, &key, "PUT", &format!("/v1/pos/customers/{id}"), &req);
    let actor = p.actor();
    commit(&state, idem, move |r| {
        let old = r
            .customer(id)?
            .ok_or_else(|| ApiError::NotFound(format!("no customer {id}")))?;
        let view = saved(id, profile.clone(), Some(&old));
        let event = Event::CustomerSaved {
            customer: id,
            profile,
            by: actor,
        };
        Ok(Decision::new(vec![event], StatusCode::OK, view))
    })
    .await
}

/// Erases a customer's profile (managers); sales keep only the id.
#[utoipa::path(delete, path = "/v1/pos/customers/{id}", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "customer id"),
        ("Idempotency-Key" = String, Header, description = "unique per request")),
    responses((status = 200, body = Object), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn erase(
    State(state): State<AppState>,
    p: Principal,
    key: IdemKey,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    p.require(MANAGER)?;
    let id = parse(&id)?;
    let idem = idem(&p, &key, "DELETE", &format!("/v1/pos/customers/{id}"), &());
    let actor = p.actor();
    commit(&state, idem, move |r| {
        if r.customer(id)?.is_none() {
            return Err(ApiError::NotFound(format!("no customer {id}")));
        }
        let event = Event::CustomerErased {
            customer: id,
            by: actor,
        };
        let body = serde_json::json!({"id": id, "erased": true});
        Ok(Decision::new(vec![event], StatusCode::OK, body))
    })
    .await
}

/// One customer.
#[utoipa::path(get, path = "/v1/pos/customers/{id}", tag = "pos", security(("bearer" = [])),
    params(("id" = String, Path, description = "customer id")),
    responses((status = 200, body = CustomerView), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    let id = parse(&id)?;
    read(&state, move |r| {
        let c = r
            .customer(id)?
            .ok_or_else(|| ApiError::NotFound(format!("no customer {id}")))?;
        Ok(Json(c.into()))
    })
    .await
}

/// What to search for.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CustomerQuery {
    /// Text found in the name, email or phone (case-insensitive); absent lists all.
    pub q: Option<String>,
}

/// Customers matching `q`, at most 100.
#[utoipa::path(get, path = "/v1/pos/customers", tag = "pos", security(("bearer" = [])),
    params(CustomerQuery), responses((status = 200, body = [CustomerView])))]
pub async fn list(
    State(state): State<AppState>,
    _p: Principal,
    ApiQuery(q): ApiQuery<CustomerQuery>,
) -> Result<Json<Vec<CustomerView>>, ApiError> {
    let needle = q.q.unwrap_or_default().trim().to_lowercase();
    read(&state, move |r| {
        let found = r
            .customers()?
            .into_iter()
            .filter(|c| {
                let p = &c.profile;
                let hay = format!(
                    "{} {} {}",
                    p.name,
                    p.email.as_deref().unwrap_or(""),
                    p.phone.as_deref().unwrap_or("")
                )
                .to_lowercase();
                hay.contains(&needle)
            })
            .take(MAX_RESULTS)
            .map(CustomerView::from)
            .collect();
        Ok(Json(found))
    })
    .await
}
