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
//! | `link_settings` | `catalog/VERSION` (8 bytes BE) | the payload's JSON text |
//!
//! A command is applied in **one sled transaction** over `link_commands` and `link_settings`
//! that also records its id, then flushed before its result is published: a repeated id gets
//! the recorded result and changes nothing.

use protocol::command::{CatalogKind, CatalogPayload, Command, CommandBody, CommandResult};
use protocol::command::{Module, Outcome};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use super::{read_u64, Store, StoreError};
use crate::clock::now;

const WATERMARK: &[u8] = b"watermark";
const SESSION: &[u8] = b"session";
const CATALOG_VERSION: &[u8] = b"catalog_version";
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
        CommandBody::Catalog(payload) => {
            let current = match sets.get(CATALOG_VERSION)? {
                Some(v) => <[u8; 8]>::try_from(v.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(|_| {
                        ConflictableTransactionError::Abort(corrupt(
                            "catalog version",
                            "not 8 bytes",
                        ))
                    })?,
                None => 0,
            };
            if let Err(why) = check_catalog(payload, current) {
                return Ok(Err(why));
            }
            let mut key = b"catalog/".to_vec();
            key.extend_from_slice(&payload.version.to_be_bytes());
            sets.insert(key, payload.json.as_bytes())?;
            sets.insert(CATALOG_VERSION, &payload.version.to_be_bytes())?;
            Ok(Ok(()))
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

fn check_catalog(p: &CatalogPayload, current: u64) -> Result<(), String> {
    if serde_json::from_str::<serde_json::Value>(&p.json).is_err() {
        return Err("catalog payload is not JSON".into());
    }
    match p.kind {
        CatalogKind::Snapshot if p.version <= current => Err(format!(
            "snapshot version {} is not newer than the current catalog version {current}",
            p.version
        )),
        CatalogKind::Delta if p.base_version != Some(current) => Err(format!(
            "delta applies to version {:?}, but the current catalog version is {current}",
            p.base_version
        )),
        CatalogKind::Delta if p.version <= current => Err(format!(
            "delta version {} is not newer than its base {current}",
            p.version
        )),
        _ => Ok(()),
    }
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

        let ok = cmd(&store, catalog(CatalogKind::Snapshot, 3, None, "{}"));
        assert_eq!(
            store.apply_link_command(&ok).unwrap().outcome,
            Outcome::Applied
        );
        let delta = cmd(&store, catalog(CatalogKind::Delta, 4, Some(3), "{}"));
        assert_eq!(
            store.apply_link_command(&delta).unwrap().outcome,
            Outcome::Applied
        );
        let stale = cmd(&store, catalog(CatalogKind::Delta, 5, Some(3), "{}"));
        assert!(matches!(
            store.apply_link_command(&stale).unwrap().outcome,
            Outcome::Rejected { .. }
        ));
        assert_eq!(store.link_catalog_version().unwrap(), 4);
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
