//! The POS endpoints driven through the whole router, without a socket: a store day, retries,
//! bad input, roles, lookups, the module gate, customers and catalog loading.
//!
//! Each test has its own store in a temporary directory with the sample catalog loaded, and a
//! token per role issued through the store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use cloud_bridge::edge::EdgeStats;
use http_body_util::BodyExt;
use protocol::event::Actor;
use protocol::pos::{Tender, TenderKind, TillMove};
use protocol::{Event, Role, StoreId};
use serde_json::{json, Value};
use tempfile::TempDir;
use tower::ServiceExt;

use crate::api::write::REPLAYED_HEADER;
use crate::api::{router, AppState};
use crate::auth;
use crate::config::Config;
use crate::store::{Planned, Store, StoreSettings};

struct Pos {
    app: Router,
    /// The cloud link's figures the router reads: set `connected` to simulate the link.
    link: Arc<EdgeStats>,
    store: Store,
    associate: String,
    manager: String,
    keys: AtomicU64,
    _dir: TempDir,
}

/// A response: status, JSON body, whether it was replayed.
struct Reply {
    status: StatusCode,
    json: Value,
    replayed: bool,
}

impl Reply {
    #[track_caller]
    fn ok(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "{}", self.json);
        &self.json
    }

    /// A problem with `status` naming `field` (if given).
    #[track_caller]
    fn problem(&self, status: StatusCode, field: Option<&str>) {
        assert_eq!(self.status, status, "{}", self.json);
        assert!(self.json["detail"].as_str().is_some_and(|d| !d.is_empty()));
        if let Some(f) = field {
            assert_eq!(self.json["field"], f, "{}", self.json);
        }
    }
}

fn usd(minor: i64) -> Value {
    json!({"minor": minor, "currency": "USD"})
}

impl Pos {
    fn new() -> Pos {
        Pos::with(Config::default())
    }

    fn with(config: Config) -> Pos {
        let dir = tempfile::tempdir().expect("temporary directory");
        let id = StoreId::new("store-0042").expect("store id");
        let store = Store::open(dir.path(), &id, &StoreSettings::default()).expect("store");
        store.load_sample_catalog().expect("sample catalog");
        let issue = |role: Role| {
            let mut token = String::new();
            store
                .write(None, |r| {
                    let (events, _, t) = auth::issue_token(r, role, "till", Actor::Admin)?;
                    token = t;
                    Ok::<_, auth::AuthError>(Planned {
                        events,
                        ..Default::default()
                    })
                })
                .expect("issue token");
            token
        };
        let (associate, manager) = (issue(Role::Associate), issue(Role::Manager));
        let link = Arc::new(EdgeStats::default());
        let mut state = AppState::new(store.clone(), config, None);
        state.link = Some(link.clone());
        Pos {
            app: router(state),
            link,
            store,
            associate,
            manager,
            keys: AtomicU64::new(0),
            _dir: dir,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if let Some(k) = key {
            b = b.header("idempotency-key", k);
        }
        let body = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let resp = self
            .app
            .clone()
            .oneshot(b.body(body).expect("request"))
            .await
            .expect("infallible");
        let replayed = resp.headers().contains_key(REPLAYED_HEADER);
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            replayed,
        }
    }

    fn key(&self) -> String {
        format!("k-{}", self.keys.fetch_add(1, Ordering::Relaxed))
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, &self.associate, None, None)
            .await
    }

    /// POST as the associate with a fresh key.
    async fn post(&self, path: &str, body: Value) -> Reply {
        let key = self.key();
        self.send(Method::POST, path, &self.associate, Some(&key), Some(&body))
            .await
    }

    /// POST as the manager with a fresh key.
    async fn post_mgr(&self, path: &str, body: Value) -> Reply {
        let key = self.key();
        self.send(Method::POST, path, &self.manager, Some(&key), Some(&body))
            .await
    }

    fn last_seq(&self) -> u64 {
        self.store.stats().expect("stats").last_seq
    }

    fn count(&self, kind: &str) -> usize {
        let all = self.store.journal_after(0, 100_000).expect("journal");
        all.iter().filter(|e| e.event.kind() == kind).count()
    }

    async fn open_till(&self, till: &str, float: i64) {
        let r = self
            .post(
                &format!("/v1/pos/tills/{till}/open"),
                json!({"float": usd(float)}),
            )
            .await;
        r.ok(StatusCode::CREATED);
    }

    /// A completed sale of one `line` paid by card for `total`; returns its id.
    async fn card_sale(&self, line: Value, total: i64) -> String {
        let sale = self.sale(None).await;
        let s = format!("/v1/pos/sales/{sale}");
        self.post(&format!("{s}/lines"), line)
            .await
            .ok(StatusCode::OK);
        let card = json!({"kind": "card", "amount": usd(total), "reference": "A-1"});
        self.post(&format!("{s}/tenders"), card)
            .await
            .ok(StatusCode::OK);
        self.post(&format!("{s}/complete"), json!(null))
            .await
            .ok(StatusCode::OK);
        sale
    }

    /// A new sale on `till`; returns its id.
    async fn sale(&self, till: Option<&str>) -> String {
        let r = self.post("/v1/pos/sales", json!({"till": till})).await;
        r.ok(StatusCode::CREATED)["id"]
            .as_str()
            .expect("sale id")
            .to_owned()
    }
}

fn minor(v: &Value) -> i64 {
    v["minor"]
        .as_i64()
        .unwrap_or_else(|| panic!("not money: {v}"))
}

#[tokio::test]
async fn a_store_day_sells_returns_pays_out_and_closes_with_a_count() {
    let pos = Pos::new();
    pos.open_till("till-1", 10_000).await;
    let sale = pos.sale(Some("till-1")).await;
    let s = format!("/v1/pos/sales/{sale}");
    // Socks by their UPC-A scan, three of them (buy 2 get 1 free), a mug by SKU (10 % off).
    pos.post(
        &format!("{s}/lines"),
        json!({"barcode": "036000291452", "quantity": 3}),
    )
    .await
    .ok(StatusCode::OK);
    let v = pos
        .post(&format!("{s}/lines"), json!({"sku": "MUG-1"}))
        .await;
    let v = v.ok(StatusCode::OK).clone();
    assert_eq!(minor(&v["subtotal"]), 3 * 1_200 + 1_450);
    assert_eq!(minor(&v["discount"]), 1_200 + 145);
    let socks = &v["lines"][0];
    assert_eq!(socks["discounts"][0]["rule"], "socks-3for2");
    // Clothing: city 4.875 % of 24.00 = 1.17; mug: 8.875 % of 13.05 = 0.52 + 0.64.
    assert_eq!(minor(&v["tax"]), 117 + 52 + 64);
    let total = minor(&v["total"]);
    assert_eq!(
        total,
        minor(&v["subtotal"]) - minor(&v["discount"]) + minor(&v["tax"])
    );

    // Split: card for 20.00, cash for the rest with change.
    pos.post(
        &format!("{s}/tenders"),
        json!({"kind": "card", "amount": usd(2_000), "reference": "AUTH-1"}),
    )
    .await
    .ok(StatusCode::OK);
    let cash = total - 2_000 + 1_000;
    pos.post(
        &format!("{s}/tenders"),
        json!({"kind": "cash", "amount": usd(cash)}),
    )
    .await
    .ok(StatusCode::OK);
    let done = pos.post(&format!("{s}/complete"), json!(null)).await;
    let done = done.ok(StatusCode::OK).clone();
    assert_eq!(done["state"], "completed");
    assert_eq!(minor(&done["change"]), 1_000);
    // Nothing was received, so the sale takes stock below zero: allowed, and flagged.
    assert_eq!(done["below_zero"], json!(["SOCK-1", "MUG-1"]));
    assert_eq!(pos.count("sale_completed_v2"), 1);

    // Return the mug: 13.05 + 1.16 tax, to the card first (it paid 20.00).
    let ret = pos
        .post(
            "/v1/pos/returns",
            json!({"sale": sale, "lines": [{"line": 2, "quantity": 1}], "reason": "chipped",
                "till": "till-1"}),
        )
        .await;
    let ret = ret.ok(StatusCode::CREATED).clone();
    assert_eq!(minor(&ret["total"]), 1_305 + 116);
    assert_eq!(ret["refunds"][0]["kind"], "card");
    let mug = pos.get("/v1/pos/items/MUG-1").await;
    assert_eq!(mug.ok(StatusCode::OK)["on_hand"], 0);
    let socks = pos.get("/v1/pos/items/SOCK-1").await;
    assert_eq!(socks.ok(StatusCode::OK)["on_hand"], -3);
    let before_again = pos.last_seq();
    let again = pos
        .post(
            "/v1/pos/returns",
            json!({"sale": sale, "lines": [{"line": 2, "quantity": 1}], "reason": "again"}),
        )
        .await;
    again.problem(StatusCode::UNPROCESSABLE_ENTITY, Some("quantity"));
    assert_eq!(
        pos.last_seq(),
        before_again,
        "an over-return changes nothing"
    );

    // A pay-out needs a manager.
    let payout = json!({"kind": "paid_out", "amount": usd(500), "reason": "window cleaner"});
    pos.post("/v1/pos/tills/till-1/movements", payout.clone())
        .await
        .problem(StatusCode::FORBIDDEN, None);
    pos.post_mgr("/v1/pos/tills/till-1/movements", payout)
        .await
        .ok(StatusCode::OK);

    let x = pos.get("/v1/pos/tills/till-1/x").await;
    let x = x.ok(StatusCode::OK).clone();
    let cash_in = cash - 1_000;
    let expected = 10_000 + cash_in - 500;
    assert_eq!(minor(&x["expected"]), expected);
    assert_eq!(x["report"]["sales"], 1);
    assert_eq!(x["report"]["returns"], 1);
    assert_eq!(x["report"]["by_tender"]["cash"], cash_in);
    assert_eq!(x["report"]["by_tender"]["card"], 2_000 - (1_305 + 116));

    // An exchange: one pair of socks (8.39 paid) for a bag (2.70 + 0.24 tax); the difference
    // goes back to the card (what is left of it), then cash.
    let ex = pos
        .post(
            "/v1/pos/exchanges",
            json!({"sale": sale, "return_lines": [{"line": 1, "quantity": 1}],
                "items": [{"sku": "BAG-1"}], "reason": "too many socks", "till": "till-1"}),
        )
        .await;
    let ex = ex.ok(StatusCode::CREATED).clone();
    assert_eq!(minor(&ex["balance"]), 294 - 839);
    let x = pos.get("/v1/pos/tills/till-1/x").await;
    let expected = minor(&x.ok(StatusCode::OK)["expected"]);

    // Blind count: 5 cents short.
    let count = expected - 5;
    let close = pos
        .post(
            "/v1/pos/tills/till-1/close",
            json!({"denominations": [{"value": 1, "count": count}]}),
        )
        .await;
    let close = close.ok(StatusCode::OK).clone();
    assert_eq!(minor(&close["over_short"]), -5);
    let z = pos.get("/v1/pos/tills/till-1/z").await;
    let z = z.ok(StatusCode::OK).clone();
    assert_eq!(z.as_array().map(Vec::len), Some(1));
    assert_eq!(minor(&z[0]["counted"]), count);
    // The Z report agrees with the journal, summed event by event.
    let (net, cash, paid_out) = journal_totals(&pos);
    assert_eq!(
        net,
        total - (1_305 + 116) + (294 - 839),
        "the journal itself"
    );
    assert_eq!(z[0]["report"]["net_total"], net);
    assert_eq!(z[0]["report"]["by_tender"]["cash"], cash);
    assert_eq!(z[0]["report"]["paid_out"], paid_out);
    assert_eq!(minor(&z[0]["expected"]), 10_000 + cash - paid_out);

    let store = pos.get("/v1/pos/reports/store").await;
    assert_eq!(
        store.ok(StatusCode::OK)["sales"],
        2,
        "the exchange's new sale counts"
    );
    let a = pos.get("/v1/pos/reports/sales").await;
    let a = a.ok(StatusCode::OK).clone();
    assert_eq!(
        a["discounts"],
        json!({"socks-3for2": 1_200, "home-10": 145 + 30})
    );
    assert_eq!(
        a["tax"]["state"],
        json!({"collected": 52 + 11, "refunded": 52})
    );
    assert_eq!(
        a["tax"]["city"],
        json!({"collected": 117 + 64 + 13, "refunded": 64 + 39})
    );
    assert_eq!(
        a["returns_with_receipt"],
        json!({"count": 2, "amount": 1_305 + 116 + 839})
    );
    let associates = a["sales_by_associate"].as_object().expect("by associate");
    assert_eq!(associates.len(), 1);
    assert_eq!(
        associates.values().next().expect("one")["amount"],
        total + 294
    );
    let hours: i64 = a["sales_by_hour"]
        .as_object()
        .expect("by hour")
        .values()
        .map(|t| t["count"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(hours, 2);
    assert_eq!(a["by_tender"]["cash"], cash);
    let report = pos.store.verify().expect("verify");
    assert!(report.ok(), "{:?}", report.problems);
}

/// The journal's own totals: net taken in, net cash, and cash paid out.
fn journal_totals(pos: &Pos) -> (i64, i64, i64) {
    let cash_of = |ts: &[Tender]| -> i64 {
        ts.iter()
            .filter(|t| t.kind == TenderKind::Cash)
            .map(|t| t.amount.minor)
            .sum()
    };
    let (mut net, mut cash, mut paid_out) = (0i64, 0i64, 0i64);
    for e in pos.store.journal_after(0, 100_000).expect("journal") {
        match &e.event {
            Event::SaleCompletedV2 { record, .. } => {
                net += record.total.minor;
                cash += cash_of(&record.tenders) - record.change.minor;
            }
            Event::ReturnCompletedV2 { record, .. } => {
                net -= record.total.minor;
                cash -= cash_of(&record.refunds);
            }
            Event::ExchangeCompleted { record, .. } => {
                net += record.sold.total.minor - record.returned.total.minor;
                cash += cash_of(&record.sold.tenders)
                    - record.sold.change.minor
                    - cash_of(&record.returned.refunds);
            }
            Event::TillMovement {
                kind: TillMove::PaidOut,
                amount,
                ..
            } => paid_out += amount.minor,
            _ => {}
        }
    }
    (net, cash, paid_out)
}

#[tokio::test]
async fn a_retried_completion_never_makes_a_second_sale() {
    let pos = Pos::new();
    let sale = pos.sale(None).await;
    let s = format!("/v1/pos/sales/{sale}");
    pos.post(&format!("{s}/lines"), json!({"sku": "COF-500"}))
        .await
        .ok(StatusCode::OK);
    pos.post(
        &format!("{s}/tenders"),
        json!({"kind": "card", "amount": usd(1_499), "reference": "A-9"}),
    )
    .await
    .ok(StatusCode::OK);
    let path = format!("{s}/complete");
    let first = pos
        .send(Method::POST, &path, &pos.associate, Some("done-1"), None)
        .await;
    let second = pos
        .send(Method::POST, &path, &pos.associate, Some("done-1"), None)
        .await;
    assert_eq!(first.ok(StatusCode::OK), second.ok(StatusCode::OK));
    assert!(!first.replayed);
    assert!(second.replayed);
    // No receipt printer on this box: no job, and a reprint says why, changing nothing.
    assert_eq!(first.json["receipt_job"], Value::Null);
    let seq = pos.last_seq();
    pos.post(&format!("{s}/receipt"), json!(null))
        .await
        .problem(StatusCode::CONFLICT, None);
    assert_eq!(pos.last_seq(), seq);
    assert_eq!(pos.count("sale_completed_v2"), 1);
    // The receipt by email: queued in the outbox, rendered, journaled once for the cloud.
    let mail = pos
        .post(&format!("{s}/email"), json!({"to": "Zoe@Example.com"}))
        .await;
    assert_eq!(mail.ok(StatusCode::ACCEPTED)["to"], "zoe@example.com");
    pos.post(&format!("{s}/email"), json!({"to": "not-an-address"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("to"));
    pos.get("/v1/pos/outbox")
        .await
        .problem(StatusCode::FORBIDDEN, None);
    let outbox = pos
        .send(Method::GET, "/v1/pos/outbox", &pos.manager, None, None)
        .await;
    let outbox = outbox.ok(StatusCode::OK);
    assert_eq!(outbox.as_array().map(Vec::len), Some(1));
    let text = outbox[0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("Café Crème Beans 500 g"), "{text}");
    assert!(text.contains("A-9"), "{text}");
    assert_eq!(pos.count("receipt_email_requested"), 1);
    // A new key on a completed sale is a conflict, not a second sale.
    let third = pos
        .send(Method::POST, &path, &pos.associate, Some("done-2"), None)
        .await;
    third.problem(StatusCode::CONFLICT, None);
    assert_eq!(pos.count("sale_completed_v2"), 1);
}

#[tokio::test]
async fn bad_input_names_the_field_and_changes_nothing() {
    let pos = Pos::new();
    pos.open_till("till-1", 1_000).await;
    let sale = pos.sale(Some("till-1")).await;
    let s = format!("/v1/pos/sales/{sale}");
    pos.post(
        &format!("{s}/lines"),
        json!({"sku": "BAG-1", "quantity": 2}),
    )
    .await
    .ok(StatusCode::OK);
    pos.post(&format!("{s}/coupons"), json!({"code": "welcome5"}))
        .await
        .ok(StatusCode::OK);
    let before = pos.last_seq();
    let cases: Vec<(String, Value, StatusCode, &str)> = vec![
        (
            format!("{s}/lines"),
            json!({"sku": "NOPE"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "sku",
        ),
        (
            format!("{s}/lines"),
            json!({"barcode": "5901234123458"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "barcode",
        ),
        (
            format!("{s}/lines"),
            json!({"sku": "BAG-1", "quantity": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity",
        ),
        (
            format!("{s}/lines"),
            json!({"sku": "BAG-1", "quantity": -3}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity",
        ),
        (
            format!("{s}/lines/1/quantity"),
            json!({"quantity": 10_000}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity",
        ),
        (
            format!("{s}/lines/9/quantity"),
            json!({"quantity": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "line",
        ),
        (
            format!("{s}/coupons"),
            json!({"code": "WELCOME5"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "code",
        ),
        (
            format!("{s}/coupons"),
            json!({"code": "FREESTUFF"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "code",
        ),
        (
            format!("{s}/tenders"),
            json!({"kind": "cash", "amount": {"minor": 1_000, "currency": "EUR"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            format!("{s}/tenders"),
            json!({"kind": "card", "amount": usd(100_000), "reference": "A"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            format!("{s}/tenders"),
            json!({"kind": "card", "amount": usd(1)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            format!("{s}/tenders"),
            json!({"kind": "cheque", "amount": usd(1)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "kind",
        ),
        (
            format!("{s}/complete"),
            json!(null),
            StatusCode::UNPROCESSABLE_ENTITY,
            "tenders",
        ),
        (
            "/v1/pos/returns".into(),
            json!({"sale": sale, "lines": [{"line": 1, "quantity": 1}], "reason": "x"}),
            StatusCode::CONFLICT,
            "",
        ),
        (
            "/v1/pos/tills/till-1/open".into(),
            json!({"float": usd(1)}),
            StatusCode::CONFLICT,
            "",
        ),
        (
            "/v1/pos/tills/till-1/close".into(),
            json!({"denominations": []}),
            StatusCode::CONFLICT,
            "",
        ),
        (
            "/v1/pos/tills/Till 1/open".replace(' ', "%20"),
            json!({"float": usd(1)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "id",
        ),
        (
            "/v1/pos/sales".into(),
            json!({"till": "till-9"}),
            StatusCode::CONFLICT,
            "",
        ),
    ];
    for (path, body, status, field) in cases {
        let r = pos.post(&path, body.clone()).await;
        assert_eq!(r.status, status, "{path} {body}: {}", r.json);
        if !field.is_empty() {
            r.problem(status, Some(field));
        }
        assert_eq!(pos.last_seq(), before, "{path} {body} changed the journal");
    }
    // Still sellable after all that: the cart is as it was.
    let v = pos.get(&s).await;
    let v = v.ok(StatusCode::OK);
    assert_eq!(v["lines"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["coupons"], json!(["WELCOME5"]));
}

#[tokio::test]
async fn price_overrides_need_a_manager_and_a_reason() {
    let pos = Pos::new();
    let sale = pos.sale(None).await;
    let s = format!("/v1/pos/sales/{sale}");
    pos.post(&format!("{s}/lines"), json!({"sku": "CANDLE-1"}))
        .await
        .ok(StatusCode::OK);
    let body = json!({"unit_price": usd(1_000), "reason": "damaged"});
    let path = format!("{s}/lines/1/price");
    pos.post(&path, body.clone())
        .await
        .problem(StatusCode::FORBIDDEN, None);
    pos.post_mgr(&path, json!({"unit_price": usd(1_000), "reason": "  "}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("reason"));
    let v = pos.post_mgr(&path, body).await;
    let v = v.ok(StatusCode::OK);
    assert_eq!(v["lines"][0]["override_reason"], "damaged");
    // 10.00, 10 % off Home.
    assert_eq!(minor(&v["lines"][0]["net"]), 900);
}

#[tokio::test]
async fn items_are_found_by_any_gtin_form_by_sku_and_by_text() {
    let pos = Pos::new();
    for code in ["036000291452", "0036000291452", "00036000291452", "sock1"] {
        let r = pos.get(&format!("/v1/pos/items?barcode={code}")).await;
        let v = r.ok(StatusCode::OK);
        assert_eq!(v[0]["sku"], "SOCK-1", "{code}");
        assert_eq!(v[0]["price_minor"], 1_200);
    }
    let r = pos.get("/v1/pos/items?barcode=0000000000000").await;
    assert_eq!(r.ok(StatusCode::OK).as_array().map(Vec::len), Some(0));
    pos.get("/v1/pos/items?barcode=123456789013")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("barcode"));
    let tees = pos.get("/v1/pos/items?q=organic%20tee").await;
    assert_eq!(tees.ok(StatusCode::OK).as_array().map(Vec::len), Some(3));
    let cafe = pos.get("/v1/pos/items?q=caf%C3%A9").await;
    assert_eq!(cafe.ok(StatusCode::OK)[0]["sku"], "COF-500");
    pos.get("/v1/pos/items")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("query"));
    pos.get("/v1/pos/items/RUN-42").await.ok(StatusCode::OK);
    pos.get("/v1/pos/items/NOPE")
        .await
        .problem(StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn a_till_with_a_sale_in_progress_cannot_close() {
    let pos = Pos::new();
    pos.open_till("t2", 0).await;
    let sale = pos.sale(Some("t2")).await;
    let close = json!({"denominations": []});
    pos.post("/v1/pos/tills/t2/close", close.clone())
        .await
        .problem(StatusCode::CONFLICT, None);
    pos.post(
        &format!("/v1/pos/sales/{sale}/void"),
        json!({"reason": "walked out"}),
    )
    .await
    .ok(StatusCode::OK);
    let r = pos.post("/v1/pos/tills/t2/close", close).await;
    assert_eq!(minor(&r.ok(StatusCode::OK)["over_short"]), 0);
}

#[tokio::test]
async fn the_pos_module_gate_hides_every_endpoint() {
    let mut config = Config::default();
    config.modules.pos = false;
    let pos = Pos::with(config);
    let r = pos.get("/v1/pos/catalog").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json["type"], "/problems/module-disabled");
    let r = pos.post("/v1/pos/sales", json!({})).await;
    assert_eq!(r.json["type"], "/problems/module-disabled");
}

#[tokio::test]
async fn customers_are_created_found_changed_attached_and_erased() {
    let pos = Pos::new();
    let c = pos
        .post(
            "/v1/pos/customers",
            json!({"name": "Zoë Müller", "email": "Zoe@Example.com", "marketing_consent": true}),
        )
        .await;
    let c = c.ok(StatusCode::CREATED).clone();
    let id = c["id"].as_str().expect("id").to_owned();
    assert_eq!(c["email"], "zoe@example.com");
    pos.post("/v1/pos/customers", json!({"name": "x", "email": "nope"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("email"));
    pos.post("/v1/pos/customers", json!({"name": "", "phone": "12"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("name"));
    let found = pos.get("/v1/pos/customers?q=m%C3%BCller").await;
    assert_eq!(found.ok(StatusCode::OK)[0]["id"], id.as_str());

    let put = pos
        .send(
            Method::PUT,
            &format!("/v1/pos/customers/{id}"),
            &pos.associate,
            Some("put-1"),
            Some(&json!({"name": "Zoë Müller", "phone": "+49 30 1234567"})),
        )
        .await;
    assert_eq!(put.ok(StatusCode::OK)["phone"], "+49 30 1234567");

    let sale = pos.sale(None).await;
    let r = pos
        .post(
            &format!("/v1/pos/sales/{sale}/customer"),
            json!({"customer": id}),
        )
        .await;
    assert_eq!(r.ok(StatusCode::OK)["customer"], id.as_str());

    let path = format!("/v1/pos/customers/{id}");
    let erase = pos
        .send(Method::DELETE, &path, &pos.associate, Some("e-1"), None)
        .await;
    erase.problem(StatusCode::FORBIDDEN, None);
    let erase = pos
        .send(Method::DELETE, &path, &pos.manager, Some("e-2"), None)
        .await;
    erase.ok(StatusCode::OK);
    pos.get(&path).await.problem(StatusCode::NOT_FOUND, None);
    let report = pos.store.verify().expect("verify");
    assert!(report.ok(), "{:?}", report.problems);
}

#[tokio::test]
async fn a_catalog_snapshot_in_parts_goes_in_over_the_api_and_takes_effect_at_its_end() {
    let pos = Pos::new();
    let mut head: Value = serde_json::from_str(crate::store::pos::SAMPLE_CATALOG).unwrap();
    head["version"] = json!(5);
    let products: Vec<Value> = (0..3)
        .map(|n| {
            json!({"id": format!("p{n}"), "name": format!("Part two {n}"), "category": "home",
                "tax_class": "standard", "variants": [{"sku": format!("P2-{n}")}]})
        })
        .collect();
    let chunk = json!({"version": 5, "products": products,
        "prices": {"base": {"P2-0": 100, "P2-1": 200, "P2-2": 300}}});
    let body = |part: u32, doc: &Value| {
        let text = doc.to_string();
        json!({"kind": "snapshot", "json": text, "part": part, "parts": 2})
    };

    let first = pos.post_mgr("/v1/pos/catalog", body(0, &head)).await;
    let first = first.ok(StatusCode::OK).clone();
    assert_eq!(first["in_effect"], false, "{first}");
    let info = pos.get("/v1/pos/catalog").await;
    let info = info.ok(StatusCode::OK);
    assert_eq!(
        info["version"], 1,
        "still selling from the old catalog: {info}"
    );
    assert_eq!(info["arriving"]["received"], 1);
    pos.get("/v1/pos/items/P2-1")
        .await
        .problem(StatusCode::NOT_FOUND, None);

    // Half a request: a part without the count, a delta in parts.
    let half = json!({"kind": "snapshot", "json": chunk.to_string(), "part": 1});
    pos.post_mgr("/v1/pos/catalog", half)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("parts"));
    let seq = pos.last_seq();
    // Out of order: part 0 is done, part 3 of 2 does not exist.
    let wrong = json!({"kind": "snapshot", "json": chunk.to_string(), "part": 3, "parts": 2});
    pos.post_mgr("/v1/pos/catalog", wrong)
        .await
        .problem(StatusCode::CONFLICT, None);
    assert_eq!(pos.last_seq(), seq, "a refused part writes nothing");

    // A part bigger than one journal envelope can hold is refused, naming the document.
    let mut huge = chunk.clone();
    huge["products"][0]["name"] = json!("x".repeat(crate::api::pos::catalog::MAX_DOCUMENT));
    let too_big = json!({"kind": "snapshot", "json": huge.to_string(), "part": 1, "parts": 2});
    pos.post_mgr("/v1/pos/catalog", too_big)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("json"));
    assert_eq!(pos.last_seq(), seq, "an oversized part writes nothing");

    let done = pos.post_mgr("/v1/pos/catalog", body(1, &chunk)).await;
    let done = done.ok(StatusCode::OK).clone();
    assert_eq!(done["in_effect"], true, "{done}");
    assert_eq!(done["version"], 5);
    let item = pos.get("/v1/pos/items/P2-1").await;
    assert_eq!(item.ok(StatusCode::OK)["price_minor"], 200);
    let found = pos.get("/v1/pos/items?q=part%20two").await;
    assert_eq!(found.ok(StatusCode::OK).as_array().map(Vec::len), Some(3));
    assert_eq!(pos.count("catalog_part_loaded"), 2);
    let report = pos.store.verify().expect("verify");
    assert!(report.ok(), "{:?}", report.problems);
}

#[tokio::test]
async fn catalog_deltas_apply_on_their_base_and_are_refused_otherwise() {
    let pos = Pos::new();
    let delta = json!({"version": 2, "base_version": 1,
        "upsert_price_books": [{"id": "base", "prices": {"BAG-1": 250}}]});
    let body = json!({"kind": "delta", "json": delta.to_string()});
    pos.post("/v1/pos/catalog", body.clone())
        .await
        .problem(StatusCode::FORBIDDEN, None);
    pos.post_mgr("/v1/pos/catalog", body.clone())
        .await
        .ok(StatusCode::OK);
    let bag = pos.get("/v1/pos/items/BAG-1").await;
    assert_eq!(bag.ok(StatusCode::OK)["price_minor"], 250);
    // The same delta again has the wrong base now.
    pos.post_mgr("/v1/pos/catalog", body)
        .await
        .problem(StatusCode::CONFLICT, None);
    let broken = json!({"kind": "snapshot", "json": "{\"version\": 3}"});
    pos.post_mgr("/v1/pos/catalog", broken)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("json"));
    let info = pos.get("/v1/pos/catalog").await;
    assert_eq!(info.ok(StatusCode::OK)["version"], 2);

    // A zero-day return window: associates are refused, a manager may accept.
    let policy = json!({"version": 3, "base_version": 2, "policy": {"return_days": 0}});
    let body = json!({"kind": "delta", "json": policy.to_string()});
    pos.post_mgr("/v1/pos/catalog", body)
        .await
        .ok(StatusCode::OK);
    let sale = pos.card_sale(json!({"sku": "BAG-1"}), 245).await;
    let ret = json!({"sale": sale, "lines": [{"line": 1, "quantity": 1}], "reason": "late"});
    pos.post("/v1/pos/returns", ret.clone())
        .await
        .problem(StatusCode::CONFLICT, None);
    let r = pos.post_mgr("/v1/pos/returns", ret).await;
    assert_eq!(minor(&r.ok(StatusCode::CREATED)["total"]), 245);
    let report = pos.store.verify().expect("verify");
    assert!(report.ok(), "{:?}", report.problems);
}

/// Durable completed sales per second through the whole router at 1, 8 and 64 concurrent
/// clients, beside the disk's raw fdatasync rate. Each sale is four durable writes (open, add a
/// line by barcode, card tender, complete). Ignored by default; run with
/// `cargo test --release -p edge-daemon --lib sales_per_second -- --ignored --nocapture`.
/// `BENCH_DIR` chooses the disk (default: the system temporary directory).
///
/// Measured 2026-12-03 on the 2-core development VM (release build, disk shared with other
/// builds, so the raw rate moves between runs):
///
/// | clients | sales | sales/s | durable writes/s | raw fdatasync/s |
/// |---|---|---|---|---|
/// | 1 | 256 | 179 | 717 | 1195 |
/// | 8 | 256 | 331 | 1325 | 1195 |
/// | 64 | 256 | 392 | 1567 | 1195 |
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn sales_per_second_at_1_8_64_clients() {
    use std::io::Write;
    use std::time::{Duration, Instant};

    let dir = std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let raw = {
        let path = dir.join(format!("pos-bench-raw-{}", std::process::id()));
        let mut f = std::fs::File::create(&path).expect("raw file");
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_secs(2) {
            f.write_all(&[0u8; 512]).expect("append");
            f.sync_data().expect("fdatasync");
            n += 1;
        }
        let _ = std::fs::remove_file(&path);
        n as f64 / start.elapsed().as_secs_f64()
    };
    println!("| clients | sales | sales/s | durable writes/s | raw fdatasync/s |");
    println!("|---|---|---|---|---|");
    for clients in [1usize, 8, 64] {
        let pos = Arc::new(Pos::new());
        let per_client = (256 / clients).max(4);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let pos = pos.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..per_client {
                    pos.card_sale(json!({"barcode": "4006381333931"}), 2_622)
                        .await;
                }
            }));
        }
        for t in tasks {
            t.await.expect("client");
        }
        let secs = start.elapsed().as_secs_f64();
        let sales = clients * per_client;
        assert_eq!(pos.count("sale_completed_v2"), sales);
        println!(
            "| {clients} | {sales} | {:.0} | {:.0} | {raw:.0} |",
            sales as f64 / secs,
            4.0 * sales as f64 / secs
        );
    }
}

#[tokio::test]
async fn exchanges_move_items_both_ways_and_settle_the_balance() {
    let pos = Pos::new();
    pos.open_till("till-1", 5_000).await;
    // A white tee, M, by card: 25.00 + 4.875 % city tax = 26.22.
    let sale = pos.card_sale(json!({"sku": "TEE-WHT-M"}), 2_622).await;

    // Even: the same tee in L. No money moves; one event; stock moves both ways.
    let even = json!({"sale": sale, "return_lines": [{"line": 1, "quantity": 1}],
        "items": [{"sku": "TEE-WHT-L"}], "reason": "size"});
    let key = pos.key();
    let first = pos
        .send(
            Method::POST,
            "/v1/pos/exchanges",
            &pos.associate,
            Some(&key),
            Some(&even),
        )
        .await;
    let first = first.ok(StatusCode::CREATED).clone();
    assert_eq!(minor(&first["balance"]), 0);
    let again = pos
        .send(
            Method::POST,
            "/v1/pos/exchanges",
            &pos.associate,
            Some(&key),
            Some(&even),
        )
        .await;
    assert!(again.replayed);
    assert_eq!(again.ok(StatusCode::CREATED), &first);
    assert_eq!(pos.count("exchange_completed"), 1);
    let on_hand = |v: Reply| v.ok(StatusCode::OK)["on_hand"].clone();
    assert_eq!(on_hand(pos.get("/v1/pos/items/TEE-WHT-M").await), 0);
    assert_eq!(on_hand(pos.get("/v1/pos/items/TEE-WHT-L").await), -1);
    let tee_l = first["id"].as_str().expect("exchange id").to_owned();

    // Cheaper: the tee for coffee (14.99, untaxed): 11.23 back to the card.
    let cheaper = json!({"sale": tee_l, "return_lines": [{"line": 1, "quantity": 1}],
        "items": [{"sku": "COF-500"}], "reason": "changed mind"});
    // A tender on an exchange that refunds is refused, and changes nothing.
    let before = pos.last_seq();
    let mut with_cash = cheaper.clone();
    with_cash["tenders"] = json!([{"kind": "cash", "amount": usd(100)}]);
    with_cash["till"] = json!("till-1");
    pos.post("/v1/pos/exchanges", with_cash)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("tenders"));
    assert_eq!(pos.last_seq(), before);
    let c = pos.post("/v1/pos/exchanges", cheaper).await;
    let c = c.ok(StatusCode::CREATED).clone();
    assert_eq!(minor(&c["balance"]), 1_499 - 2_622);
    assert_eq!(c["returned"]["refunds"][0]["kind"], "card");
    let coffee = c["id"].as_str().expect("exchange id").to_owned();

    // Dearer: coffee for running shoes (89.99 + 4.39 = 94.38), the balance in cash.
    let dearer = json!({"sale": coffee, "return_lines": [{"line": 1, "quantity": 1}],
        "items": [{"barcode": "5901234123457"}], "reason": "upgrade", "till": "till-1",
        "tenders": [{"kind": "cash", "amount": usd(8_000)}]});
    let short = json!({"sale": coffee, "return_lines": [{"line": 1, "quantity": 1}],
        "items": [{"sku": "RUN-42"}], "reason": "upgrade"});
    pos.post("/v1/pos/exchanges", short)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("tenders"));
    let d = pos.post("/v1/pos/exchanges", dearer).await;
    let d = d.ok(StatusCode::CREATED).clone();
    assert_eq!(minor(&d["balance"]), 9_438 - 1_499);
    assert_eq!(minor(&d["sold"]["change"]), 8_000 - (9_438 - 1_499));
    // Returning more than was sold in an exchange is refused like a return.
    let over = json!({"sale": sale, "return_lines": [{"line": 1, "quantity": 1}],
        "items": [{"sku": "BAG-1"}], "reason": "again"});
    pos.post("/v1/pos/exchanges", over)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("quantity"));

    // The store's report nets every tender to what really moved.
    let report = pos.get("/v1/pos/reports/store").await;
    let report = report.ok(StatusCode::OK).clone();
    assert_eq!(report["by_tender"]["card"], 2_622 - (2_622 - 1_499));
    assert_eq!(report["by_tender"]["cash"], 9_438 - 1_499);
    assert_eq!(report["net_total"], 9_438);
    let x = pos.get("/v1/pos/tills/till-1/x").await;
    assert_eq!(
        minor(&x.ok(StatusCode::OK)["expected"]),
        5_000 + 9_438 - 1_499
    );
    assert_eq!(on_hand(pos.get("/v1/pos/items/RUN-42").await), -1);
    assert_eq!(on_hand(pos.get("/v1/pos/items/COF-500").await), 0);
    let verify = pos.store.verify().expect("verify");
    assert!(verify.ok(), "{:?}", verify.problems);
}

#[tokio::test]
async fn returns_without_a_receipt_need_a_manager_and_follow_the_policy() {
    let pos = Pos::new();
    let ask = json!({"items": [{"sku": "TEE-WHT-M"}], "reason": "gift, no receipt"});
    // The sample policy takes none.
    pos.post_mgr("/v1/pos/returns/no-receipt", ask.clone())
        .await
        .problem(StatusCode::CONFLICT, None);
    // Lowest price (a sale book at 19.00 that is over), store credit, up to 30.00.
    let delta = json!({"version": 2, "base_version": 1,
        "upsert_price_books": [{"id": "summer", "priority": 5, "starts_at": 0, "ends_at": 1,
            "prices": {"TEE-WHT-M": 1_900}}],
        "policy": {"no_receipt": {"basis": "lowest_price", "refund": "store_credit",
            "limit": 3_000}}});
    pos.post_mgr(
        "/v1/pos/catalog",
        json!({"kind": "delta", "json": delta.to_string()}),
    )
    .await
    .ok(StatusCode::OK);
    let before = pos.last_seq();
    pos.post("/v1/pos/returns/no-receipt", ask.clone())
        .await
        .problem(StatusCode::FORBIDDEN, None);
    let two = json!({"items": [{"sku": "TEE-WHT-M", "quantity": 2}], "reason": "no receipt"});
    pos.post_mgr("/v1/pos/returns/no-receipt", two)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("items"));
    pos.post_mgr(
        "/v1/pos/returns/no-receipt",
        json!({"items": [], "reason": "x"}),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("lines"));
    assert_eq!(pos.last_seq(), before, "refusals change nothing");
    let r = pos.post_mgr("/v1/pos/returns/no-receipt", ask).await;
    let r = r.ok(StatusCode::CREATED).clone();
    // 19.00 + 4.875 % city tax (0.93).
    assert_eq!(minor(&r["total"]), 1_993);
    assert_eq!(r["refunds"][0]["kind"], "store_credit");
    assert_eq!(r["basis"], "lowest_price");
    assert_eq!(r["original"], Value::Null);
    assert_eq!(r["reason"], "gift, no receipt");
    assert_eq!(pos.count("return_without_receipt"), 1);
    let tee = pos.get("/v1/pos/items/TEE-WHT-M").await;
    assert_eq!(tee.ok(StatusCode::OK)["on_hand"], 1);
    let report = pos.get("/v1/pos/reports/store").await;
    let report = report.ok(StatusCode::OK).clone();
    assert_eq!(report["by_tender"]["store_credit"], -1_993);
    assert_eq!(report["returns"], 1);
    let verify = pos.store.verify().expect("verify");
    assert!(verify.ok(), "{:?}", verify.problems);
}

#[tokio::test]
async fn the_offline_ledger_lists_what_the_cloud_has_not_acknowledged() {
    let pos = Pos::new();
    // The link is down: the sale records it.
    let offline = pos.card_sale(json!({"sku": "BAG-1"}), 294).await;
    let first_seq = pos.last_seq();
    pos.link.connected.store(true, Ordering::Relaxed);
    let online = pos.card_sale(json!({"sku": "COF-500"}), 1_499).await;
    let ret = pos
        .post(
            "/v1/pos/returns",
            json!({"sale": online, "lines": [{"line": 1, "quantity": 1}], "reason": "x"}),
        )
        .await;
    let ret = ret.ok(StatusCode::CREATED)["id"].clone();
    let journal = pos.store.journal_after(0, 1_000).expect("journal");
    let flags: Vec<bool> = journal
        .iter()
        .filter_map(|e| match &e.event {
            Event::SaleCompletedV2 { settlement, .. }
            | Event::ReturnCompletedV2 { settlement, .. } => Some(settlement.cloud_reachable),
            _ => None,
        })
        .collect();
    assert_eq!(flags, vec![false, true, true]);

    let report = pos.get("/v1/pos/reports/offline").await;
    let report = report.ok(StatusCode::OK).clone();
    assert_eq!(report["cloud_connected"], true);
    assert_eq!(report["watermark"], 0);
    assert_eq!(report["unacknowledged"], 3);
    assert_eq!(report["completed_offline"], 1);
    assert_eq!(report["entries"][0]["id"], offline.as_str());
    assert_eq!(report["entries"][0]["cloud_reachable"], false);
    assert_eq!(minor(&report["entries"][0]["amount"]), 294);
    assert_eq!(report["entries"][2]["id"], ret);
    assert_eq!(minor(&report["entries"][2]["amount"]), -1_499);
    assert!(report["oldest_age_ms"].as_i64().is_some_and(|a| a >= 0));

    // The cloud acknowledges up to the first sale: two are left.
    pos.store.set_link_watermark(first_seq).expect("watermark");
    let report = pos.get("/v1/pos/reports/offline").await;
    let report = report.ok(StatusCode::OK).clone();
    assert_eq!(report["unacknowledged"], 2);
    assert_eq!(report["completed_offline"], 0);
    assert_eq!(report["entries"][0]["id"], online.as_str());
    let verify = pos.store.verify().expect("verify");
    assert!(verify.ok(), "{:?}", verify.problems);
}

#[tokio::test]
async fn cash_rounding_and_tax_exemptions_are_settled_shown_and_reported() {
    let pos = Pos::new();
    let tax = json!({"inclusive": false, "rounding": "per_document", "cash_increment": 5,
        "classes": {"standard": [{"jurisdiction": "state", "rate_ppm": 40000},
            {"jurisdiction": "city", "rate_ppm": 48750}], "grocery": [],
            "clothing": [{"jurisdiction": "city", "rate_ppm": 48750}]}});
    let delta = json!({"version": 2, "base_version": 1, "tax": tax});
    pos.post_mgr(
        "/v1/pos/catalog",
        json!({"kind": "delta", "json": delta.to_string()}),
    )
    .await
    .ok(StatusCode::OK);
    pos.open_till("till-1", 1_000).await;

    // A mug: 14.50 − 10 % = 13.05, + 0.52 + 0.64 = 14.21; in cash, 14.20.
    let sale = pos.sale(Some("till-1")).await;
    let s = format!("/v1/pos/sales/{sale}");
    let v = pos
        .post(&format!("{s}/lines"), json!({"sku": "MUG-1"}))
        .await;
    let v = v.ok(StatusCode::OK).clone();
    assert_eq!(minor(&v["total"]), 1_421);
    assert_eq!(minor(&v["cash_due"]), 1_420);
    pos.post(
        &format!("{s}/tenders"),
        json!({"kind": "cash", "amount": usd(2_000)}),
    )
    .await
    .ok(StatusCode::OK);
    let done = pos.post(&format!("{s}/complete"), json!(null)).await;
    let done = done.ok(StatusCode::OK).clone();
    assert_eq!(minor(&done["change"]), 580);
    assert_eq!(minor(&done["cash_rounding"]), -1);

    // Exempt: a manager, with a reason; no line is taxed.
    let sale = pos.sale(None).await;
    let s = format!("/v1/pos/sales/{sale}");
    pos.post(&format!("{s}/lines"), json!({"sku": "CANDLE-1"}))
        .await
        .ok(StatusCode::OK);
    let reason = json!({"reason": "resale certificate NY-123"});
    pos.post(&format!("{s}/exemption"), reason.clone())
        .await
        .problem(StatusCode::FORBIDDEN, None);
    let v = pos.post_mgr(&format!("{s}/exemption"), reason).await;
    let v = v.ok(StatusCode::OK).clone();
    assert_eq!(minor(&v["tax"]), 0);
    assert_eq!(minor(&v["total"]), 1_620);
    assert_eq!(v["tax_exemption"]["reason"], "resale certificate NY-123");
    pos.post(
        &format!("{s}/tenders"),
        json!({"kind": "card", "amount": usd(1_620), "reference": "A-2"}),
    )
    .await
    .ok(StatusCode::OK);
    pos.post(&format!("{s}/complete"), json!(null))
        .await
        .ok(StatusCode::OK);
    let journal = pos.store.journal_after(0, 1_000).expect("journal");
    let exempt = journal.iter().find_map(|e| match &e.event {
        Event::SaleCompletedV2 { settlement, .. } => settlement.exemption.clone(),
        _ => None,
    });
    assert_eq!(
        exempt.map(|x| x.reason).as_deref(),
        Some("resale certificate NY-123")
    );

    let report = pos.get("/v1/pos/reports/store").await;
    let report = report.ok(StatusCode::OK).clone();
    assert_eq!(report["cash_rounding"], -1);
    assert_eq!(report["exempt_sales"], 1);
    assert_eq!(report["by_tender"]["cash"], 1_420);
    assert_eq!(report["net_total"], 1_421 + 1_620);
    let x = pos.get("/v1/pos/tills/till-1/x").await;
    assert_eq!(minor(&x.ok(StatusCode::OK)["expected"]), 1_000 + 1_420);
    let verify = pos.store.verify().expect("verify");
    assert!(verify.ok(), "{:?}", verify.problems);
}

/// Pays a sale's total by card and completes it; answers the completion.
async fn pay_by_card(pos: &Pos, sale: &str) -> Reply {
    let s = format!("/v1/pos/sales/{sale}");
    let total = minor(&pos.get(&s).await.ok(StatusCode::OK)["total"]);
    let card = json!({"kind": "card", "amount": usd(total), "reference": "A-7"});
    pos.post(&format!("{s}/tenders"), card)
        .await
        .ok(StatusCode::OK);
    pos.post(&format!("{s}/complete"), json!(null)).await
}

#[tokio::test]
async fn a_coupon_used_up_across_sales_is_refused_and_the_redemption_journaled() {
    let pos = Pos::new();
    let welcome = json!({"id": "welcome-5", "name": "$5 off $50, once", "coupon": "WELCOME5",
        "reward": {"type": "threshold_amount_off", "min_subtotal": 5000, "amount": 500},
        "max_uses": 1});
    let delta = json!({"version": 2, "base_version": 1, "upsert_promotions": [welcome]});
    pos.post_mgr(
        "/v1/pos/catalog",
        json!({"kind": "delta", "json": delta.to_string()}),
    )
    .await
    .ok(StatusCode::OK);
    let mut sales = Vec::new();
    for _ in 0..2 {
        let sale = pos.sale(None).await;
        let s = format!("/v1/pos/sales/{sale}");
        pos.post(&format!("{s}/lines"), json!({"sku": "RUN-42"}))
            .await
            .ok(StatusCode::OK);
        let v = pos
            .post(&format!("{s}/coupons"), json!({"code": "welcome5"}))
            .await;
        assert_eq!(minor(&v.ok(StatusCode::OK)["discount"]), 500);
        sales.push(sale);
    }
    pay_by_card(&pos, &sales[0]).await.ok(StatusCode::OK);
    // The second sale entered the coupon before the first one completed: refused now.
    let before = pos.last_seq();
    let s = format!("/v1/pos/sales/{}", sales[1]);
    let total = minor(&pos.get(&s).await.ok(StatusCode::OK)["total"]);
    pos.post(
        &format!("{s}/tenders"),
        json!({"kind": "card", "amount": usd(total), "reference": "A-8"}),
    )
    .await
    .ok(StatusCode::OK);
    let tendered = pos.last_seq();
    assert_eq!(tendered, before + 1);
    let refused = pos.post(&format!("{s}/complete"), json!(null)).await;
    refused.problem(StatusCode::UNPROCESSABLE_ENTITY, Some("code"));
    assert!(refused.json["detail"]
        .as_str()
        .is_some_and(|d| d.contains("used up: 1 of 1")));
    assert_eq!(pos.last_seq(), tendered, "the refusal changed nothing");
    // A new sale cannot enter it at all.
    let third = pos.sale(None).await;
    pos.post(
        &format!("/v1/pos/sales/{third}/coupons"),
        json!({"code": "WELCOME5"}),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, Some("code"));
    // The redemption is journaled with the sale, offline (no link), for the cloud to reconcile.
    let journal = pos.store.journal_after(0, 1_000).expect("journal");
    let redeemed: Vec<(Vec<String>, bool)> = journal
        .iter()
        .filter_map(|e| match &e.event {
            Event::SaleCompletedV2 {
                record, settlement, ..
            } => Some((record.coupons.clone(), settlement.cloud_reachable)),
            _ => None,
        })
        .collect();
    assert_eq!(redeemed, vec![(vec!["WELCOME5".to_owned()], false)]);
    let verify = pos.store.verify().expect("verify");
    assert!(verify.ok(), "{:?}", verify.problems);
}

#[tokio::test]
async fn the_clouds_coupon_count_and_later_local_redemptions_both_count_toward_the_limit() {
    use protocol::command::{Command, CommandBody, CouponUsage, Outcome};
    let pos = Pos::new();
    let spring = json!({"id": "spring", "name": "10 % off", "coupon": "SPRING10",
        "reward": {"type": "percent_off", "percent_bp": 1000}, "max_uses": 5});
    let delta = json!({"version": 2, "base_version": 1, "upsert_promotions": [spring]});
    pos.post_mgr(
        "/v1/pos/catalog",
        json!({"kind": "delta", "json": delta.to_string()}),
    )
    .await
    .ok(StatusCode::OK);
    let redeem = || async {
        let sale = pos.sale(None).await;
        let s = format!("/v1/pos/sales/{sale}");
        pos.post(&format!("{s}/lines"), json!({"sku": "MUG-1"}))
            .await
            .ok(StatusCode::OK);
        let r = pos
            .post(&format!("{s}/coupons"), json!({"code": "SPRING10"}))
            .await;
        if r.status != StatusCode::OK {
            return r;
        }
        pay_by_card(&pos, &sale).await
    };
    // Two redemptions here, offline; the second one after what the cloud will have seen.
    redeem().await.ok(StatusCode::OK);
    let seen = pos.last_seq();
    redeem().await.ok(StatusCode::OK);
    assert_eq!(
        pos.store.reader().coupon_uses("SPRING10", None).unwrap().0,
        2
    );
    // The cloud counted 3 across the fleet, this box's first redemption among them.
    let usage = CouponUsage {
        code: "SPRING10".into(),
        total: 3,
        per_customer: Vec::new(),
        through_seq: seen,
    };
    let cmd = Command {
        id: protocol::CommandId::random(),
        store: pos.store.store_id().clone(),
        issued_at: crate::clock::now(),
        body: CommandBody::CouponUsage(usage),
    };
    let applied = pos.store.apply_link_command(&cmd).unwrap();
    assert_eq!(applied.outcome, Outcome::Applied);
    assert_eq!(pos.count("coupon_usage_reported"), 1);
    // 3 from the cloud + 1 the cloud has not seen = 4 of 5: one more, then used up.
    assert_eq!(
        pos.store.reader().coupon_uses("SPRING10", None).unwrap().0,
        4
    );
    redeem().await.ok(StatusCode::OK);
    let refused = redeem().await;
    refused.problem(StatusCode::UNPROCESSABLE_ENTITY, Some("code"));
    assert!(
        refused.json["detail"]
            .as_str()
            .is_some_and(|d| d.contains("5 of 5")),
        "{}",
        refused.json
    );
    // The same command again changes nothing.
    pos.store.apply_link_command(&cmd).unwrap();
    assert_eq!(pos.count("coupon_usage_reported"), 1);
    let verify = pos.store.verify().expect("verify");
    assert!(verify.ok(), "{:?}", verify.problems);
}

#[tokio::test]
async fn gift_cards_and_store_credit_pay_and_are_refunded_to_themselves() {
    let pos = Pos::new();
    let sale = pos.sale(None).await;
    let s = format!("/v1/pos/sales/{sale}");
    // Two coffees: 29.98, untaxed.
    pos.post(
        &format!("{s}/lines"),
        json!({"sku": "COF-500", "quantity": 2}),
    )
    .await
    .ok(StatusCode::OK);
    for (kind, amount, reference) in [
        ("gift_card", 2_000, "GC-6001"),
        ("store_credit", 998, "CN-42"),
    ] {
        pos.post(
            &format!("{s}/tenders"),
            json!({"kind": kind, "amount": usd(amount), "reference": reference}),
        )
        .await
        .ok(StatusCode::OK);
    }
    let done = pos.post(&format!("{s}/complete"), json!(null)).await;
    assert_eq!(done.ok(StatusCode::OK)["state"], "completed");
    // One coffee back: 14.99 to the gift card (non-cash tenders in the sale's order).
    let r = pos
        .post(
            "/v1/pos/returns",
            json!({"sale": sale, "lines": [{"line": 1, "quantity": 1}], "reason": "x"}),
        )
        .await;
    let r = r.ok(StatusCode::CREATED).clone();
    assert_eq!(
        r["refunds"],
        json!([{"kind": "gift_card", "amount": usd(1_499),
        "reference": "GC-6001"}])
    );
    // The other: 5.01 left on the gift card, then 9.98 to the credit note.
    let r = pos
        .post(
            "/v1/pos/returns",
            json!({"sale": sale, "lines": [{"line": 1, "quantity": 1}], "reason": "y"}),
        )
        .await;
    let r = r.ok(StatusCode::CREATED).clone();
    assert_eq!(
        r["refunds"],
        json!([{"kind": "gift_card", "amount": usd(501), "reference": "GC-6001"},
            {"kind": "store_credit", "amount": usd(998), "reference": "CN-42"}])
    );
    let report = pos.get("/v1/pos/reports/store").await;
    let report = report.ok(StatusCode::OK).clone();
    assert_eq!(report["by_tender"]["gift_card"], 0);
    assert_eq!(report["by_tender"]["store_credit"], 0);
    assert_eq!(report["net_total"], 0);
}
