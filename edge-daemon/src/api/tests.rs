//! The LAN API driven through the whole router, without a socket: public and protected
//! endpoints, problem documents, roles, the pairing handshake, idempotency, input validation,
//! rate limits, module gates, token revocation and journal paging.
//!
//! Every test builds its own store in a temporary directory and its own router, and issues the
//! tokens it needs through the store, as the admin socket does.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use protocol::event::Actor;
use protocol::{Event, Role, StoreId, TokenId};
use serde_json::{json, Value};
use tempfile::TempDir;
use tower::ServiceExt;

use super::problem::PROBLEM_JSON;
use super::write::REPLAYED_HEADER;
use super::{router, AppState};
use crate::auth::{self, AuthError};
use crate::config::Config;
use crate::store::{Planned, Reader, Store, StoreSettings};

const STORE: &str = "store-0042";

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// One router over one fresh store.
struct Api {
    app: Router,
    store: Store,
    _dir: TempDir,
}

/// A token issued through the store.
struct Issued {
    id: TokenId,
    token: String,
}

/// A pairing requested over HTTP.
struct Paired {
    id: String,
    code: String,
    token: String,
}

/// A configuration whose pairing rate limits stay out of the way.
fn config() -> Config {
    let mut c = Config::default();
    c.pairing.per_client_per_minute = 1000;
    c.pairing.total_per_minute = 1000;
    c
}

impl Api {
    fn new() -> Api {
        Api::with(config())
    }

    fn with(config: Config) -> Api {
        let dir = tempfile::tempdir().expect("temporary directory");
        let id = StoreId::new(STORE).expect("store id");
        let store = Store::open(dir.path(), &id, &StoreSettings::default()).expect("store");
        let app = router(AppState::new(store.clone(), config, None));
        Api {
            app,
            store,
            _dir: dir,
        }
    }

    /// Runs an auth decision through the store, as the admin socket does.
    fn apply<T>(
        &self,
        decide: impl FnOnce(&Reader<'_>) -> Result<(Vec<Event>, T), AuthError>,
    ) -> T {
        let mut out = None;
        self.store
            .write(None, |r| {
                let (events, value) = decide(r)?;
                out = Some(value);
                Ok::<_, AuthError>(Planned {
                    events,
                    ..Default::default()
                })
            })
            .expect("store write");
        out.expect("decision result")
    }

    fn issue(&self, role: Role) -> Issued {
        let label = format!("{role} console");
        let (id, token) = self.apply(|r| {
            let (events, id, token) = auth::issue_token(r, role, &label, Actor::Admin)?;
            Ok((events, (id, token)))
        });
        Issued { id, token }
    }

    fn revoke(&self, id: TokenId) {
        self.apply(|r| Ok((auth::revoke_token(r, id, Actor::Admin, None)?, ())));
    }

    fn last_seq(&self) -> u64 {
        self.store.stats().expect("stats").last_seq
    }

    /// The kinds of every journaled event, read from the store.
    fn kinds(&self) -> Vec<&'static str> {
        let all = self.store.journal_after(0, 100_000).expect("journal");
        all.iter().map(|e| e.event.kind()).collect()
    }

    async fn send(&self, call: Call) -> Reply {
        let resp = self
            .app
            .clone()
            .oneshot(call.into_request())
            .await
            .expect("the router is infallible");
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("response body").to_bytes();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
            json,
        }
    }

    /// The kinds of the journal's events, read over HTTP with `token`.
    async fn journal_kinds(&self, token: &str) -> Vec<String> {
        let r = self.send(get("/v1/journal?limit=1000").bearer(token)).await;
        let events = r.ok(StatusCode::OK)["events"].as_array().expect("events");
        events
            .iter()
            .map(|e| e["kind"].as_str().expect("kind").to_owned())
            .collect()
    }

    async fn request_pairing(&self, device: &str) -> Paired {
        let token = auth::new_token();
        let call = post("/v1/pairing")
            .key(&fresh_key())
            .json(&pairing(device, &token));
        let r = self.send(call).await;
        let v = r.ok(StatusCode::CREATED);
        Paired {
            id: v["pairing_id"].as_str().expect("pairing_id").to_owned(),
            code: v["code"].as_str().expect("code").to_owned(),
            token,
        }
    }

    async fn approve(&self, by: &str, code: &str, role: &str) -> Reply {
        let call = post(&format!("/v1/pairings/{code}/approve"))
            .bearer(by)
            .key(&fresh_key())
            .json(&json!({ "role": role }));
        self.send(call).await
    }

    async fn reject(&self, by: &str, code: &str) -> Reply {
        let call = post(&format!("/v1/pairings/{code}/reject"))
            .bearer(by)
            .key(&fresh_key());
        self.send(call).await
    }

    async fn pairing_state(&self, id: &str) -> Value {
        let r = self.send(get(&format!("/v1/pairing/{id}"))).await;
        r.ok(StatusCode::OK).clone()
    }

    async fn whoami(&self, token: &str) -> Reply {
        self.send(get("/v1/whoami").bearer(token)).await
    }
}

fn pairing(device: &str, token: &str) -> Value {
    json!({ "device_name": device, "token": token })
}

fn fresh_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

/// A request under construction.
struct Call {
    method: Method,
    path: String,
    headers: Vec<(header::HeaderName, String)>,
    body: Body,
}

fn call(method: Method, path: &str) -> Call {
    Call {
        method,
        path: path.to_owned(),
        headers: Vec::new(),
        body: Body::empty(),
    }
}

fn get(path: &str) -> Call {
    call(Method::GET, path)
}

fn post(path: &str) -> Call {
    call(Method::POST, path)
}

fn delete(path: &str) -> Call {
    call(Method::DELETE, path)
}

impl Call {
    fn header(mut self, name: header::HeaderName, value: &str) -> Call {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn bearer(self, token: &str) -> Call {
        self.header(header::AUTHORIZATION, &format!("Bearer {token}"))
    }

    fn key(self, key: &str) -> Call {
        self.header(header::HeaderName::from_static("idempotency-key"), key)
    }

    fn raw(mut self, content_type: &str, body: impl Into<Body>) -> Call {
        self.body = body.into();
        self.header(header::CONTENT_TYPE, content_type)
    }

    fn json(self, v: &Value) -> Call {
        self.raw("application/json", v.to_string())
    }

    fn into_request(self) -> Request<Body> {
        let mut b = Request::builder().method(self.method).uri(self.path);
        for (name, value) in self.headers {
            b = b.header(name, value);
        }
        b.body(self.body).expect("request")
    }
}

/// A response, read to the end.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    json: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A success with `status` and a JSON body.
    #[track_caller]
    fn ok(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.text());
        let ct = self.header("content-type").unwrap_or_default();
        assert_eq!(ct, "application/json", "content type of {}", self.text());
        &self.json
    }

    /// A problem document with `status` and the type `/problems/{kind}`.
    #[track_caller]
    fn problem(&self, status: StatusCode, kind: &str) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(self.header("content-type"), Some(PROBLEM_JSON));
        let p = &self.json;
        assert_eq!(p["type"], format!("/problems/{kind}"), "problem: {p}");
        assert_eq!(p["status"], status.as_u16(), "problem: {p}");
        assert!(
            p["title"].as_str().is_some_and(|t| !t.is_empty()),
            "problem: {p}"
        );
        assert!(
            p["detail"].as_str().is_some_and(|t| !t.is_empty()),
            "problem: {p}"
        );
        p
    }

    fn detail(&self) -> &str {
        self.json["detail"].as_str().unwrap_or_default()
    }
}

/// A request body that never yields a byte, so that a request outlasts the timeout.
struct Stalled;

/// What a body of type `B` yields per poll (names `http_body::Frame` without the crate).
type PolledFrame<B> =
    <http_body_util::combinators::Frame<'static, B> as std::future::Future>::Output;

impl HttpBody for Stalled {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<PolledFrame<Body>> {
        Poll::Pending
    }
}

// ---------------------------------------------------------------------------------------------
// Public endpoints and the OpenAPI document
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn health_is_public_and_names_the_store() {
    let api = Api::new();
    let r = api
        .send(get("/v1/health").header(header::HeaderName::from_static("x-request-id"), "req-1"))
        .await;
    let v = r.ok(StatusCode::OK);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["store_id"], STORE);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["uptime_secs"].is_u64());
    assert_eq!(r.header("x-request-id"), Some("req-1"));

    let r = api.send(get("/v1/health")).await;
    r.ok(StatusCode::OK);
    assert!(r.header("x-request-id").is_some_and(|id| !id.is_empty()));
}

#[tokio::test]
async fn health_shows_the_boxs_provisioning_without_changing_its_status() {
    let v = Api::new()
        .send(get("/v1/health"))
        .await
        .ok(StatusCode::OK)
        .clone();
    assert!(
        v.get("provisioning").is_none(),
        "not configured, not shown: {v}"
    );

    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("provisioning.json");
    let mut cfg = config();
    cfg.image.provisioning_status = Some(file.clone());
    let api = Api::with(cfg);
    let bad = json!({"ok": false, "state": "invalid", "store_id": null,
        "message": "PROVISIONING INVALID: mqtt.security.ca_file: cannot read ca.pem"});
    std::fs::write(&file, bad.to_string()).expect("status file");
    let v = api.send(get("/v1/health")).await.ok(StatusCode::OK).clone();
    assert_eq!(v["status"], "ok", "the update agent commits on this");
    assert_eq!(v["provisioning"]["ok"], false);
    assert_eq!(v["provisioning"]["state"], "invalid");
    let msg = v["provisioning"]["message"].as_str().expect("message");
    assert!(
        msg.starts_with("PROVISIONING INVALID: mqtt.security.ca_file"),
        "{msg}"
    );

    std::fs::remove_file(&file).expect("remove");
    let v = api.send(get("/v1/health")).await.ok(StatusCode::OK).clone();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["provisioning"]["ok"], false);
    let msg = v["provisioning"]["message"].as_str().expect("message");
    assert!(msg.contains("cannot read provisioning status"), "{msg}");
    assert!(msg.contains("provisioning.json"), "{msg}");

    let good = json!({"ok": true, "state": "provisioned", "store_id": "store-0042",
        "message": "provisioned: store store-0042"});
    std::fs::write(&file, good.to_string()).expect("status file");
    let v = api.send(get("/v1/health")).await.ok(StatusCode::OK).clone();
    assert_eq!(v["provisioning"]["ok"], true);
    assert_eq!(v["provisioning"]["store_id"], "store-0042");
}

/// Every route the router serves, with its method, and whether it needs a token.
const ROUTES: &[(&str, &str, bool)] = &[
    ("/v1/health", "get", false),
    ("/v1/openapi.json", "get", false),
    ("/v1/pairing", "post", false),
    ("/v1/pairing/{id}", "get", false),
    ("/v1/whoami", "get", true),
    ("/v1/modules", "get", true),
    ("/v1/journal", "get", true),
    ("/v1/pairings", "get", true),
    ("/v1/pairings/{code}/approve", "post", true),
    ("/v1/pairings/{code}/reject", "post", true),
    ("/v1/tokens", "get", true),
    ("/v1/tokens/{id}", "delete", true),
    ("/metrics", "get", true),
    ("/v1/events", "get", true),
    ("/v1/devices", "get", true),
    ("/v1/devices/{name}", "get", true),
    ("/v1/devices/{name}/claim", "post", true),
    ("/v1/devices/{name}/release", "post", true),
    ("/v1/devices/{name}/print", "post", true),
    ("/v1/devices/{name}/label", "post", true),
    ("/v1/devices/{name}/open", "post", true),
    ("/v1/devices/{name}/check", "post", true),
    ("/v1/devices/{name}/raw", "post", true),
    ("/v1/devices/{name}/simulate", "post", true),
    ("/v1/print-jobs", "get", true),
    ("/v1/print-jobs/{id}", "get", true),
    ("/v1/print-jobs/{id}/cancel", "post", true),
    ("/v1/print-jobs/{id}/reprint", "post", true),
    ("/v1/pos/catalog", "get", true),
    ("/v1/pos/catalog", "post", true),
    ("/v1/pos/items", "get", true),
    ("/v1/pos/items/{sku}", "get", true),
    ("/v1/pos/sales", "post", true),
    ("/v1/pos/sales/{id}", "get", true),
    ("/v1/pos/sales/{id}/lines", "post", true),
    ("/v1/pos/sales/{id}/lines/{line}/quantity", "post", true),
    ("/v1/pos/sales/{id}/lines/{line}/price", "post", true),
    ("/v1/pos/sales/{id}/coupons", "post", true),
    ("/v1/pos/sales/{id}/customer", "post", true),
    ("/v1/pos/sales/{id}/exemption", "post", true),
    ("/v1/pos/sales/{id}/tenders", "post", true),
    ("/v1/pos/sales/{id}/complete", "post", true),
    ("/v1/pos/sales/{id}/void", "post", true),
    ("/v1/pos/sales/{id}/email", "post", true),
    ("/v1/pos/sales/{id}/receipt", "post", true),
    ("/v1/pos/outbox", "get", true),
    ("/v1/pos/returns", "post", true),
    ("/v1/pos/returns/{id}", "get", true),
    ("/v1/pos/returns/no-receipt", "post", true),
    ("/v1/pos/exchanges", "post", true),
    ("/v1/pos/reports/offline", "get", true),
    ("/v1/pos/reports/sales", "get", true),
    ("/v1/pos/tills/{id}/open", "post", true),
    ("/v1/pos/tills/{id}/movements", "post", true),
    ("/v1/pos/tills/{id}/close", "post", true),
    ("/v1/pos/tills/{id}/x", "get", true),
    ("/v1/pos/tills/{id}/z", "get", true),
    ("/v1/pos/reports/store", "get", true),
    ("/v1/pos/customers", "get", true),
    ("/v1/pos/customers", "post", true),
    ("/v1/pos/customers/{id}", "get", true),
    ("/v1/pos/customers/{id}", "put", true),
    ("/v1/pos/customers/{id}", "delete", true),
];

async fn openapi_document(api: &Api) -> Value {
    let r = api.send(get("/v1/openapi.json")).await;
    r.ok(StatusCode::OK).clone()
}

#[tokio::test]
async fn openapi_is_public_and_describes_the_routes_with_a_bearer_scheme() {
    let api = Api::new();
    let doc = openapi_document(&api).await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    assert!(doc["components"]["schemas"]["Problem"].is_object());

    let paths = doc["paths"].as_object().expect("paths");
    for &(path, method, protected) in ROUTES {
        if path == "/v1/openapi.json" {
            continue; // see openapi_lists_its_own_route
        }
        let op = &paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing from the document"))[method];
        assert!(op.is_object(), "{method} {path} missing from the document");
        let security = op["security"].as_array().cloned().unwrap_or_default();
        let wants_bearer = security.iter().any(|s| s.get("bearer").is_some());
        assert_eq!(
            wants_bearer, protected,
            "security of {method} {path}: {security:?}"
        );
    }
}

#[tokio::test]
async fn openapi_lists_its_own_route() {
    let api = Api::new();
    let doc = openapi_document(&api).await;
    let mut listed: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            listed.push((path.clone(), method.clone()));
        }
    }
    listed.sort();
    let mut expected: Vec<(String, String)> = ROUTES
        .iter()
        .map(|&(p, m, _)| (p.to_owned(), m.to_owned()))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn every_documented_path_is_served() {
    let api = Api::new();
    let doc = openapi_document(&api).await;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let concrete = path
            .replace("{id}", &TokenId::random().to_string())
            .replace("{code}", "123456");
        for method in item.as_object().expect("path item").keys() {
            let method: Method = method.to_uppercase().parse().expect("method");
            let r = api.send(call(method.clone(), &concrete)).await;
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_ne!(r.detail(), "no such endpoint", "{method} {path}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication and roles
// ---------------------------------------------------------------------------------------------

/// Every protected endpoint, with what a well-formed request to it carries.
fn protected_calls() -> Vec<Call> {
    let some_token = format!("/v1/tokens/{}", TokenId::random());
    vec![
        get("/v1/whoami"),
        get("/v1/modules"),
        get("/v1/journal"),
        get("/v1/pairings"),
        post("/v1/pairings/123456/approve")
            .key(&fresh_key())
            .json(&json!({ "role": "associate" })),
        post("/v1/pairings/123456/reject").key(&fresh_key()),
        get("/v1/tokens"),
        delete(&some_token).key(&fresh_key()),
        get("/metrics"),
    ]
}

#[tokio::test]
async fn protected_endpoints_refuse_requests_without_a_valid_token() {
    let api = Api::new();
    let revoked = api.issue(Role::Technician);
    api.revoke(revoked.id);
    let seq = api.last_seq();
    let garbage = "Bearer this-token-was-never-issued-0123456789abcdef";
    let revoked_header = format!("Bearer {}", revoked.token);
    // (Authorization header, what the detail must mention)
    let credentials: [(Option<&str>, &str); 6] = [
        (None, "Bearer"),
        (Some("Basic dXNlcjpwYXNzd29yZA=="), "Bearer"),
        (Some("Bearer"), "Bearer"),
        (Some("Bearer "), "unknown"),
        (Some(garbage), "unknown"),
        (Some(&revoked_header), "revoked"),
    ];
    for (auth, mention) in credentials {
        for c in protected_calls() {
            let what = format!("{} {} with {auth:?}", c.method, c.path);
            let c = match auth {
                Some(a) => c.header(header::AUTHORIZATION, a),
                None => c,
            };
            let r = api.send(c).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text());
            r.problem(StatusCode::UNAUTHORIZED, "unauthorized");
            assert!(r.detail().contains(mention), "{what}: {}", r.detail());
        }
    }
    assert_eq!(api.last_seq(), seq);
}

#[tokio::test]
async fn every_protected_route_answers_401_without_a_token() {
    let api = Api::new();
    let seq = api.last_seq();
    let mut checked = 0;
    for &(path, method, protected) in ROUTES.iter().filter(|r| r.2) {
        let concrete = path
            .replace("{id}", &TokenId::random().to_string())
            .replace("{code}", "123456")
            .replace("{name}", "receipt-1")
            .replace("{sku}", "MUG-1")
            .replace("{line}", "1");
        let method: Method = method.to_uppercase().parse().expect("method");
        let mut c = call(method.clone(), &concrete);
        if method != Method::GET {
            c = c.key(&fresh_key()).json(&json!({}));
        }
        let r = api.send(c).await;
        assert!(protected);
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {}",
            r.text()
        );
        r.problem(StatusCode::UNAUTHORIZED, "unauthorized");
        checked += 1;
    }
    assert!(
        checked > 40,
        "ROUTES lists the protected routes ({checked})"
    );
    assert_eq!(api.last_seq(), seq, "nothing was written");
}

#[tokio::test]
async fn associates_are_forbidden_on_manager_and_technician_endpoints() {
    let api = Api::new();
    let associate = api.issue(Role::Associate);
    let target = api.issue(Role::Manager);
    let p = api.request_pairing("Till 1").await;
    let seq = api.last_seq();
    let forbidden = [
        get("/v1/tokens"),
        delete(&format!("/v1/tokens/{}", target.id)).key(&fresh_key()),
        get("/v1/pairings"),
        get("/v1/journal"),
        get("/metrics"),
        post(&format!("/v1/pairings/{}/approve", p.code))
            .key(&fresh_key())
            .json(&json!({ "role": "associate" })),
        post(&format!("/v1/pairings/{}/reject", p.code)).key(&fresh_key()),
    ];
    for c in forbidden {
        let what = format!("{} {}", c.method, c.path);
        let r = api.send(c.bearer(&associate.token)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.text());
        r.problem(StatusCode::FORBIDDEN, "forbidden");
        assert!(r.detail().contains("associate"), "{what}: {}", r.detail());
    }
    assert_eq!(api.last_seq(), seq);
    assert_eq!(api.pairing_state(&p.id).await["state"], "pending");
    assert_eq!(api.whoami(&target.token).await.status, StatusCode::OK);

    for path in ["/v1/whoami", "/v1/modules"] {
        let r = api.send(get(path).bearer(&associate.token)).await;
        r.ok(StatusCode::OK);
    }
}

#[tokio::test]
async fn managers_and_technicians_reach_their_endpoints() {
    let api = Api::new();
    for role in [Role::Manager, Role::Technician] {
        let t = api.issue(role);
        for path in ["/v1/tokens", "/v1/pairings", "/v1/journal", "/v1/modules"] {
            let r = api.send(get(path).bearer(&t.token)).await;
            assert_eq!(r.status, StatusCode::OK, "{role} on {path}: {}", r.text());
            r.ok(StatusCode::OK);
        }
        let r = api.send(get("/metrics").bearer(&t.token)).await;
        assert_eq!(r.status, StatusCode::OK, "{role} on /metrics: {}", r.text());
        let ct = r.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("text/plain"), "{ct}");
    }
}

#[tokio::test]
async fn whoami_names_the_token_role_and_label() {
    let api = Api::new();
    for role in Role::ALL {
        let t = api.issue(role);
        let r = api.whoami(&t.token).await;
        let v = r.ok(StatusCode::OK);
        assert_eq!(v["token_id"], t.id.to_string());
        assert_eq!(v["role"], role.as_str());
        assert_eq!(v["label"], format!("{role} console"));
    }
    // The scheme is case-insensitive and surrounding blanks do not matter.
    let t = api.issue(Role::Associate);
    let r = api
        .send(get("/v1/whoami").header(header::AUTHORIZATION, &format!("bearer  {} ", t.token)))
        .await;
    assert_eq!(r.ok(StatusCode::OK)["token_id"], t.id.to_string());
}

// ---------------------------------------------------------------------------------------------
// Pairing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn pairing_flow_with_manager_approval() {
    let api = Api::new();
    let manager = api.issue(Role::Manager);
    let token = auth::new_token();

    // Without an Idempotency-Key nothing happens.
    let seq = api.last_seq();
    let r = api
        .send(post("/v1/pairing").json(&pairing("Till 3 iPad", &token)))
        .await;
    r.problem(StatusCode::BAD_REQUEST, "idempotency-key-required");
    assert!(r.detail().contains("Idempotency-Key"), "{}", r.detail());
    assert_eq!(api.last_seq(), seq);

    // The request: a pairing id and a six-digit code.
    let call = post("/v1/pairing")
        .key("pair-1")
        .json(&pairing("Till 3 iPad", &token));
    let r = api.send(call).await;
    let created = r.ok(StatusCode::CREATED).clone();
    assert_eq!(r.header(REPLAYED_HEADER), None);
    let id = created["pairing_id"]
        .as_str()
        .expect("pairing_id")
        .to_owned();
    let code = created["code"].as_str().expect("code").to_owned();
    assert!(id.parse::<uuid::Uuid>().is_ok(), "{id}");
    assert_eq!(code.len(), 6, "{code}");
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    assert!(created["expires_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert_eq!(api.last_seq(), seq + 1);

    // Pending: the device polls, its token does not work yet.
    let status = api.pairing_state(&id).await;
    assert_eq!(
        status,
        json!({ "pairing_id": id, "state": "pending", "role": null })
    );
    let r = api.whoami(&token).await;
    r.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(r.detail().contains("approved"), "{}", r.detail());

    // The manager sees it and approves it.
    let r = api.send(get("/v1/pairings").bearer(&manager.token)).await;
    let list = r.ok(StatusCode::OK).as_array().expect("list").clone();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["pairing_id"], id);
    assert_eq!(list[0]["code"], code);
    assert_eq!(list[0]["device_name"], "Till 3 iPad");
    assert_eq!(list[0]["expires_at"], created["expires_at"]);

    let r = api.approve(&manager.token, &code, "associate").await;
    let decision = r.ok(StatusCode::OK);
    assert_eq!(
        *decision,
        json!({ "pairing_id": id, "device_name": "Till 3 iPad", "state": "approved",
            "role": "associate" })
    );

    // The token works, with the granted role and the device's name.
    let r = api.whoami(&token).await;
    let me = r.ok(StatusCode::OK);
    assert_eq!(me["role"], "associate");
    assert_eq!(me["label"], "Till 3 iPad");
    assert_eq!(
        me["token_id"], id,
        "an approved pairing's token id is its pairing id"
    );
    let status = api.pairing_state(&id).await;
    assert_eq!(
        status,
        json!({ "pairing_id": id, "state": "approved", "role": "associate" })
    );

    // Nothing is pending any more; the code cannot be approved twice.
    let r = api.send(get("/v1/pairings").bearer(&manager.token)).await;
    assert_eq!(*r.ok(StatusCode::OK), json!([]));
    let seq = api.last_seq();
    api.approve(&manager.token, &code, "manager")
        .await
        .problem(StatusCode::NOT_FOUND, "not-found");
    assert_eq!(api.last_seq(), seq);
    assert_eq!(
        api.whoami(&token).await.ok(StatusCode::OK)["role"],
        "associate"
    );

    // The token is listed for managers, without its secret.
    let r = api.send(get("/v1/tokens").bearer(&manager.token)).await;
    let tokens = r.ok(StatusCode::OK).as_array().expect("tokens").clone();
    let device = tokens
        .iter()
        .find(|t| t["id"] == id)
        .expect("device token listed");
    assert_eq!(device["role"], "associate");
    assert_eq!(device["active"], true);
    assert_eq!(device["revoked"], false);
    assert!(!r.text().contains(&token));
    assert!(!r.text().contains(&manager.token));

    assert_eq!(
        api.kinds(),
        ["token_issued", "pairing_requested", "pairing_approved"]
    );
}

#[tokio::test]
async fn only_a_technician_grants_the_technician_role() {
    let api = Api::new();
    let manager = api.issue(Role::Manager);
    let technician = api.issue(Role::Technician);
    let p = api.request_pairing("Service laptop").await;
    let seq = api.last_seq();

    let r = api.approve(&manager.token, &p.code, "technician").await;
    r.problem(StatusCode::FORBIDDEN, "forbidden");
    assert!(r.detail().contains("technician"), "{}", r.detail());
    assert_eq!(api.last_seq(), seq);
    assert_eq!(api.pairing_state(&p.id).await["state"], "pending");
    assert_eq!(api.whoami(&p.token).await.status, StatusCode::UNAUTHORIZED);

    let r = api.approve(&technician.token, &p.code, "technician").await;
    assert_eq!(r.ok(StatusCode::OK)["role"], "technician");
    assert_eq!(
        api.whoami(&p.token).await.ok(StatusCode::OK)["role"],
        "technician"
    );

    // A manager may still grant manager.
    let q = api.request_pairing("Back office PC").await;
    let r = api.approve(&manager.token, &q.code, "manager").await;
    assert_eq!(r.ok(StatusCode::OK)["role"], "manager");
    assert_eq!(
        api.whoami(&q.token).await.ok(StatusCode::OK)["role"],
        "manager"
    );
}

#[tokio::test]
async fn a_rejected_pairing_never_activates_its_token() {
    let api = Api::new();
    let manager = api.issue(Role::Manager);
    let p = api.request_pairing("Unknown tablet").await;

    let r = api.reject(&manager.token, &p.code).await;
    let v = r.ok(StatusCode::OK);
    assert_eq!(
        *v,
        json!({ "pairing_id": p.id, "device_name": "Unknown tablet", "state": "rejected",
            "role": null })
    );
    let status = api.pairing_state(&p.id).await;
    assert_eq!(
        status,
        json!({ "pairing_id": p.id, "state": "rejected", "role": null })
    );
    api.whoami(&p.token)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");

    // The code is gone: neither approval nor a second rejection finds it.
    let seq = api.last_seq();
    api.approve(&manager.token, &p.code, "associate")
        .await
        .problem(StatusCode::NOT_FOUND, "not-found");
    api.reject(&manager.token, &p.code)
        .await
        .problem(StatusCode::NOT_FOUND, "not-found");
    let r = api.send(get("/v1/pairings").bearer(&manager.token)).await;
    assert_eq!(*r.ok(StatusCode::OK), json!([]));
    assert_eq!(api.last_seq(), seq);
    assert_eq!(api.whoami(&p.token).await.status, StatusCode::UNAUTHORIZED);

    // The token cannot be registered again either.
    let call = post("/v1/pairing")
        .key(&fresh_key())
        .json(&pairing("Again", &p.token));
    api.send(call)
        .await
        .problem(StatusCode::CONFLICT, "conflict");
    assert_eq!(api.last_seq(), seq);
    assert_eq!(
        api.kinds(),
        ["token_issued", "pairing_requested", "pairing_rejected"]
    );
}

#[tokio::test]
async fn unknown_codes_and_pairing_ids_are_404() {
    let api = Api::new();
    let manager = api.issue(Role::Manager);
    let technician = api.issue(Role::Technician);
    let p = api.request_pairing("Till 1").await;
    let unknown = if p.code == "000000" {
        "000001"
    } else {
        "000000"
    };
    let seq = api.last_seq();

    for by in [&manager.token, &technician.token] {
        let r = api.approve(by, unknown, "associate").await;
        r.problem(StatusCode::NOT_FOUND, "not-found");
        assert!(r.detail().contains(unknown), "{}", r.detail());
        api.reject(by, unknown)
            .await
            .problem(StatusCode::NOT_FOUND, "not-found");
    }
    let r = api
        .send(get(&format!("/v1/pairing/{}", uuid::Uuid::new_v4())))
        .await;
    r.problem(StatusCode::NOT_FOUND, "not-found");
    assert_eq!(api.last_seq(), seq);
    assert_eq!(api.pairing_state(&p.id).await["state"], "pending");
}

#[tokio::test]
async fn an_expired_pairing_cannot_be_approved_or_rejected() {
    let mut cfg = config();
    cfg.pairing.code_ttl_secs = 0;
    let api = Api::with(cfg);
    let manager = api.issue(Role::Manager);
    let p = api.request_pairing("Slow device").await;
    let seq = api.last_seq();

    let status = api.pairing_state(&p.id).await;
    assert_eq!(
        status,
        json!({ "pairing_id": p.id, "state": "expired", "role": null })
    );
    let r = api.send(get("/v1/pairings").bearer(&manager.token)).await;
    assert_eq!(*r.ok(StatusCode::OK), json!([]));
    let r = api.approve(&manager.token, &p.code, "associate").await;
    r.problem(StatusCode::GONE, "gone");
    assert!(r.detail().contains(&p.code), "{}", r.detail());
    api.reject(&manager.token, &p.code)
        .await
        .problem(StatusCode::GONE, "gone");
    assert_eq!(api.last_seq(), seq);
    assert_eq!(api.whoami(&p.token).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_revoked_while_pending_stays_unusable_after_approval() {
    let api = Api::new();
    let manager = api.issue(Role::Manager);
    let p = api.request_pairing("Lost phone").await;
    let r = api
        .send(
            delete(&format!("/v1/tokens/{}", p.id))
                .bearer(&manager.token)
                .key("k1"),
        )
        .await;
    assert_eq!(r.ok(StatusCode::OK)["revoked"], true);

    let r = api.approve(&manager.token, &p.code, "associate").await;
    r.ok(StatusCode::OK);
    let r = api.whoami(&p.token).await;
    r.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(r.detail().contains("revoked"), "{}", r.detail());
}

// ---------------------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_pairing_request_retry_replays_the_first_answer() {
    let api = Api::new();
    let technician = api.issue(Role::Technician);
    let token = auth::new_token();
    let body = pairing("Till 4", &token);

    let first = api.send(post("/v1/pairing").key("k-1").json(&body)).await;
    first.ok(StatusCode::CREATED);
    assert_eq!(first.header(REPLAYED_HEADER), None);
    let seq = api.last_seq();

    let again = api.send(post("/v1/pairing").key("k-1").json(&body)).await;
    again.ok(StatusCode::CREATED);
    assert_eq!(again.body, first.body, "a replay is byte-identical");
    assert_eq!(again.header(REPLAYED_HEADER), Some("true"));

    // The same request spelled differently is the same request.
    let respelled = format!(r#"{{ "token": "{token}",  "device_name": "Till 4" }}"#);
    let r = api
        .send(
            post("/v1/pairing")
                .key("k-1")
                .raw("application/json", respelled),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.body, first.body);
    assert_eq!(r.header(REPLAYED_HEADER), Some("true"));

    // Keys are scoped to the device's token: another device may use the same key.
    let other = pairing("Till 4", &auth::new_token());
    let r = api.send(post("/v1/pairing").key("k-1").json(&other)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_ne!(r.body, first.body);
    assert_eq!(r.header(REPLAYED_HEADER), None);
    // The same key with another body from the same device is refused.
    let r = api
        .send(
            post("/v1/pairing")
                .key("k-1")
                .json(&pairing("Till 5", &token)),
        )
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused");

    // One event for the first device, one for the other; none for the retries.
    assert_eq!(api.last_seq(), seq + 1);
    let kinds = api.journal_kinds(&technician.token).await;
    assert_eq!(count(&kinds, "pairing_requested"), 2, "{kinds:?}");
    let r = api
        .send(get("/v1/pairings").bearer(&technician.token))
        .await;
    assert_eq!(r.ok(StatusCode::OK).as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn idempotency_keys_must_be_visible_ascii_of_at_most_255_bytes() {
    let api = Api::new();
    let seq = api.last_seq();
    let long = "k".repeat(256);
    for key in ["", "has space", "tab\tkey", long.as_str()] {
        let body = pairing("Till 1", &auth::new_token());
        let r = api.send(post("/v1/pairing").key(key).json(&body)).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "key {key:?}: {}",
            r.text()
        );
        r.problem(StatusCode::BAD_REQUEST, "idempotency-key-required");
    }
    assert_eq!(api.last_seq(), seq);
    let key = "k".repeat(255);
    let body = pairing("Till 1", &auth::new_token());
    let r = api.send(post("/v1/pairing").key(&key).json(&body)).await;
    r.ok(StatusCode::CREATED);
}

#[tokio::test]
async fn an_approval_retry_replays_the_first_answer() {
    let api = Api::new();
    let manager = api.issue(Role::Manager);
    let technician = api.issue(Role::Technician);
    let p = api.request_pairing("Till 6").await;
    let path = format!("/v1/pairings/{}/approve", p.code);
    let approve = |key: &str, role: &str| {
        post(&path)
            .bearer(&manager.token)
            .key(key)
            .json(&json!({ "role": role }))
    };

    let first = api.send(approve("a-1", "associate")).await;
    first.ok(StatusCode::OK);
    assert_eq!(first.header(REPLAYED_HEADER), None);
    let seq = api.last_seq();

    let again = api.send(approve("a-1", "associate")).await;
    again.ok(StatusCode::OK);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header(REPLAYED_HEADER), Some("true"));

    let r = api.send(approve("a-1", "manager")).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused");
    assert_eq!(api.last_seq(), seq);
    let kinds = api.journal_kinds(&technician.token).await;
    assert_eq!(count(&kinds, "pairing_approved"), 1, "{kinds:?}");
    assert_eq!(
        api.whoami(&p.token).await.ok(StatusCode::OK)["role"],
        "associate"
    );

    // Keys belong to the caller: another token may use the same key for its own request.
    let q = api.request_pairing("Till 7").await;
    let r = api
        .send(
            post(&format!("/v1/pairings/{}/approve", q.code))
                .bearer(&technician.token)
                .key("a-1")
                .json(&json!({ "role": "manager" })),
        )
        .await;
    assert_eq!(r.ok(StatusCode::OK)["role"], "manager");
    assert_eq!(r.header(REPLAYED_HEADER), None);
    assert_eq!(
        api.whoami(&q.token).await.ok(StatusCode::OK)["role"],
        "manager"
    );
}

#[tokio::test]
async fn a_rejection_retry_replays_the_first_answer() {
    let api = Api::new();
    let manager = api.issue(Role::Manager);
    let p = api.request_pairing("Till 8").await;
    let path = format!("/v1/pairings/{}/reject", p.code);

    let first = api
        .send(post(&path).bearer(&manager.token).key("r-1"))
        .await;
    assert_eq!(first.ok(StatusCode::OK)["state"], "rejected");
    let seq = api.last_seq();
    let again = api
        .send(post(&path).bearer(&manager.token).key("r-1"))
        .await;
    again.ok(StatusCode::OK);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header(REPLAYED_HEADER), Some("true"));

    // The same key on another path is another request.
    let other = "/v1/pairings/999999/reject";
    let r = api
        .send(post(other).bearer(&manager.token).key("r-1"))
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused");
    assert_eq!(api.last_seq(), seq);
}

// ---------------------------------------------------------------------------------------------
// Bad input changes nothing
// ---------------------------------------------------------------------------------------------

/// One malformed request and the answer it must get.
struct Bad {
    what: &'static str,
    content_type: Option<&'static str>,
    body: String,
    status: StatusCode,
    kind: &'static str,
    field: Option<&'static str>,
}

impl Bad {
    /// A JSON body refused with 422 `validation`, naming no particular field.
    fn invalid(what: &'static str, body: impl Into<String>) -> Bad {
        Bad {
            what,
            content_type: Some("application/json"),
            body: body.into(),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: "validation",
            field: None,
        }
    }

    /// A JSON body refused with 422 `validation` naming `field`.
    fn field(what: &'static str, body: impl Into<String>, field: &'static str) -> Bad {
        Bad {
            field: Some(field),
            ..Bad::invalid(what, body)
        }
    }

    /// A body refused with 400 `bad-request`.
    fn malformed(what: &'static str, ct: Option<&'static str>, body: impl Into<String>) -> Bad {
        Bad {
            content_type: ct,
            status: StatusCode::BAD_REQUEST,
            kind: "bad-request",
            ..Bad::invalid(what, body)
        }
    }

    /// A JSON body refused with 413 `payload-too-large`.
    fn too_large(what: &'static str, body: impl Into<String>) -> Bad {
        Bad {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            kind: "payload-too-large",
            ..Bad::invalid(what, body)
        }
    }
}

const JSON: Option<&str> = Some("application/json");

/// The body limit of the configuration used for bad input.
const BODY_LIMIT: usize = 512;

fn small_body_limit() -> Config {
    let mut cfg = config();
    cfg.api.body_limit_bytes = BODY_LIMIT;
    cfg
}

/// POSTs each bad request to `path` with a fresh Idempotency-Key (and `bearer`), and checks
/// the answer and that the journal did not move.
async fn refuse_all(api: &Api, path: &str, bearer: Option<&str>, cases: Vec<Bad>) {
    for case in cases {
        let seq = api.last_seq();
        let mut c = post(path).key(&fresh_key());
        if let Some(t) = bearer {
            c = c.bearer(t);
        }
        c = match case.content_type {
            Some(ct) => c.raw(ct, case.body.clone()),
            None => Call {
                body: Body::from(case.body.clone()),
                ..c
            },
        };
        let r = api.send(c).await;
        assert_eq!(r.status, case.status, "{}: {}", case.what, r.text());
        let p = r.problem(case.status, case.kind);
        if let Some(field) = case.field {
            assert_eq!(p["field"], field, "{}: {p}", case.what);
        }
        assert_eq!(api.last_seq(), seq, "{} changed the journal", case.what);
    }
}

#[tokio::test]
async fn bad_pairing_requests_are_refused_and_change_nothing() {
    let api = Api::with(small_body_limit());
    let t = auth::new_token();
    let body = |name: &str, tok: &str| pairing(name, tok).to_string();
    let cases = vec![
        Bad::field("missing token", r#"{"device_name":"Till"}"#, "token"),
        Bad::field(
            "missing name",
            format!(r#"{{"token":"{t}"}}"#),
            "device_name",
        ),
        Bad::field(
            "unknown field",
            format!(r#"{{"device_name":"Till","token":"{t}","colour":"red"}}"#),
            "colour",
        ),
        Bad::invalid(
            "name not a string",
            format!(r#"{{"device_name":5,"token":"{t}"}}"#),
        ),
        Bad::invalid("array body", "[]"),
        Bad::malformed("malformed JSON", JSON, r#"{"device_name":"Till","#),
        Bad::malformed("empty body", JSON, ""),
        Bad::malformed("text/plain", Some("text/plain"), body("Till", &t)),
        Bad::malformed("no content type", None, body("Till", &t)),
        Bad::field("token too short", body("Till", "short-token"), "token"),
        Bad::field("token of 31", body("Till", &"a".repeat(31)), "token"),
        Bad::field("token of 129", body("Till", &"a".repeat(129)), "token"),
        Bad::field(
            "token with '/'",
            body("Till", &format!("{}/", "a".repeat(40))),
            "token",
        ),
        Bad::field("empty name", body("", &t), "device_name"),
        Bad::field("blank name", body("   ", &t), "device_name"),
        Bad::field("name of 65", body(&"n".repeat(65), &t), "device_name"),
        Bad::field("name with a newline", body("Till\n3", &t), "device_name"),
        Bad::too_large("body over the limit", body(&"n".repeat(BODY_LIMIT), &t)),
    ];
    refuse_all(&api, "/v1/pairing", None, cases).await;
    assert!(api.kinds().is_empty());

    // The limits are inclusive: 32 and 128 characters, 64 for the name.
    for (name, tok) in [
        ("n".repeat(64), "a".repeat(32)),
        ("Till".into(), "b".repeat(128)),
    ] {
        let r = api
            .send(
                post("/v1/pairing")
                    .key(&fresh_key())
                    .json(&pairing(&name, &tok)),
            )
            .await;
        r.ok(StatusCode::CREATED);
    }
}

#[tokio::test]
async fn bad_approvals_are_refused_and_change_nothing() {
    let api = Api::with(small_body_limit());
    let manager = api.issue(Role::Manager);
    let p = api.request_pairing("Till 9").await;
    let path = format!("/v1/pairings/{}/approve", p.code);
    let pad = "x".repeat(BODY_LIMIT);
    let cases = vec![
        Bad::field("missing role", "{}", "role"),
        Bad::invalid("unknown role", r#"{"role":"admin"}"#),
        Bad::invalid("capitalised role", r#"{"role":"Manager"}"#),
        Bad::field(
            "unknown field",
            r#"{"role":"associate","until":"x"}"#,
            "until",
        ),
        Bad::malformed("malformed JSON", JSON, r#"{"role":"#),
        Bad::malformed("text/plain", Some("text/plain"), r#"{"role":"associate"}"#),
        Bad::malformed("no body", None, ""),
        Bad::too_large(
            "over the limit",
            format!(r#"{{"role":"associate","p":"{pad}"}}"#),
        ),
    ];
    refuse_all(&api, &path, Some(&manager.token), cases).await;

    // Without an Idempotency-Key.
    let r = api
        .send(
            post(&path)
                .bearer(&manager.token)
                .json(&json!({ "role": "associate" })),
        )
        .await;
    r.problem(StatusCode::BAD_REQUEST, "idempotency-key-required");

    assert_eq!(api.kinds(), ["token_issued", "pairing_requested"]);
    assert_eq!(api.pairing_state(&p.id).await["state"], "pending");
    assert_eq!(api.whoami(&p.token).await.status, StatusCode::UNAUTHORIZED);
    api.approve(&manager.token, &p.code, "associate")
        .await
        .ok(StatusCode::OK);
}

#[tokio::test]
async fn validation_problems_name_the_field_not_a_value() {
    let api = Api::new();
    let manager = api.issue(Role::Manager);
    let p = api.request_pairing("Till 10").await;
    let path = format!("/v1/pairings/{}/approve", p.code);
    for body in [r#"{"role":"fieldwork"}"#, r#"{"role":"admin"}"#] {
        let r = api
            .send(
                post(&path)
                    .bearer(&manager.token)
                    .key(&fresh_key())
                    .raw("application/json", body),
            )
            .await;
        let problem = r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(problem["field"], "role", "{body}: {problem}");
    }
    let body = format!(r#"{{"device_name":5,"token":"{}"}}"#, auth::new_token());
    let r = api
        .send(
            post("/v1/pairing")
                .key(&fresh_key())
                .raw("application/json", body),
        )
        .await;
    let problem = r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(problem["field"], "device_name", "{problem}");
}

#[tokio::test]
async fn malformed_ids_in_paths_are_422() {
    let api = Api::new();
    let manager = api.issue(Role::Manager);
    let seq = api.last_seq();
    for id in ["not-a-uuid", "123", "0000000-0000-0000-0000-000000000000"] {
        let r = api.send(get(&format!("/v1/pairing/{id}"))).await;
        let p = r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(p["field"], "id", "{id}: {p}");

        let c = delete(&format!("/v1/tokens/{id}"))
            .bearer(&manager.token)
            .key(&fresh_key());
        let r = api.send(c).await;
        let p = r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(p["field"], "id", "{id}: {p}");
    }
    assert_eq!(api.last_seq(), seq);
}

// ---------------------------------------------------------------------------------------------
// Rate limits
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn pairing_requests_are_rate_limited_per_client() {
    let mut cfg = config();
    cfg.pairing.per_client_per_minute = 2;
    let api = Api::with(cfg);
    api.request_pairing("Till 1").await;
    api.request_pairing("Till 2").await;
    let seq = api.last_seq();

    let body = pairing("Till 3", &auth::new_token());
    let r = api
        .send(post("/v1/pairing").key(&fresh_key()).json(&body))
        .await;
    r.problem(StatusCode::TOO_MANY_REQUESTS, "rate-limited");
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After header")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert!(r.detail().contains(&retry.to_string()), "{}", r.detail());
    assert_eq!(api.last_seq(), seq);
    assert_eq!(api.kinds(), ["pairing_requested", "pairing_requested"]);

    // Other endpoints are not limited.
    api.send(get("/v1/health")).await.ok(StatusCode::OK);
}

#[tokio::test]
async fn pairing_requests_are_rate_limited_in_total() {
    let mut cfg = config();
    cfg.pairing.total_per_minute = 1;
    let api = Api::with(cfg);
    api.request_pairing("Till 1").await;
    let body = pairing("Till 2", &auth::new_token());
    let r = api
        .send(post("/v1/pairing").key(&fresh_key()).json(&body))
        .await;
    r.problem(StatusCode::TOO_MANY_REQUESTS, "rate-limited");
    assert!(r.header("retry-after").is_some());
    assert_eq!(api.kinds(), ["pairing_requested"]);
}

#[tokio::test]
async fn a_pairing_retry_is_replayed_even_when_the_limit_is_spent() {
    let mut cfg = config();
    cfg.pairing.per_client_per_minute = 1;
    let api = Api::with(cfg);
    let body = pairing("Till 1", &auth::new_token());
    let first = api.send(post("/v1/pairing").key("once").json(&body)).await;
    first.ok(StatusCode::CREATED);
    let again = api.send(post("/v1/pairing").key("once").json(&body)).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
    assert_eq!(again.body, first.body);
    assert_eq!(again.header(REPLAYED_HEADER), Some("true"));
}

// ---------------------------------------------------------------------------------------------
// Modules
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn switched_off_modules_answer_module_disabled() {
    let api = Api::new();
    let associate = api.issue(Role::Associate);
    for (path, module) in [
        ("/v1/omni/anything", "omni"),
        ("/v1/omni/orders/42", "omni"),
        ("/v1/omni-plus/anything", "omni_plus"),
        ("/v1/pos-plus/anything", "pos_plus"),
    ] {
        for method in [Method::GET, Method::POST] {
            let r = api
                .send(call(method.clone(), path).bearer(&associate.token))
                .await;
            r.problem(StatusCode::NOT_FOUND, "module-disabled");
            let needle = format!("module {module} ");
            assert!(
                r.detail().contains(&needle),
                "{method} {path}: {}",
                r.detail()
            );
        }
    }
    let r = api
        .send(get("/v1/pos/anything").bearer(&associate.token))
        .await;
    r.problem(StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn module_paths_need_a_token() {
    let api = Api::new();
    for path in [
        "/v1/omni/x",
        "/v1/pos/x",
        "/v1/pos-plus/x",
        "/v1/omni-plus/x",
    ] {
        let r = api.send(get(path)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {}", r.text());
        r.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

async fn module_flags(api: &Api) -> Vec<(String, String, bool)> {
    let t = api.issue(Role::Associate);
    let r = api.send(get("/v1/modules").bearer(&t.token)).await;
    let list = r.ok(StatusCode::OK).as_array().expect("modules").clone();
    list.iter()
        .map(|m| {
            let s = |k: &str| m[k].as_str().expect("string").to_owned();
            (
                s("name"),
                s("prefix"),
                m["enabled"].as_bool().expect("bool"),
            )
        })
        .collect()
}

fn modules(flags: [bool; 4]) -> Vec<(String, String, bool)> {
    let names = [
        ("pos", "/v1/pos"),
        ("pos_plus", "/v1/pos-plus"),
        ("omni", "/v1/omni"),
        ("omni_plus", "/v1/omni-plus"),
    ];
    names
        .iter()
        .zip(flags)
        .map(|(&(n, p), on)| (n.to_owned(), p.to_owned(), on))
        .collect()
}

#[tokio::test]
async fn modules_lists_the_four_modules_with_their_switches() {
    let api = Api::new();
    assert_eq!(
        module_flags(&api).await,
        modules([true, false, false, false])
    );
}

#[tokio::test]
async fn switching_modules_in_the_configuration_changes_the_answers() {
    let mut cfg = config();
    cfg.modules.pos = false;
    cfg.modules.omni = true;
    let api = Api::with(cfg);
    assert_eq!(
        module_flags(&api).await,
        modules([false, false, true, false])
    );
    let t = api.issue(Role::Associate);
    let r = api.send(get("/v1/omni/anything").bearer(&t.token)).await;
    r.problem(StatusCode::NOT_FOUND, "not-found");
    let r = api.send(get("/v1/pos/anything").bearer(&t.token)).await;
    r.problem(StatusCode::NOT_FOUND, "module-disabled");
    assert!(r.detail().contains("module pos "), "{}", r.detail());
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn revoking_a_token() {
    let api = Api::new();
    let manager = api.issue(Role::Manager);
    let victim = api.issue(Role::Associate);
    let path = format!("/v1/tokens/{}", victim.id);
    api.whoami(&victim.token).await.ok(StatusCode::OK);

    // Without a key nothing happens.
    let seq = api.last_seq();
    let r = api.send(delete(&path).bearer(&manager.token)).await;
    r.problem(StatusCode::BAD_REQUEST, "idempotency-key-required");
    assert_eq!(api.last_seq(), seq);

    let r = api
        .send(delete(&path).bearer(&manager.token).key("rv-1"))
        .await;
    let v = r.ok(StatusCode::OK).clone();
    assert_eq!(v["id"], victim.id.to_string());
    assert_eq!(v["role"], "associate");
    assert_eq!(v["label"], "associate console");
    assert_eq!(v["revoked"], true);
    assert_eq!(v["active"], false);
    assert_eq!(api.last_seq(), seq + 1);

    let r = api.whoami(&victim.token).await;
    r.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(r.detail().contains("revoked"), "{}", r.detail());

    // The list shows it revoked.
    let r = api.send(get("/v1/tokens").bearer(&manager.token)).await;
    let tokens = r.ok(StatusCode::OK).as_array().expect("tokens").clone();
    let listed = tokens.iter().find(|t| t["id"] == v["id"]).expect("listed");
    assert_eq!(listed["revoked"], true);
    assert_eq!(listed["active"], false);

    // The same key replays; a new key succeeds without journaling again.
    let again = api
        .send(delete(&path).bearer(&manager.token).key("rv-1"))
        .await;
    assert_eq!(*again.ok(StatusCode::OK), v);
    assert_eq!(again.header(REPLAYED_HEADER), Some("true"));
    let twice = api
        .send(delete(&path).bearer(&manager.token).key("rv-2"))
        .await;
    assert_eq!(*twice.ok(StatusCode::OK), v);
    assert_eq!(twice.header(REPLAYED_HEADER), None);
    assert_eq!(api.last_seq(), seq + 1);
    assert_eq!(
        api.kinds(),
        ["token_issued", "token_issued", "token_revoked"]
    );

    // An unknown id.
    let unknown = TokenId::random();
    let r = api
        .send(
            delete(&format!("/v1/tokens/{unknown}"))
                .bearer(&manager.token)
                .key("rv-3"),
        )
        .await;
    r.problem(StatusCode::NOT_FOUND, "not-found");
    assert!(r.detail().contains(&unknown.to_string()), "{}", r.detail());
    assert_eq!(api.last_seq(), seq + 1);
}

#[tokio::test]
async fn a_revoked_manager_can_no_longer_revoke() {
    let api = Api::new();
    let technician = api.issue(Role::Technician);
    let manager = api.issue(Role::Manager);
    let other = api.issue(Role::Associate);
    let path = format!("/v1/tokens/{}", manager.id);
    let r = api
        .send(delete(&path).bearer(&technician.token).key("x"))
        .await;
    r.ok(StatusCode::OK);
    let seq = api.last_seq();
    let r = api
        .send(
            delete(&format!("/v1/tokens/{}", other.id))
                .bearer(&manager.token)
                .key("y"),
        )
        .await;
    r.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(api.last_seq(), seq);
    api.whoami(&other.token).await.ok(StatusCode::OK);
}

#[tokio::test]
async fn the_token_list_holds_tokens_with_a_role_and_no_secrets() {
    let api = Api::new();
    let manager = api.issue(Role::Manager);
    let associate = api.issue(Role::Associate);
    let pending = api.request_pairing("Pending till").await;
    let r = api.send(get("/v1/tokens").bearer(&manager.token)).await;
    let tokens = r.ok(StatusCode::OK).as_array().expect("tokens").clone();
    let mut ids: Vec<&str> = tokens
        .iter()
        .map(|t| t["id"].as_str().expect("id"))
        .collect();
    // Listed by creation time, then id: two tokens issued in the same millisecond come in id
    // order, so compare as sets.
    ids.sort_unstable();
    let mut want = [manager.id.to_string(), associate.id.to_string()];
    want.sort_unstable();
    assert_eq!(ids, want);
    for t in &tokens {
        let keys: Vec<&str> = t
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["active", "created_at", "id", "label", "revoked", "role"]
        );
    }
    for secret in [&manager.token, &associate.token, &pending.token] {
        assert!(!r.text().contains(secret.as_str()));
    }
}

// ---------------------------------------------------------------------------------------------
// Errors outside handlers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_wrong_method_is_a_problem_document() {
    let api = Api::new();
    let t = api.issue(Role::Technician);
    let cases = [
        (delete("/v1/health"), "GET"),
        (get("/v1/pairing"), "POST"),
        (post("/v1/openapi.json"), "GET"),
        (call(Method::PUT, "/v1/whoami").bearer(&t.token), "GET"),
        (post("/v1/tokens").bearer(&t.token).key("m-1"), "GET"),
    ];
    for (c, allowed) in cases {
        let what = format!("{} {}", c.method, c.path);
        let r = api.send(c).await;
        assert_eq!(
            r.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{what}: {}",
            r.text()
        );
        r.problem(StatusCode::METHOD_NOT_ALLOWED, "http-405");
        let allow = r.header("allow").unwrap_or_default();
        assert!(allow.contains(allowed), "{what}: Allow {allow:?}");
        if let Some(len) = r.header("content-length") {
            assert_eq!(
                len,
                r.body.len().to_string(),
                "{what}: stale Content-Length"
            );
        }
    }
}

#[tokio::test]
async fn an_unknown_path_is_a_problem_document() {
    let api = Api::new();
    for path in ["/v1/nothing", "/", "/v2/health", "/v1/omnibus"] {
        let r = api.send(get(path)).await;
        r.problem(StatusCode::NOT_FOUND, "not-found");
    }
}

#[tokio::test]
async fn a_request_that_outlasts_the_timeout_is_a_503_problem() {
    let mut cfg = config();
    cfg.api.request_timeout_ms = 50;
    let api = Api::with(cfg);
    let c = post("/v1/pairing")
        .key(&fresh_key())
        .raw("application/json", Body::new(Stalled));
    let r = api.send(c).await;
    r.problem(StatusCode::SERVICE_UNAVAILABLE, "timeout");
    assert!(api.kinds().is_empty());
}

// ---------------------------------------------------------------------------------------------
// The journal
// ---------------------------------------------------------------------------------------------

fn seqs(page: &Value) -> Vec<u64> {
    let events = page["events"].as_array().expect("events");
    events
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect()
}

#[tokio::test]
async fn the_journal_pages_with_after_and_limit() {
    let api = Api::new();
    let technician = api.issue(Role::Technician);
    for _ in 0..4 {
        api.issue(Role::Associate);
    }
    let page = |q: &'static str| {
        let c = get(&format!("/v1/journal{q}")).bearer(&technician.token);
        api.send(c)
    };

    let r = page("").await;
    let v = r.ok(StatusCode::OK);
    assert_eq!(seqs(v), [1, 2, 3, 4, 5]);
    assert_eq!(v["last_seq"], 5);
    let first = &v["events"][0];
    assert_eq!(first["kind"], "token_issued");
    assert!(first["id"]
        .as_str()
        .is_some_and(|id| id.parse::<uuid::Uuid>().is_ok()));
    assert!(first["at"].as_str().is_some_and(|at| at.ends_with('Z')));
    assert!(first["event"].is_object(), "{first}");

    for (q, want) in [
        ("?limit=2", vec![1, 2]),
        ("?after=2&limit=2", vec![3, 4]),
        ("?after=4", vec![5]),
        ("?after=5", vec![]),
        ("?after=99&limit=1000", vec![]),
        ("?limit=1", vec![1]),
        ("?after=18446744073709551615", vec![]),
    ] {
        let r = page(q).await;
        let v = r.ok(StatusCode::OK);
        assert_eq!(seqs(v), want, "{q}");
        assert_eq!(v["last_seq"], 5, "{q}");
    }

    for q in ["?limit=0", "?limit=5000", "?limit=1001", "?after=1&limit=0"] {
        let r = page(q).await;
        let p = r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(p["field"], "limit", "{q}: {p}");
    }
    for (q, field) in [("?limit=abc", "limit"), ("?after=-1", "after")] {
        let r = page(q).await;
        let p = r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(p["field"], field, "{q}: {p}");
    }
}
