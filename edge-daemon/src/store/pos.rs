//! Point-of-sale projections: catalog, sales, returns, tills and customers, in one tree `pos`.
//!
//! [`apply`] projects the POS events; it runs the same domain rules the API used to decide them
//! ([`crate::domain`]), so replaying the journal in `verify` rebuilds the same bytes.
//!
//! | key | value |
//! |---|---|
//! | `catalog`, `catalog_gen`, `catalog_stage`, `#<gen>...` | the catalog: see [`super::catalog`] |
//! | `sale/<id>` | [`SaleEntry`]: the cart, and its record once completed |
//! | `open/<till>\0<id>` | empty: a cart in progress on a till |
//! | `ret/<id>` | [`ReturnEntry`] |
//! | `till/<id>` | [`TillEntry`]: the current or last session with its running (X) report |
//! | `z/<till>\0<seq>` | [`TillEntry`] frozen at close (the Z report), `seq` big-endian |
//! | `report` | the store's [`Report`] of every sale and return |
//! | `analysis` | the store's [`Analysis`]: by hour, associate, jurisdiction, rule |
//! | `cust/<id>` | [`CustomerEntry`] |
//! | `mail/<seq>` | [`MailEntry`]: an email receipt waiting for the cloud, `seq` big-endian |
//! | `stock/<sku>` | on-hand units (`i64`, postcard): sales take, returns give back |
//! | `coupon/<code>`, `coupon/<code>\0<customer>` | sales that redeemed it (`u32`) |
//! | `coupon_at/<code>\0<seq>` | one redemption: the customer (`Option`), `seq` big-endian |
//! | `coupon_cloud/<code>` | the cloud's last [`protocol::command::CouponUsage`] report |
//! | `ledger/<seq>` | [`LedgerEntry`]: a completed transaction, `seq` big-endian |
//!
//! # Current limitations
//! - The store-wide report never resets; there is no business-day boundary yet.
//! - Email receipts are rendered into the `mail/` outbox and journaled for the cloud to send;
//!   the box has no SMTP sender, and nothing marks an entry sent yet.
//! - On-hand stock starts at zero for every SKU: only sales and returns move it (receiving and
//!   counts come with inventory management), so most SKUs go below zero, which is allowed and
//!   reported, as stores do.

use protocol::pos::{CustomerProfile, ReturnRecord, SaleRecord, Settlement};
use protocol::{CustomerId, Envelope, Event, SaleId, Timestamp};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::catalog::{self as cat, CatalogHead, LoadError};
use super::projection::{self, encode as enc, read, ApplyError, Proj, Reader, View};
use super::StoreError;
use crate::domain::cash::{cash_of, Till};
use crate::domain::catalog::{apply_catalog_snapshot, Catalog, CatalogError, Item};
use crate::domain::receipt;
use crate::domain::report::{Analysis, Report};
use crate::domain::returns::{record_return, Returned};
use crate::domain::sale::{Cart, CartState};

const REPORT: &[u8] = b"report";
const ANALYSIS: &[u8] = b"analysis";

/// A sale as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleEntry {
    pub id: SaleId,
    pub opened_at: Timestamp,
    pub cart: Cart,
    pub record: Option<SaleRecord>,
    pub completed_at: Option<Timestamp>,
    /// Journal sequence of the completing event.
    pub completed_seq: Option<u64>,
    pub returned: Returned,
    pub void_reason: Option<String>,
}

/// A completed return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnEntry {
    pub id: SaleId,
    /// The sale returned against; `None` for a return without a receipt.
    pub original: Option<SaleId>,
    pub at: Timestamp,
    pub record: ReturnRecord,
}

/// A completed transaction in the offline ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The journal sequence of its event: the cloud has it once its watermark reaches this.
    pub seq: u64,
    pub at: Timestamp,
    /// The event's kind (`sale_completed_v2`, `exchange_completed`, ...).
    pub kind: String,
    /// The sale, return or exchange.
    pub id: SaleId,
    /// What the store took in (negative: gave back).
    pub amount: protocol::Money,
    pub settlement: Settlement,
}

/// A till session and its report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TillEntry {
    pub till: Till,
    pub report: Report,
    pub opened_at: Timestamp,
    pub closed_at: Option<Timestamp>,
}

/// An email receipt waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailEntry {
    pub seq: u64,
    pub sale: SaleId,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub requested_at: Timestamp,
}

/// A customer profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerEntry {
    pub id: CustomerId,
    pub profile: CustomerProfile,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn key(prefix: &str, rest: &[u8]) -> Vec<u8> {
    let mut k = prefix.as_bytes().to_vec();
    k.extend_from_slice(rest);
    k
}

fn open_key(till: &str, id: SaleId) -> Vec<u8> {
    let mut k = key("open/", till.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

fn load<T: DeserializeOwned>(v: &impl View, k: &[u8]) -> Result<Option<T>, ApplyError> {
    projection::load(v, Proj::Pos, k)
}

/// Applies one POS event; other events are left alone.
pub fn apply(v: &mut impl View, env: &Envelope) -> Result<(), ApplyError> {
    let rule = |detail: String| ApplyError::Rule {
        event: env.event.kind(),
        seq: env.seq,
        detail,
    };
    let missing = |what: &'static str, id: String| ApplyError::Missing {
        event: env.event.kind(),
        seq: env.seq,
        what,
        id,
    };
    match &env.event {
        Event::CatalogLoaded {
            version,
            base_version,
            json,
            ..
        } => cat::apply_load(v, *version, *base_version, json).map_err(|e| match e {
            LoadError::Catalog(e) => rule(e.to_string()),
            LoadError::Store(e) => e,
        })?,
        Event::CouponUsageReported { usage } => {
            v.put(
                Proj::Pos,
                &key("coupon_cloud/", usage.code.as_bytes()),
                enc(usage),
            )?;
        }
        Event::CatalogPartLoaded {
            version,
            part,
            parts,
            json,
            ..
        } => cat::apply_part(v, *version, *part, *parts, json).map_err(|e| match e {
            LoadError::Catalog(e) => rule(e.to_string()),
            LoadError::Store(e) => e,
        })?,
        Event::SaleOpened {
            sale,
            till,
            currency,
            by,
        } => {
            let entry = SaleEntry {
                id: *sale,
                opened_at: env.at,
                cart: Cart::open(till.clone(), *currency, by.clone()),
                record: None,
                completed_at: None,
                completed_seq: None,
                returned: Returned::default(),
                void_reason: None,
            };
            v.put(Proj::Pos, &key("sale/", sale.as_bytes()), enc(&entry))?;
            if let Some(t) = till {
                v.put(Proj::Pos, &open_key(t, *sale), Vec::new())?;
            }
        }
        Event::SaleChanged { sale, op } => {
            let k = key("sale/", sale.as_bytes());
            let mut entry: SaleEntry =
                load(v, &k)?.ok_or_else(|| missing("sale", sale.to_string()))?;
            entry.cart.apply(op).map_err(|e| rule(e.to_string()))?;
            v.put(Proj::Pos, &k, enc(&entry))?;
        }
        Event::SaleCompleted { sale, record } => {
            let settlement = Settlement::legacy(record.total.currency);
            complete_sale(v, env, *sale, record, &settlement, &rule, &missing)?;
            put_ledger(v, env, *sale, record.total, &settlement)?;
        }
        Event::SaleCompletedV2 {
            sale,
            record,
            settlement,
        } => {
            complete_sale(v, env, *sale, record, settlement, &rule, &missing)?;
            put_ledger(v, env, *sale, record.total, settlement)?;
        }
        Event::SaleVoided { sale, reason, .. } => {
            let k = key("sale/", sale.as_bytes());
            let mut entry: SaleEntry =
                load(v, &k)?.ok_or_else(|| missing("sale", sale.to_string()))?;
            entry
                .cart
                .mark(CartState::Voided)
                .map_err(|e| rule(e.to_string()))?;
            entry.void_reason = Some(reason.clone());
            v.put(Proj::Pos, &k, enc(&entry))?;
            if let Some(t) = &entry.cart.till {
                v.del(Proj::Pos, &open_key(t, *sale))?;
            }
        }
        Event::ReturnCompleted {
            id,
            original,
            record,
        } => {
            complete_return(v, env, *id, Some(*original), record, &rule, &missing)?;
            let settlement = Settlement::legacy(record.total.currency);
            put_return_ledger(v, env, *id, record, &settlement, &rule)?;
        }
        Event::ReturnCompletedV2 {
            id,
            original,
            record,
            settlement,
        } => {
            complete_return(v, env, *id, Some(*original), record, &rule, &missing)?;
            put_return_ledger(v, env, *id, record, settlement, &rule)?;
        }
        Event::ReturnWithoutReceipt {
            id,
            record,
            settlement,
            ..
        } => {
            complete_return(v, env, *id, None, record, &rule, &missing)?;
            put_return_ledger(v, env, *id, record, settlement, &rule)?;
        }
        Event::ExchangeCompleted {
            id,
            original,
            record,
        } => {
            complete_return(
                v,
                env,
                *id,
                Some(*original),
                &record.returned,
                &rule,
                &missing,
            )?;
            let entry = SaleEntry {
                id: *id,
                opened_at: env.at,
                cart: Cart::of_record(&record.sold),
                record: None,
                completed_at: None,
                completed_seq: None,
                returned: Returned::default(),
                void_reason: None,
            };
            v.put(Proj::Pos, &key("sale/", id.as_bytes()), enc(&entry))?;
            complete_sale(
                v,
                env,
                *id,
                &record.sold,
                &record.settlement,
                &rule,
                &missing,
            )?;
            put_ledger(v, env, *id, record.balance, &record.settlement)?;
        }
        Event::TillOpened { till, float, .. } => {
            let k = key("till/", till.as_bytes());
            let current: Option<TillEntry> = load(v, &k)?;
            let t = Till::open(current.as_ref().map(|c| &c.till), till, *float)
                .map_err(|e| rule(e.to_string()))?;
            let entry = TillEntry {
                till: t,
                report: Report::new(float.currency),
                opened_at: env.at,
                closed_at: None,
            };
            v.put(Proj::Pos, &k, enc(&entry))?;
        }
        Event::TillMovement {
            till, kind, amount, ..
        } => {
            update_till(v, till, &rule, &missing, |e| {
                e.till.movement(*kind, *amount).map_err(|e| e.to_string())?;
                e.report
                    .add_movement(*kind, *amount)
                    .map_err(|e| e.to_string())
            })?;
            let mut report = load_report(v, amount.currency)?;
            report
                .add_movement(*kind, *amount)
                .map_err(|e| rule(e.to_string()))?;
            v.put(Proj::Pos, REPORT, enc(&report))?;
        }
        Event::TillClosed { till, counted, .. } => {
            let mut closed = None;
            update_till(v, till, &rule, &missing, |e| {
                e.till.close(*counted, 0).map_err(|e| e.to_string())?;
                e.closed_at = Some(env.at);
                closed = Some(e.clone());
                Ok(())
            })?;
            if let Some(z) = closed {
                let mut k = key("z/", till.as_bytes());
                k.push(0);
                k.extend_from_slice(&env.seq.to_be_bytes());
                v.put(Proj::Pos, &k, enc(&z))?;
            }
        }
        Event::CustomerSaved {
            customer, profile, ..
        } => {
            let k = key("cust/", customer.as_bytes());
            let created_at = load::<CustomerEntry>(v, &k)?.map_or(env.at, |c| c.created_at);
            let entry = CustomerEntry {
                id: *customer,
                profile: profile.clone(),
                created_at,
                updated_at: env.at,
            };
            v.put(Proj::Pos, &k, enc(&entry))?;
        }
        Event::ReceiptEmailRequested { sale, to, .. } => {
            let entry: SaleEntry = load(v, &key("sale/", sale.as_bytes()))?
                .ok_or_else(|| missing("sale", sale.to_string()))?;
            let rec = entry
                .record
                .as_ref()
                .ok_or_else(|| rule("the sale is not completed".into()))?;
            let store = env.store.as_str();
            let mail = MailEntry {
                seq: env.seq,
                sale: *sale,
                to: to.clone(),
                subject: format!("Your receipt from {store}"),
                text: receipt::text(store, *sale, rec),
                html: receipt::html(store, *sale, rec),
                requested_at: env.at,
            };
            v.put(Proj::Pos, &key("mail/", &env.seq.to_be_bytes()), enc(&mail))?;
        }
        Event::CustomerErased { customer, .. } => {
            v.del(Proj::Pos, &key("cust/", customer.as_bytes()))?;
        }
        _ => {}
    }
    Ok(())
}

/// Projects a completed sale: its entry, the reports, the till, the on-hand stock.
fn complete_sale(
    v: &mut impl View,
    env: &Envelope,
    sale: SaleId,
    record: &SaleRecord,
    settlement: &Settlement,
    rule: &dyn Fn(String) -> ApplyError,
    missing: &dyn Fn(&'static str, String) -> ApplyError,
) -> Result<(), ApplyError> {
    let k = key("sale/", sale.as_bytes());
    let mut entry: SaleEntry = load(v, &k)?.ok_or_else(|| missing("sale", sale.to_string()))?;
    if entry.cart.state != CartState::Completed {
        entry
            .cart
            .mark(CartState::Completed)
            .map_err(|e| rule(e.to_string()))?;
    }
    entry.record = Some(record.clone());
    entry.completed_at = Some(env.at);
    entry.completed_seq = Some(env.seq);
    v.put(Proj::Pos, &k, enc(&entry))?;
    let cash = cash_of(&record.tenders, record.change).map_err(|e| rule(e.to_string()))?;
    update_reports(v, record.till.as_deref(), rule, |t, r| {
        if let Some(t) = t {
            t.record_sale(cash).map_err(|e| e.to_string())?;
        }
        r.add_sale(record).map_err(|e| e.to_string())?;
        r.add_settlement(settlement).map_err(|e| e.to_string())
    })?;
    if let Some(t) = &record.till {
        v.del(Proj::Pos, &open_key(t, sale))?;
    }
    for l in &record.lines {
        move_stock(v, &l.item.sku, -l.quantity)?;
    }
    update_analysis(v, record.total.currency, rule, |a| {
        a.add_sale(record, env.at)
    })?;
    for code in &record.coupons {
        let mut keys = vec![coupon_key(code, None)];
        if let Some(c) = record.customer {
            keys.push(coupon_key(code, Some(c)));
        }
        for k in keys {
            let used: u32 = load(v, &k)?.unwrap_or(0);
            v.put(Proj::Pos, &k, enc(&used.saturating_add(1)))?;
        }
        v.put(
            Proj::Pos,
            &redemption_key(code, env.seq),
            enc(&record.customer),
        )?;
    }
    Ok(())
}

/// `coupon_at/<code>\0<seq>`: one redemption, in the sale completed at journal `seq`.
fn redemption_key(code: &str, seq: u64) -> Vec<u8> {
    let mut k = key("coupon_at/", code.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Changes the store's sales analysis with `f`.
fn update_analysis(
    v: &mut impl View,
    currency: protocol::Currency,
    rule: &dyn Fn(String) -> ApplyError,
    f: impl FnOnce(&mut Analysis) -> Result<(), protocol::MoneyError>,
) -> Result<(), ApplyError> {
    let mut a: Analysis = load(v, ANALYSIS)?.unwrap_or_else(|| Analysis::new(currency));
    f(&mut a).map_err(|e| rule(e.to_string()))?;
    v.put(Proj::Pos, ANALYSIS, enc(&a))
}

fn coupon_key(code: &str, customer: Option<CustomerId>) -> Vec<u8> {
    let mut k = key("coupon/", code.as_bytes());
    if let Some(c) = customer {
        k.push(0);
        k.extend_from_slice(c.as_bytes());
    }
    k
}

/// Projects a completed return (of `original`, or without a receipt when `None`): the
/// original's returned quantities, the return's entry, stock, the reports and the till.
fn complete_return(
    v: &mut impl View,
    env: &Envelope,
    id: SaleId,
    original: Option<SaleId>,
    record: &ReturnRecord,
    rule: &dyn Fn(String) -> ApplyError,
    missing: &dyn Fn(&'static str, String) -> ApplyError,
) -> Result<(), ApplyError> {
    let mut sold = None;
    if let Some(original) = original {
        let k = key("sale/", original.as_bytes());
        let mut entry: SaleEntry =
            load(v, &k)?.ok_or_else(|| missing("sale", original.to_string()))?;
        let rec = entry
            .record
            .clone()
            .ok_or_else(|| rule("the original sale is not completed".into()))?;
        entry.returned =
            record_return(&rec, &entry.returned, record).map_err(|e| rule(e.to_string()))?;
        v.put(Proj::Pos, &k, enc(&entry))?;
        sold = Some(rec);
    }
    update_analysis(v, record.total.currency, rule, |a| {
        a.add_return(record, sold.as_ref())
    })?;
    let ret = ReturnEntry {
        id,
        original,
        at: env.at,
        record: record.clone(),
    };
    v.put(Proj::Pos, &key("ret/", id.as_bytes()), enc(&ret))?;
    for l in &record.lines {
        move_stock(v, &l.sku, l.quantity)?;
    }
    let zero = protocol::Money::zero(record.total.currency);
    let cash = cash_of(&record.refunds, zero).map_err(|e| rule(e.to_string()))?;
    update_reports(v, record.till.as_deref(), rule, |t, r| {
        if let Some(t) = t {
            t.record_refund(cash).map_err(|e| e.to_string())?;
        }
        r.add_return(record).map_err(|e| e.to_string())
    })
}

/// Records a completed return in the offline ledger, as money given back.
fn put_return_ledger(
    v: &mut impl View,
    env: &Envelope,
    id: SaleId,
    record: &ReturnRecord,
    settlement: &Settlement,
    rule: &dyn Fn(String) -> ApplyError,
) -> Result<(), ApplyError> {
    let back = record
        .total
        .checked_neg()
        .map_err(|e| rule(e.to_string()))?;
    put_ledger(v, env, id, back, settlement)
}

/// Records a completed transaction in the offline ledger.
fn put_ledger(
    v: &mut impl View,
    env: &Envelope,
    id: SaleId,
    amount: protocol::Money,
    settlement: &Settlement,
) -> Result<(), ApplyError> {
    let entry = LedgerEntry {
        seq: env.seq,
        at: env.at,
        kind: env.event.kind().to_owned(),
        id,
        amount,
        settlement: settlement.clone(),
    };
    v.put(
        Proj::Pos,
        &key("ledger/", &env.seq.to_be_bytes()),
        enc(&entry),
    )
}

/// Adds `delta` units to the on-hand stock of `sku`.
fn move_stock(v: &mut impl View, sku: &str, delta: i64) -> Result<(), ApplyError> {
    let k = key("stock/", sku.as_bytes());
    let on_hand: i64 = load(v, &k)?.unwrap_or(0);
    v.put(Proj::Pos, &k, enc(&on_hand.saturating_add(delta)))
}

fn load_report(v: &impl View, currency: protocol::Currency) -> Result<Report, ApplyError> {
    Ok(load(v, REPORT)?.unwrap_or_else(|| Report::new(currency)))
}

/// Changes a till session with `f`.
fn update_till(
    v: &mut impl View,
    till: &str,
    rule: &dyn Fn(String) -> ApplyError,
    missing: &dyn Fn(&'static str, String) -> ApplyError,
    f: impl FnOnce(&mut TillEntry) -> Result<(), String>,
) -> Result<(), ApplyError> {
    let k = key("till/", till.as_bytes());
    let mut entry: TillEntry = load(v, &k)?.ok_or_else(|| missing("till", till.to_owned()))?;
    f(&mut entry).map_err(rule)?;
    v.put(Proj::Pos, &k, enc(&entry))
}

/// Adds a transaction to the store's report and, when it ran on an open till, to the till's.
fn update_reports(
    v: &mut impl View,
    till: Option<&str>,
    rule: &dyn Fn(String) -> ApplyError,
    f: impl Fn(Option<&mut Till>, &mut Report) -> Result<(), String>,
) -> Result<(), ApplyError> {
    if let Some(t) = till {
        let k = key("till/", t.as_bytes());
        if let Some(mut entry) = load::<TillEntry>(v, &k)? {
            if entry.till.open {
                f(Some(&mut entry.till), &mut entry.report).map_err(rule)?;
                v.put(Proj::Pos, &k, enc(&entry))?;
            }
        }
    }
    let currency = cat::head(v)?
        .map(|h| h.catalog.currency)
        .ok_or_else(|| rule("no catalog is loaded".into()))?;
    let mut report = load_report(v, currency)?;
    f(None, &mut report).map_err(rule)?;
    v.put(Proj::Pos, REPORT, enc(&report))
}

fn apply_err(e: ApplyError) -> StoreError {
    StoreError::Corrupt {
        what: "catalog",
        detail: e.to_string(),
    }
}

fn read_gen(tree: &sled::Tree) -> Result<Option<u32>, StoreError> {
    match tree.get(cat::GEN)? {
        None => Ok(None),
        Some(raw) => <[u8; 4]>::try_from(raw.as_ref())
            .map(|b| Some(u32::from_be_bytes(b)))
            .map_err(|_| StoreError::Corrupt {
                what: "catalog generation",
                detail: format!("{} bytes, expected 4", raw.len()),
            }),
    }
}

/// The version a catalog document gives, and for a delta the version it applies to.
fn versions_of(json: &str, delta: bool) -> Result<(u64, Option<u64>), CatalogError> {
    #[derive(Deserialize)]
    struct Versions {
        version: u64,
        base_version: Option<u64>,
    }
    let v: Versions = serde_json::from_str(json).map_err(|e| CatalogError::Json(e.to_string()))?;
    match (delta, v.base_version) {
        (false, _) => Ok((v.version, None)),
        (true, Some(base)) => Ok((v.version, Some(base))),
        (true, None) => Err(CatalogError::Json("a delta needs base_version".into())),
    }
}

/// What a catalog document did, or will do once its last part arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogOutcome {
    pub version: u64,
    pub products: u64,
    pub skus: u64,
    /// Whether the box now sells from it (`false`: parts of the snapshot are still to come).
    pub in_effect: bool,
}

fn scan<T: DeserializeOwned>(
    tree: &sled::Tree,
    what: &'static str,
    prefix: &[u8],
) -> Result<Vec<T>, StoreError> {
    tree.scan_prefix(prefix)
        .map(|item| {
            let (_, raw) = item?;
            postcard::from_bytes(&raw).map_err(|e| StoreError::Corrupt {
                what,
                detail: e.to_string(),
            })
        })
        .collect()
}

impl Reader<'_> {
    fn pos(&self) -> &sled::Tree {
        &self.trees().pos
    }

    /// The loaded catalog's head: the catalog without products and prices, and its size.
    pub fn catalog_head(&self) -> Result<Option<CatalogHead>, StoreError> {
        cat::head(&projection::PosOverlay::new(self.pos())).map_err(apply_err)
    }

    /// The current catalog without its products and prices (tax, promotions, policy, price
    /// book headers), if one was loaded. Items and prices are read per SKU.
    pub fn catalog(&self) -> Result<Option<Catalog>, StoreError> {
        Ok(self.catalog_head()?.map(|h| h.catalog))
    }

    /// The snapshot whose parts are arriving, if any.
    pub fn catalog_stage(&self) -> Result<Option<cat::Stage>, StoreError> {
        cat::stage(&projection::PosOverlay::new(self.pos())).map_err(apply_err)
    }

    fn catalog_gen(&self) -> Result<Option<u32>, StoreError> {
        read_gen(self.pos())
    }

    /// The item with this SKU.
    pub fn item(&self, sku: &str) -> Result<Option<Item>, StoreError> {
        let Some(gen) = self.catalog_gen()? else {
            return Ok(None);
        };
        read(self.pos(), "item", &cat::gkey(gen, b'i', sku.as_bytes()))
    }

    /// The item with this barcode key ([`crate::domain::barcode::Barcode::key`]).
    pub fn item_by_barcode(&self, barcode_key: &str) -> Result<Option<Item>, StoreError> {
        let Some(gen) = self.catalog_gen()? else {
            return Ok(None);
        };
        match self
            .pos()
            .get(cat::gkey(gen, b'b', barcode_key.as_bytes()))?
        {
            None => Ok(None),
            Some(sku) => read(self.pos(), "item", &cat::gkey(gen, b'i', &sku)),
        }
    }

    /// Items whose name or SKU holds every word of `query`, case-insensitively, in SKU order,
    /// at most `limit`. Reads items in order until it has `limit` matches.
    pub fn search_items(&self, query: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        let Some(gen) = self.catalog_gen()? else {
            return Ok(Vec::new());
        };
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        let mut found = Vec::new();
        for entry in self.pos().scan_prefix(cat::gkey(gen, b'i', b"")) {
            if found.len() >= limit {
                break;
            }
            let (_, raw) = entry?;
            let item: Item = postcard::from_bytes(&raw).map_err(|e| StoreError::Corrupt {
                what: "item",
                detail: e.to_string(),
            })?;
            if crate::domain::catalog::matches(&item, &words) {
                found.push(item);
            }
        }
        Ok(found)
    }

    /// `sku`'s prices by price book.
    pub fn prices(&self, sku: &str) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
        let Some(gen) = self.catalog_gen()? else {
            return Ok(Default::default());
        };
        Ok(read(self.pos(), "prices", &cat::gkey(gen, b'$', sku.as_bytes()))?.unwrap_or_default())
    }

    /// `sku`'s price at `at` under catalog `c` (the loaded one), if a book in effect lists it.
    pub fn price_of(
        &self,
        c: &Catalog,
        sku: &str,
        at: Timestamp,
    ) -> Result<Option<protocol::Money>, StoreError> {
        Ok(c.price_among(&self.prices(sku)?, at))
    }

    /// `sku`'s price under `basis`: the price at `at`, or the lowest in any book.
    pub fn price_by(
        &self,
        c: &Catalog,
        sku: &str,
        basis: protocol::pos::PriceBasis,
        at: Timestamp,
    ) -> Result<Option<protocol::Money>, StoreError> {
        let prices = self.prices(sku)?;
        Ok(match basis {
            protocol::pos::PriceBasis::CurrentPrice => c.price_among(&prices, at),
            protocol::pos::PriceBasis::LowestPrice => c.lowest_among(&prices),
        })
    }

    /// On-hand units of `sku`; negative when more were sold than the box knows of.
    pub fn on_hand(&self, sku: &str) -> Result<i64, StoreError> {
        Ok(read(self.pos(), "stock", &key("stock/", sku.as_bytes()))?.unwrap_or(0))
    }

    /// The event that loads a catalog document (a whole snapshot, or a delta on the current
    /// version), checked by running it on an overlay of the projections, and the head it
    /// gives. The cloud link's catalog commands and the API's catalog load both come here.
    pub fn catalog_load(
        &self,
        delta: bool,
        json: &str,
        by: protocol::event::Actor,
    ) -> Result<Result<(Event, CatalogOutcome), CatalogError>, StoreError> {
        let (version, base) = match versions_of(json, delta) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let event = Event::CatalogLoaded {
            version,
            base_version: base,
            json: json.to_owned(),
            by,
        };
        self.dry_run(event)
    }

    /// The event that loads part `part` of `parts` of snapshot `version`, checked like
    /// [`Self::catalog_load`].
    pub fn catalog_part(
        &self,
        version: u64,
        part: u32,
        parts: u32,
        json: &str,
        by: protocol::event::Actor,
    ) -> Result<Result<(Event, CatalogOutcome), CatalogError>, StoreError> {
        self.dry_run(Event::CatalogPartLoaded {
            version,
            part,
            parts,
            json: json.to_owned(),
            by,
        })
    }

    fn dry_run(
        &self,
        event: Event,
    ) -> Result<Result<(Event, CatalogOutcome), CatalogError>, StoreError> {
        let mut overlay = projection::PosOverlay::new(self.pos());
        let applied = match &event {
            Event::CatalogLoaded {
                version,
                base_version,
                json,
                ..
            } => cat::apply_load(&mut overlay, *version, *base_version, json),
            Event::CatalogPartLoaded {
                version,
                part,
                parts,
                json,
                ..
            } => cat::apply_part(&mut overlay, *version, *part, *parts, json),
            _ => return Ok(Err(CatalogError::Json("not a catalog event".into()))),
        };
        match applied {
            Err(LoadError::Catalog(e)) => return Ok(Err(e)),
            Err(LoadError::Store(e)) => return Err(apply_err(e)),
            Ok(()) => {}
        }
        let outcome = match (
            cat::head(&overlay).map_err(apply_err)?,
            cat::stage(&overlay).map_err(apply_err)?,
        ) {
            (_, Some(st)) => CatalogOutcome {
                version: st.version,
                products: st.products,
                skus: st.skus,
                in_effect: false,
            },
            (Some(h), None) => CatalogOutcome {
                version: h.catalog.version,
                products: h.products,
                skus: h.skus,
                in_effect: true,
            },
            (None, None) => return Ok(Err(CatalogError::Json("nothing was loaded".into()))),
        };
        Ok(Ok((event, outcome)))
    }

    /// The sale with this id.
    pub fn sale(&self, id: SaleId) -> Result<Option<SaleEntry>, StoreError> {
        read(self.pos(), "sale", &key("sale/", id.as_bytes()))
    }

    /// How many times coupon `code` was redeemed, and how many of those by `customer`: this
    /// box's count, or, once the cloud reported the fleet's count, the cloud's figure plus
    /// this box's redemptions after what the cloud had seen, whichever is higher.
    pub fn coupon_uses(
        &self,
        code: &str,
        customer: Option<CustomerId>,
    ) -> Result<(u32, Option<u32>), StoreError> {
        let total: u32 = read(self.pos(), "coupon", &coupon_key(code, None))?.unwrap_or(0);
        let mine: Option<u32> = match customer {
            Some(c) => Some(read(self.pos(), "coupon", &coupon_key(code, Some(c)))?.unwrap_or(0)),
            None => None,
        };
        let Some(cloud) = self.coupon_cloud(code)? else {
            return Ok((total, mine));
        };
        let (mut later, mut later_mine) = (0u32, 0u32);
        let from = redemption_key(code, cloud.through_seq.saturating_add(1));
        let end = redemption_key(code, u64::MAX);
        for entry in self.pos().range(from..=end) {
            let (_, raw) = entry?;
            let by: Option<CustomerId> =
                postcard::from_bytes(&raw).map_err(|e| StoreError::Corrupt {
                    what: "coupon redemption",
                    detail: e.to_string(),
                })?;
            later = later.saturating_add(1);
            if by.is_some() && by == customer {
                later_mine = later_mine.saturating_add(1);
            }
        }
        let fleet_mine = |c: CustomerId| {
            cloud
                .per_customer
                .iter()
                .find(|(id, _)| *id == c)
                .map_or(0, |(_, n)| *n)
        };
        let total = total.max(cloud.total.saturating_add(later));
        let mine = match (customer, mine) {
            (Some(c), Some(m)) => Some(m.max(fleet_mine(c).saturating_add(later_mine))),
            _ => None,
        };
        Ok((total, mine))
    }

    /// The cloud's last report of coupon `code`'s redemptions across the fleet.
    pub fn coupon_cloud(
        &self,
        code: &str,
    ) -> Result<Option<protocol::command::CouponUsage>, StoreError> {
        read(
            self.pos(),
            "coupon usage",
            &key("coupon_cloud/", code.as_bytes()),
        )
    }

    /// How many carts are in progress on `till`.
    pub fn open_sales(&self, till: &str) -> Result<usize, StoreError> {
        let mut prefix = key("open/", till.as_bytes());
        prefix.push(0);
        Ok(self.pos().scan_prefix(prefix).count())
    }

    /// The return with this id.
    pub fn sale_return(&self, id: SaleId) -> Result<Option<ReturnEntry>, StoreError> {
        read(self.pos(), "return", &key("ret/", id.as_bytes()))
    }

    /// The till's current (or last) session.
    pub fn till(&self, id: &str) -> Result<Option<TillEntry>, StoreError> {
        read(self.pos(), "till", &key("till/", id.as_bytes()))
    }

    /// The till's closed sessions (Z reports), oldest first.
    pub fn z_reports(&self, id: &str) -> Result<Vec<TillEntry>, StoreError> {
        let mut prefix = key("z/", id.as_bytes());
        prefix.push(0);
        scan(self.pos(), "z report", &prefix)
    }

    /// The store's report of every sale, return and cash movement.
    pub fn store_report(&self) -> Result<Option<Report>, StoreError> {
        read(self.pos(), "report", REPORT)
    }

    /// Completed transactions of the offline ledger journaled after sequence `after`, oldest
    /// first, at most `limit`.
    pub fn ledger_after(&self, after: u64, limit: usize) -> Result<Vec<LedgerEntry>, StoreError> {
        let start = key("ledger/", &after.saturating_add(1).to_be_bytes());
        self.pos()
            .range(start..)
            .take_while(|item| {
                item.as_ref()
                    .map_or(true, |(k, _)| k.starts_with(b"ledger/"))
            })
            .take(limit)
            .map(|item| {
                let (_, raw) = item?;
                postcard::from_bytes(&raw).map_err(|e| StoreError::Corrupt {
                    what: "ledger",
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// How many completed transactions the ledger holds after sequence `after`.
    pub fn ledger_count_after(&self, after: u64) -> Result<usize, StoreError> {
        let start = key("ledger/", &after.saturating_add(1).to_be_bytes());
        let mut n = 0;
        for item in self.pos().range(start..) {
            if !item?.0.starts_with(b"ledger/") {
                break;
            }
            n += 1;
        }
        Ok(n)
    }

    /// The store's sales analysis (by hour, associate, tax jurisdiction, returns, discounts).
    pub fn analysis(&self) -> Result<Option<Analysis>, StoreError> {
        read(self.pos(), "analysis", ANALYSIS)
    }

    /// Email receipts in the outbox, oldest first.
    pub fn outbox(&self) -> Result<Vec<MailEntry>, StoreError> {
        scan(self.pos(), "mail", b"mail/")
    }

    /// The customer with this id.
    pub fn customer(&self, id: CustomerId) -> Result<Option<CustomerEntry>, StoreError> {
        read(self.pos(), "customer", &key("cust/", id.as_bytes()))
    }

    /// Every customer profile.
    pub fn customers(&self) -> Result<Vec<CustomerEntry>, StoreError> {
        scan(self.pos(), "customer", b"cust/")
    }
}

/// The sample catalog shipped with the daemon, loaded on the embedded default's first start.
pub const SAMPLE_CATALOG: &str = include_str!("../../sample/catalog.json");

impl super::Store {
    /// Journals the sample catalog if the store has no catalog yet. Returns whether it did.
    pub fn load_sample_catalog(&self) -> Result<bool, StoreError> {
        let mut loaded = false;
        let out = self.write(None, |r| {
            if r.catalog_head()?.is_some() {
                return Ok(super::Planned::default());
            }
            let c =
                apply_catalog_snapshot(None, SAMPLE_CATALOG).map_err(|e| StoreError::Corrupt {
                    what: "sample catalog",
                    detail: e.to_string(),
                })?;
            loaded = true;
            Ok(super::Planned {
                events: vec![Event::CatalogLoaded {
                    version: c.version,
                    base_version: None,
                    json: SAMPLE_CATALOG.to_owned(),
                    by: protocol::event::Actor::Admin,
                }],
                ..Default::default()
            })
        });
        match out {
            Ok(_) => Ok(loaded),
            Err(super::WriteError::Rejected(e) | super::WriteError::Store(e)) => Err(e),
            Err(super::WriteError::IdempotencyConflict) => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::event::Actor;
    use protocol::pos::{CartOp, Tender, TenderKind, TillMove};
    use protocol::{Currency, Money, StoreId};

    use super::*;
    use crate::domain::returns::plan_return;
    use crate::domain::sale::PricingContext;
    use crate::store::{Planned, Store, StoreSettings};

    fn usd(m: i64) -> Money {
        Money::new(m, Currency::new("USD").unwrap())
    }

    fn put(store: &Store, events: Vec<Event>) {
        store
            .write(None, |_| {
                Ok::<_, ()>(Planned {
                    events,
                    ..Default::default()
                })
            })
            .unwrap();
    }

    #[test]
    fn a_store_day_projects_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let id = StoreId::new("pos-test").unwrap();
        let store = Store::open(dir.path(), &id, &StoreSettings::default()).unwrap();
        assert!(store.load_sample_catalog().unwrap());
        assert!(!store.load_sample_catalog().unwrap(), "loads once");
        let r = store.reader();
        let by_ean = r.item_by_barcode("g05901234123457").unwrap().unwrap();
        assert_eq!(by_ean.sku, "RUN-42");
        assert_eq!(r.item("SOCK-1").unwrap().unwrap().category, "apparel");

        let till = "till-1".to_owned();
        put(
            &store,
            vec![Event::TillOpened {
                till: till.clone(),
                float: usd(10_000),
                by: Actor::Admin,
            }],
        );
        let sale = SaleId::random();
        let item = store.reader().item("MUG-1").unwrap().unwrap();
        put(
            &store,
            vec![
                Event::SaleOpened {
                    sale,
                    till: Some(till.clone()),
                    currency: usd(0).currency,
                    by: Actor::Admin,
                },
                Event::SaleChanged {
                    sale,
                    op: CartOp::AddLine {
                        line: 1,
                        item: item.line_item(usd(1_450)),
                        quantity: 2,
                    },
                },
                Event::SaleChanged {
                    sale,
                    op: CartOp::AddTender {
                        tender: Tender {
                            kind: TenderKind::Cash,
                            amount: usd(5_000),
                            reference: None,
                        },
                    },
                },
            ],
        );
        assert_eq!(store.reader().open_sales(&till).unwrap(), 1);
        let entry = store.reader().sale(sale).unwrap().unwrap();
        let catalog = store.reader().catalog().unwrap().unwrap();
        let ctx = PricingContext {
            promotions: &catalog.promotions,
            tax: &catalog.tax,
            at: Timestamp(0),
        };
        let priced = entry.cart.price(&ctx).unwrap();
        // 2 × 14.50 = 29.00, 10 % off Home = 26.10, + 8.875 % tax (1.04 + 1.27) = 28.41.
        assert_eq!(priced.total, usd(2_841));
        let record = entry.cart.complete(&priced, Actor::Admin).unwrap();
        assert_eq!(record.change, usd(5_000 - 2_841));
        put(
            &store,
            vec![Event::SaleCompleted {
                sale,
                record: record.clone(),
            }],
        );
        assert_eq!(store.reader().open_sales(&till).unwrap(), 0);

        let ret = plan_return(
            &record,
            &Returned::default(),
            &[(1, 1)],
            Some(till.clone()),
            "chipped".into(),
            Actor::Admin,
        )
        .unwrap();
        put(
            &store,
            vec![
                Event::ReturnCompleted {
                    id: SaleId::random(),
                    original: sale,
                    record: ret.clone(),
                },
                Event::TillMovement {
                    till: till.clone(),
                    kind: TillMove::PaidOut,
                    amount: usd(500),
                    reason: "milk".into(),
                    by: Actor::Admin,
                },
            ],
        );
        let t = store.reader().till(&till).unwrap().unwrap();
        let expected = 10_000 + 2_841 - ret.total.minor - 500;
        assert_eq!(t.till.expected().unwrap(), usd(expected));
        assert_eq!(t.report.sales, 1);
        assert_eq!(t.report.returns, 1);
        assert_eq!(t.report.by_tender["cash"], 2_841 - ret.total.minor);
        assert_eq!(t.report.by_department["home"], 2_841 - ret.total.minor);
        put(
            &store,
            vec![Event::TillClosed {
                till: till.clone(),
                counted: usd(expected - 5),
                expected: usd(expected),
                by: Actor::Admin,
            }],
        );
        let z = store.reader().z_reports(&till).unwrap();
        assert_eq!(z.len(), 1);
        assert_eq!(z[0].till.counted, Some(usd(expected - 5)));
        let sold = store.reader().sale(sale).unwrap().unwrap();
        assert_eq!(sold.returned.quantities[&1], 1);
        // Two sold, one returned: below zero, as nothing was received.
        assert_eq!(store.reader().on_hand("MUG-1").unwrap(), -1);
        assert_eq!(store.reader().on_hand("BAG-1").unwrap(), 0);

        let report = store.verify().unwrap();
        assert!(report.ok(), "{:?}", report.problems);
        assert!(report.projection_entries["pos"] > 10);
    }

    #[test]
    fn verify_notices_a_tampered_pos_projection() {
        let dir = tempfile::tempdir().unwrap();
        let id = StoreId::new("pos-test").unwrap();
        let store = Store::open(dir.path(), &id, &StoreSettings::default()).unwrap();
        store.load_sample_catalog().unwrap();
        let gen = read_gen(&store.reader().trees().pos).unwrap().unwrap();
        let key = cat::gkey(gen, b'i', b"MUG-1");
        assert!(store.reader().trees().pos.remove(key).unwrap().is_some());
        let report = store.verify().unwrap();
        assert!(!report.ok());
        assert!(report.problems[0].contains("pos"), "{:?}", report.problems);
    }
}
