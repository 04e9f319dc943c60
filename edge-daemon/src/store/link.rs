//! The cloud link's state in the store: the cloud's acknowledged watermark, the session
//! counter, applied command ids with their results, and what commands set.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `link` | `watermark`, `session` | `u64` big-endian |
//! | `link_commands` | command id (16 bytes) | encoded [`CommandResult`] |
//! | `link_settings` | `module/NAME` | `[0]` or `[1]` |
//! | `link_settings` | `config/KEY` | UTF-8 value |
//! | `link_settings` | `catalog_version` | `u64` big-endian |
//!
//! A module or configuration command is applied in **one sled transaction** over
//! `link_commands` and `link_settings` that also records its id, then flushed before its
//! result is published: a repeated id gets the recorded result and changes nothing.
//!
//! A catalog command loads the catalog like `POST /v1/pos/catalog`: through [`Store::write`],
//! whose transaction appends `CatalogLoaded`, updates the pos projection and records the
//! command id as an idempotency key in the scope `cloud-command` with the encoded result. The
//! result is then copied to `link_commands`. A delta whose base is not the box's catalog
//! version is refused with a reason starting `resync`, and nothing changes.
//!
//! # Current limitations
//! - Catalog loads from the cloud are journaled with the actor `Admin`: the event format has
//!   no cloud actor yet.

use protocol::command::{CatalogKind, CatalogPayload, Command, CommandBody, CommandResult};
use protocol::command::{Module, Outcome};
use protocol::event::Actor;
use protocol::Event;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use super::{read_u64, IdemRequest, Planned, Reader, Store, StoreError, WriteError};
use crate::clock::now;
use crate::domain::catalog::CatalogError;

const WATERMARK: &[u8] = b"watermark";
const SESSION: &[u8] = b"session";
const CATALOG_VERSION: &[u8] = b"catalog_version";
/// The idempotency scope that records catalog commands' ids with their journal events.
const COMMAND_SCOPE: &str = "cloud-command";
/// The longest configuration key and value a command may set.
const MAX_KEY: usize = 128;
const MAX_VALUE: usize = 4096;
/// Settings a command may not change: identity, storage and the link itself.
const PROTECTED: &[&str] = &["store_id", "data_dir", "mqtt", "store", "api.listen"];

fn corrupt(what: &'static str, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.to_string(),
    }
}

impl Store {
    fn link_tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.inner.db.open_tree(name)?)
    }

    /// Journal entries after `after` as stored (sequence, encoded envelope), at most `limit`.
    pub fn journal_raw_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let start = after.saturating_add(1).to_be_bytes();
        self.inner
            .journal
            .range(start..)
            .take(limit)
            .map(|item| {
                let (k, v) = item?;
                let key: [u8; 8] = k.as_ref().try_into().map_err(|_| {
                    corrupt("journal key", format!("{} bytes, expected 8", k.len()))
                })?;
                Ok((u64::from_be_bytes(key), v.to_vec()))
            })
            .collect()
    }

    /// The cloud's acknowledged watermark (0 before the first acknowledgement).
    pub fn link_watermark(&self) -> Result<u64, StoreError> {
        Ok(read_u64(&self.link_tree("link")?, WATERMARK)?.unwrap_or(0))
    }

    /// Stores a higher watermark durably; a lower one is ignored.
    pub fn set_link_watermark(&self, seq: u64) -> Result<(), StoreError> {
        let tree = self.link_tree("link")?;
        tree.fetch_and_update(WATERMARK, |old| {
            let old = old
                .and_then(|o| <[u8; 8]>::try_from(o).ok())
                .map_or(0, u64::from_be_bytes);
            Some(old.max(seq).to_be_bytes().to_vec())
        })?;
        self.flush()
    }

    /// A new session counter, durably greater than every earlier one.
    pub fn next_link_session(&self) -> Result<u64, StoreError> {
        let tree = self.link_tree("link")?;
        let prev = tree.fetch_and_update(SESSION, |old| {
            let old = old
                .and_then(|o| <[u8; 8]>::try_from(o).ok())
                .map_or(0, u64::from_be_bytes);
            Some((old + 1).to_be_bytes().to_vec())
        })?;
        let prev = prev
            .and_then(|o| <[u8; 8]>::try_from(o.as_ref()).ok())
            .map_or(0, u64::from_be_bytes);
        self.flush()?;
        Ok(prev + 1)
    }

    /// Module switches set by cloud commands.
    pub fn link_modules(&self) -> Result<Vec<(Module, bool)>, StoreError> {
        let tree = self.link_tree("link_settings")?;
        let mut out = Vec::new();
        for m in Module::ALL {
            if let Some(v) = tree.get(format!("module/{m}"))? {
                out.push((m, v.as_ref() == [1]));
            }
        }
        Ok(out)
    }

    /// The switch a cloud command set for the module named `name`, if any.
    pub fn link_module(&self, name: &str) -> Result<Option<bool>, StoreError> {
        let tree = self.link_tree("link_settings")?;
        Ok(tree
            .get(format!("module/{name}"))?
            .map(|v| v.as_ref() == [1]))
    }

    /// A configuration value set by a cloud command.
    pub fn link_config(&self, key: &str) -> Result<Option<String>, StoreError> {
        let tree = self.link_tree("link_settings")?;
        Ok(tree
            .get(format!("config/{key}"))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The catalog version the last applied catalog command produced (0: none).
    pub fn link_catalog_version(&self) -> Result<u64, StoreError> {
        Ok(read_u64(&self.link_tree("link_settings")?, CATALOG_VERSION)?.unwrap_or(0))
    }

    /// Applies `cmd` exactly once; see the module docs.
    pub fn apply_link_command(&self, cmd: &Command) -> Result<CommandResult, StoreError> {
        if matches!(
            cmd.body,
            CommandBody::Catalog(_) | CommandBody::CouponUsage(_)
        ) {
            return self.apply_journaled_command(cmd);
        }
        let commands = self.link_tree("link_commands")?;
        let settings = self.link_tree("link_settings")?;
        let _guard = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        let id = *cmd.id.as_bytes();
        let result: Result<CommandResult, TransactionError<StoreError>> = (&commands, &settings)
            .transaction(|(cmds, sets)| {
                if let Some(raw) = cmds.get(id)? {
                    return CommandResult::decode(&raw).map_err(|e| {
                        ConflictableTransactionError::Abort(corrupt("command record", e))
                    });
                }
                let outcome = match apply(sets, &cmd.body)? {
                    Ok(()) => Outcome::Applied,
                    Err(reason) => Outcome::Rejected { reason },
                };
                let result = CommandResult {
                    id: cmd.id,
                    store: self.store_id().clone(),
                    at: now(),
                    outcome,
                };
                cmds.insert(&id, result.encode())?;
                Ok(result)
            });
        drop(_guard);
        let result = result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        })?;
        self.flush()?;
        Ok(result)
    }
}

impl Store {
    /// A command that journals an event (a catalog load, a coupon's fleet-wide usage): it goes
    /// through [`Store::write`], so that its event and the command's id (an idempotency record
    /// in the scope `cloud-command`, holding the encoded result) commit in one transaction. The
    /// result is then copied to `link_commands`; a crash between the two replays the
    /// idempotency record.
    fn apply_journaled_command(&self, cmd: &Command) -> Result<CommandResult, StoreError> {
        let commands = self.link_tree("link_commands")?;
        let id = *cmd.id.as_bytes();
        if let Some(raw) = commands.get(id)? {
            return CommandResult::decode(&raw).map_err(|e| corrupt("command record", e));
        }
        let key = cmd.id.to_string();
        let idem = IdemRequest {
            scope: COMMAND_SCOPE.into(),
            fingerprint: IdemRequest::fingerprint_of("COMMAND", &key, b""),
            key,
        };
        let store = self.store_id().clone();
        let written = self.write(Some(&idem), |r| {
            let event = match &cmd.body {
                CommandBody::Catalog(payload) => catalog_event(r, payload)?,
                CommandBody::CouponUsage(usage) => coupon_event(usage),
                _ => Err("not a journaled command".to_owned()),
            };
            let (events, outcome) = match event {
                Ok(event) => (vec![event], Outcome::Applied),
                Err(reason) => (Vec::new(), Outcome::Rejected { reason }),
            };
            let result = CommandResult {
                id: cmd.id,
                store,
                at: now(),
                outcome,
            };
            Ok::<_, StoreError>(Planned {
                events,
                response: result.encode(),
                ..Planned::default()
            })
        });
        let response = match written {
            Ok(outcome) => outcome.response().to_vec(),
            Err(WriteError::Rejected(e) | WriteError::Store(e)) => return Err(e),
            Err(WriteError::IdempotencyConflict) => {
                return Err(corrupt("command record", "fingerprint differs for one id"))
            }
        };
        let result = CommandResult::decode(&response).map_err(|e| corrupt("command record", e))?;
        commands.insert(id, response)?;
        // The version in effect: a part of a snapshot changes it only with the last part.
        if let (Outcome::Applied, Some(c)) = (&result.outcome, self.reader().catalog()?) {
            let settings = self.link_tree("link_settings")?;
            settings.insert(CATALOG_VERSION, &c.version.to_be_bytes())?;
        }
        self.flush()?;
        Ok(result)
    }
}

/// The catalog event a catalog command journals, or why it is refused. A delta whose base is
/// not the box's catalog version asks for a resync.
fn catalog_event(r: &Reader<'_>, p: &CatalogPayload) -> Result<Result<Event, String>, StoreError> {
    if serde_json::from_str::<serde_json::Value>(&p.json).is_err() {
        return Ok(Err("catalog payload is not JSON".into()));
    }
    let max = crate::api::pos::catalog::MAX_DOCUMENT;
    if p.json.len() > max {
        return Ok(Err(format!(
            "the catalog document is {} bytes, more than {max}: send a snapshot in parts",
            p.json.len()
        )));
    }
    let current = r.catalog()?.map(|c| c.version);
    if p.kind == CatalogKind::Delta && p.base_version != current {
        return Ok(Err(format!(
            "resync: the delta applies to version {:?} but the box has version {current:?}; \
             send a snapshot",
            p.base_version
        )));
    }
    let checked = match p.kind {
        CatalogKind::Snapshot => r.catalog_load(false, &p.json, Actor::Admin)?,
        CatalogKind::Delta => r.catalog_load(true, &p.json, Actor::Admin)?,
        CatalogKind::SnapshotPart { part, parts } => {
            r.catalog_part(p.version, part, parts, &p.json, Actor::Admin)?
        }
    };
    Ok(match checked {
        Ok((_, next)) if next.version != p.version => Err(format!(
            "the command says version {} but its document gives version {}",
            p.version, next.version
        )),
        Ok((event, _)) => Ok(event),
        Err(e @ CatalogError::WrongBase { .. }) => Err(format!("resync: {e}; send a snapshot")),
        Err(e @ CatalogError::Part { .. }) => Err(format!("resync: {e}; send the snapshot again")),
        Err(e) => Err(e.to_string()),
    })
}

/// The event a coupon usage report journals, or why it is refused.
fn coupon_event(usage: &protocol::command::CouponUsage) -> Result<Event, String> {
    if usage.code.is_empty() || usage.code.len() > crate::domain::catalog::MAX_ID {
        return Err(format!(
            "coupon code must be 1 to {} bytes",
            crate::domain::catalog::MAX_ID
        ));
    }
    Ok(Event::CouponUsageReported {
        usage: usage.clone(),
    })
}

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// Writes the command's effect, or returns why it is refused (and writes nothing).
fn apply(sets: &TransactionalTree, body: &CommandBody) -> TxResult<Result<(), String>> {
    match body {
        CommandBody::SetModule { module, enabled } => {
            sets.insert(format!("module/{module}").as_bytes(), &[u8::from(*enabled)])?;
            Ok(Ok(()))
        }
        CommandBody::SetConfig { key, value } => {
            if let Err(why) = check_config(key, value) {
                return Ok(Err(why));
            }
            sets.insert(format!("config/{key}").as_bytes(), value.as_bytes())?;
            Ok(Ok(()))
        }
        // Catalog commands go through `Store::apply_catalog_command`.
        CommandBody::Catalog(_) | CommandBody::CouponUsage(_) => {
            Ok(Err("journaled commands are applied elsewhere".into()))
        }
    }
}

fn check_config(key: &str, value: &str) -> Result<(), String> {
    let good_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._".contains(c);
    if key.is_empty() || key.len() > MAX_KEY || !key.chars().all(good_char) {
        return Err(format!(
            "configuration key {key:?} is not 1-{MAX_KEY} of a-z 0-9 . _"
        ));
    }
    if let Some(p) = PROTECTED
        .iter()
        .find(|p| key == **p || key.starts_with(&format!("{p}.")))
    {
        return Err(format!(
            "configuration key {key:?} ({p}) cannot be set from the cloud"
        ));
    }
    if value.len() > MAX_VALUE {
        return Err(format!(
            "value is {} bytes; the limit is {MAX_VALUE}",
            value.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use protocol::command::CatalogKind;
    use protocol::{CommandId, StoreId, Timestamp};

    use super::*;
    use crate::store::StoreSettings;

    fn open(dir: &std::path::Path) -> Store {
        let id = StoreId::new("s1").unwrap();
        Store::open(dir, &id, &StoreSettings::default()).unwrap()
    }

    fn cmd(store: &Store, body: CommandBody) -> Command {
        Command {
            id: CommandId::random(),
            store: store.store_id().clone(),
            issued_at: Timestamp(0),
            body,
        }
    }

    fn catalog(kind: CatalogKind, version: u64, base: Option<u64>, json: &str) -> CommandBody {
        CommandBody::Catalog(CatalogPayload {
            kind,
            version,
            base_version: base,
            json: json.into(),
        })
    }

    #[test]
    fn a_command_is_applied_once_and_its_result_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let on = cmd(
            &store,
            CommandBody::SetModule {
                module: Module::Omni,
                enabled: true,
            },
        );
        let first = store.apply_link_command(&on).unwrap();
        assert_eq!(first.outcome, Outcome::Applied);
        let mut off = on.clone();
        off.id = CommandId::random();
        off.body = CommandBody::SetModule {
            module: Module::Omni,
            enabled: false,
        };
        store.apply_link_command(&off).unwrap();
        // The first id again: its recorded result, and the module stays off.
        assert_eq!(store.apply_link_command(&on).unwrap(), first);
        assert_eq!(store.link_modules().unwrap(), vec![(Module::Omni, false)]);
        drop(store);
        let store = open(dir.path());
        assert_eq!(store.apply_link_command(&on).unwrap(), first);
    }

    #[test]
    fn refused_commands_change_nothing_but_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let bad = [
            CommandBody::SetConfig {
                key: "store_id".into(),
                value: "x".into(),
            },
            CommandBody::SetConfig {
                key: "mqtt.url".into(),
                value: "x".into(),
            },
            CommandBody::SetConfig {
                key: "Bad Key".into(),
                value: "x".into(),
            },
            catalog(CatalogKind::Snapshot, 1, None, "{not json"),
            catalog(CatalogKind::Snapshot, 1, None, "{}"),
            catalog(CatalogKind::Delta, 2, Some(1), "{}"),
        ];
        for body in bad {
            let r = store
                .apply_link_command(&cmd(&store, body.clone()))
                .unwrap();
            assert!(matches!(r.outcome, Outcome::Rejected { .. }), "{body:?}");
        }
        assert_eq!(store.link_catalog_version().unwrap(), 0);
        assert_eq!(store.link_config("store_id").unwrap(), None);
        assert_eq!(
            store.stats().unwrap().last_seq,
            0,
            "a refusal journaled something"
        );

        let cfg = cmd(
            &store,
            CommandBody::SetConfig {
                key: "pairing.code_ttl_secs".into(),
                value: "300".into(),
            },
        );
        store.apply_link_command(&cfg).unwrap();
        assert_eq!(
            store
                .link_config("pairing.code_ttl_secs")
                .unwrap()
                .as_deref(),
            Some("300")
        );
    }

    /// The sample catalog as a snapshot of `version`.
    fn sample_at(version: u64) -> String {
        let mut doc: serde_json::Value =
            serde_json::from_str(crate::store::pos::SAMPLE_CATALOG).unwrap();
        doc["version"] = version.into();
        doc.to_string()
    }

    #[test]
    fn a_snapshot_in_parts_over_the_link_takes_effect_with_its_last_part() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let send = |part: u32, json: &str| {
            let kind = CatalogKind::SnapshotPart { part, parts: 2 };
            let c = cmd(&store, catalog(kind, 20, None, json));
            store.apply_link_command(&c).unwrap().outcome
        };
        let chunk = serde_json::json!({"version": 20, "products": [{"id": "x", "name": "X",
            "category": "home", "tax_class": "standard", "variants": [{"sku": "X-1"}]}],
            "prices": {"base": {"X-1": 5}}})
        .to_string();
        // The second part first: no snapshot is arriving, so the cloud must start again.
        match send(1, &chunk) {
            Outcome::Rejected { reason } => assert!(reason.starts_with("resync"), "{reason}"),
            other => panic!("a part out of order was {other:?}"),
        }
        assert_eq!(send(0, &sample_at(20)), Outcome::Applied);
        let version = store.reader().catalog().unwrap().map(|c| c.version);
        assert_ne!(version, Some(20), "not in effect before its last part");
        assert_eq!(send(1, &chunk), Outcome::Applied);
        assert_eq!(store.link_catalog_version().unwrap(), 20);
        let c = store.reader().catalog().unwrap().unwrap();
        let price = store.reader().price_of(&c, "X-1", protocol::Timestamp(0));
        assert_eq!(price.unwrap().map(|m| m.minor), Some(5));
    }

    #[test]
    fn catalog_commands_load_the_catalog_with_their_id_and_a_wrong_base_asks_for_a_resync() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let version = || store.reader().catalog().unwrap().map(|c| c.version);
        let loaded = || {
            let all = store.journal_after(0, 1000).unwrap();
            all.iter()
                .filter(|e| e.event.kind() == "catalog_loaded")
                .count()
        };
        let snap = cmd(
            &store,
            catalog(CatalogKind::Snapshot, 10, None, &sample_at(10)),
        );
        assert_eq!(
            store.apply_link_command(&snap).unwrap().outcome,
            Outcome::Applied
        );
        assert_eq!((version(), loaded()), (Some(10), 1));
        // The same id again: the recorded result, no second load.
        let again = store.apply_link_command(&snap).unwrap();
        assert_eq!(again.outcome, Outcome::Applied);
        assert_eq!(loaded(), 1);

        let delta = r#"{"version": 11, "base_version": 10}"#;
        let d = cmd(&store, catalog(CatalogKind::Delta, 11, Some(10), delta));
        assert_eq!(
            store.apply_link_command(&d).unwrap().outcome,
            Outcome::Applied
        );
        assert_eq!((version(), loaded()), (Some(11), 2));
        assert_eq!(store.link_catalog_version().unwrap(), 11);

        let last = store.stats().unwrap().last_seq;
        let stale = r#"{"version": 13, "base_version": 12}"#;
        let wrong = cmd(&store, catalog(CatalogKind::Delta, 13, Some(12), stale));
        match store.apply_link_command(&wrong).unwrap().outcome {
            Outcome::Rejected { reason } => assert!(reason.starts_with("resync"), "{reason}"),
            other => panic!("a delta on the wrong base was {other:?}"),
        }
        // The payload's base matches but the document's does not: refused as well.
        let lying = cmd(&store, catalog(CatalogKind::Delta, 13, Some(11), stale));
        assert!(matches!(
            store.apply_link_command(&lying).unwrap().outcome,
            Outcome::Rejected { .. }
        ));
        let old = cmd(
            &store,
            catalog(CatalogKind::Snapshot, 5, None, &sample_at(5)),
        );
        assert!(matches!(
            store.apply_link_command(&old).unwrap().outcome,
            Outcome::Rejected { .. }
        ));
        assert_eq!(store.stats().unwrap().last_seq, last);
        assert_eq!(version(), Some(11));
        drop(store);
        let store = open(dir.path());
        assert_eq!(
            store.apply_link_command(&d).unwrap().outcome,
            Outcome::Applied
        );
        assert_eq!(
            store.reader().catalog().unwrap().map(|c| c.version),
            Some(11)
        );
    }

    #[test]
    fn watermark_only_grows_and_sessions_count_up_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        assert_eq!(store.link_watermark().unwrap(), 0);
        store.set_link_watermark(5).unwrap();
        store.set_link_watermark(3).unwrap();
        assert_eq!(store.link_watermark().unwrap(), 5);
        assert_eq!(store.next_link_session().unwrap(), 1);
        assert_eq!(store.next_link_session().unwrap(), 2);
        drop(store);
        let store = open(dir.path());
        assert_eq!(store.link_watermark().unwrap(), 5);
        assert_eq!(store.next_link_session().unwrap(), 3);
    }
}
