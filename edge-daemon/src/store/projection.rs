//! Projections: the state the API reads, derived from the journal alone.
//!
//! [`apply`] is the one function that turns an event into projection changes. It runs inside the
//! commit transaction (through [`TxView`]) and, during `verify`, against an in-memory copy
//! ([`MemView`]); both must end in the same bytes.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `tokens` | SHA-256 of the bearer token | [`TokenRecord`] |
//! | `token_ids` | token id (16 bytes) | SHA-256 of the token |
//! | `pairings` | pairing id (16 bytes) | [`PairingRecord`] |
//! | `pairing_codes` | the six-digit code | pairing id of the pending pairing that shows it |
//! | `pos` | see [`super::pos`] | catalog, sales, returns, tills, customers |

use std::collections::BTreeMap;

use protocol::event::Actor;
use protocol::{Envelope, Event, PairingId, Role, Timestamp, TokenId};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sled::transaction::{TransactionalTree, UnabortableTransactionError};

use super::StoreError;

/// The projection trees, by name. The order is the order `verify` reports them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proj {
    Tokens,
    TokenIds,
    Pairings,
    PairingCodes,
    Pos,
}

impl Proj {
    pub const ALL: [Proj; 5] = [
        Proj::Tokens,
        Proj::TokenIds,
        Proj::Pairings,
        Proj::PairingCodes,
        Proj::Pos,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Proj::Tokens => "tokens",
            Proj::TokenIds => "token_ids",
            Proj::Pairings => "pairings",
            Proj::PairingCodes => "pairing_codes",
            Proj::Pos => "pos",
        }
    }
}

/// The open projection trees.
#[derive(Debug, Clone)]
pub struct Trees {
    pub(crate) tokens: sled::Tree,
    pub(crate) token_ids: sled::Tree,
    pub(crate) pairings: sled::Tree,
    pub(crate) pairing_codes: sled::Tree,
    pub(crate) pos: sled::Tree,
}

impl Trees {
    pub(crate) fn open(db: &sled::Db) -> Result<Trees, sled::Error> {
        Ok(Trees {
            tokens: db.open_tree(Proj::Tokens.name())?,
            token_ids: db.open_tree(Proj::TokenIds.name())?,
            pairings: db.open_tree(Proj::Pairings.name())?,
            pairing_codes: db.open_tree(Proj::PairingCodes.name())?,
            pos: db.open_tree(Proj::Pos.name())?,
        })
    }

    pub(crate) fn tree(&self, p: Proj) -> &sled::Tree {
        match p {
            Proj::Tokens => &self.tokens,
            Proj::TokenIds => &self.token_ids,
            Proj::Pairings => &self.pairings,
            Proj::PairingCodes => &self.pairing_codes,
            Proj::Pos => &self.pos,
        }
    }
}

/// A bearer token as the store knows it: never the secret, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: TokenId,
    pub role: Option<Role>,
    pub label: String,
    /// Requests may use it: approved (or issued) and not revoked.
    pub active: bool,
    pub revoked: bool,
    pub created_at: Timestamp,
}

/// Where a pairing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PairingState {
    Pending,
    Approved(Role),
    Rejected,
}

/// One pairing handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingRecord {
    pub id: PairingId,
    pub code: String,
    pub device_name: String,
    pub token_hash: [u8; 32],
    pub requested_at: Timestamp,
    pub expires_at: Timestamp,
    pub state: PairingState,
}

impl PairingRecord {
    /// Pending and not yet expired at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.state == PairingState::Pending && now < self.expires_at
    }
}

/// An event that cannot be applied to the projections as they are.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{event} at seq {seq} refers to unknown {what} {id}")]
    Missing {
        event: &'static str,
        seq: u64,
        what: &'static str,
        id: String,
    },
    #[error("{event} at seq {seq} breaks a business rule: {detail}")]
    Rule {
        event: &'static str,
        seq: u64,
        detail: String,
    },
    #[error("stored {what} does not decode: {detail}")]
    Decode { what: &'static str, detail: String },
}

/// Read and write access to the projection trees, in a transaction or in memory.
pub trait View {
    fn get(&self, p: Proj, key: &[u8]) -> Result<Option<Vec<u8>>, ApplyError>;
    fn put(&mut self, p: Proj, key: &[u8], value: Vec<u8>) -> Result<(), ApplyError>;
    fn del(&mut self, p: Proj, key: &[u8]) -> Result<(), ApplyError>;
    /// The keys of `pos` that start with `prefix`, in order, as this view sees them (its own
    /// writes included). Used by catalog deltas that drop a price book.
    fn pos_keys_with_prefix(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, ApplyError>;
}

/// Keys of `pos` under `prefix` as committed in `base`.
pub(super) fn committed_keys(base: &sled::Tree, prefix: &[u8]) -> Result<Vec<Vec<u8>>, ApplyError> {
    base.scan_prefix(prefix)
        .keys()
        .map(|k| {
            k.map(|k| k.to_vec()).map_err(|e| ApplyError::Decode {
                what: "pos scan",
                detail: e.to_string(),
            })
        })
        .collect()
}

/// `base` (committed keys under `prefix`), with `written` (key → still present) laid over.
pub(super) fn overlay_keys(
    base: Vec<Vec<u8>>,
    written: &BTreeMap<Vec<u8>, bool>,
    prefix: &[u8],
) -> Result<Vec<Vec<u8>>, ApplyError> {
    let mut keys: std::collections::BTreeSet<Vec<u8>> = base.into_iter().collect();
    for (k, present) in written.range(prefix.to_vec()..) {
        if !k.starts_with(prefix) {
            break;
        }
        if *present {
            keys.insert(k.clone());
        } else {
            keys.remove(k);
        }
    }
    Ok(keys.into_iter().collect())
}

pub(super) fn decode<T: DeserializeOwned>(what: &'static str, raw: &[u8]) -> Result<T, ApplyError> {
    postcard::from_bytes(raw).map_err(|e| ApplyError::Decode {
        what,
        detail: e.to_string(),
    })
}

pub(super) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).unwrap_or_default()
}

pub(super) fn load<T: DeserializeOwned>(
    v: &impl View,
    p: Proj,
    key: &[u8],
) -> Result<Option<T>, ApplyError> {
    v.get(p, key)?.map(|raw| decode(p.name(), &raw)).transpose()
}

/// Applies one event to the projections.
pub fn apply(v: &mut impl View, env: &Envelope) -> Result<(), ApplyError> {
    let missing = |what: &'static str, id: String| ApplyError::Missing {
        event: env.event.kind(),
        seq: env.seq,
        what,
        id,
    };
    match &env.event {
        Event::PairingRequested {
            pairing,
            code,
            device_name,
            token_hash,
            expires_at,
        } => {
            let rec = PairingRecord {
                id: *pairing,
                code: code.clone(),
                device_name: device_name.clone(),
                token_hash: *token_hash,
                requested_at: env.at,
                expires_at: *expires_at,
                state: PairingState::Pending,
            };
            v.put(Proj::Pairings, pairing.as_bytes(), encode(&rec))?;
            v.put(
                Proj::PairingCodes,
                code.as_bytes(),
                pairing.as_bytes().to_vec(),
            )?;
            let token = TokenRecord {
                id: TokenId::from(*pairing),
                role: None,
                label: device_name.clone(),
                active: false,
                revoked: false,
                created_at: env.at,
            };
            v.put(Proj::Tokens, token_hash, encode(&token))?;
            v.put(Proj::TokenIds, token.id.as_bytes(), token_hash.to_vec())?;
        }
        Event::PairingApproved {
            pairing,
            role,
            by: _,
        } => {
            let mut rec: PairingRecord = load(v, Proj::Pairings, pairing.as_bytes())?
                .ok_or_else(|| missing("pairing", pairing.to_string()))?;
            rec.state = PairingState::Approved(*role);
            release_code(v, &rec)?;
            v.put(Proj::Pairings, pairing.as_bytes(), encode(&rec))?;
            let mut token: TokenRecord = load(v, Proj::Tokens, &rec.token_hash)?
                .ok_or_else(|| missing("token", pairing.to_string()))?;
            token.role = Some(*role);
            token.active = !token.revoked;
            v.put(Proj::Tokens, &rec.token_hash, encode(&token))?;
        }
        Event::PairingRejected { pairing, by: _ } => {
            let mut rec: PairingRecord = load(v, Proj::Pairings, pairing.as_bytes())?
                .ok_or_else(|| missing("pairing", pairing.to_string()))?;
            rec.state = PairingState::Rejected;
            release_code(v, &rec)?;
            v.put(Proj::Pairings, pairing.as_bytes(), encode(&rec))?;
        }
        Event::TokenIssued {
            token,
            role,
            label,
            token_hash,
            by: _,
        } => {
            let rec = TokenRecord {
                id: *token,
                role: Some(*role),
                label: label.clone(),
                active: true,
                revoked: false,
                created_at: env.at,
            };
            v.put(Proj::Tokens, token_hash, encode(&rec))?;
            v.put(Proj::TokenIds, token.as_bytes(), token_hash.to_vec())?;
        }
        Event::CatalogLoaded { .. }
        | Event::CatalogPartLoaded { .. }
        | Event::CouponUsageReported { .. }
        | Event::SaleOpened { .. }
        | Event::SaleChanged { .. }
        | Event::SaleCompleted { .. }
        | Event::SaleVoided { .. }
        | Event::ReturnCompleted { .. }
        | Event::TillOpened { .. }
        | Event::TillMovement { .. }
        | Event::TillClosed { .. }
        | Event::CustomerSaved { .. }
        | Event::CustomerErased { .. }
        | Event::ReceiptEmailRequested { .. }
        | Event::SaleCompletedV2 { .. }
        | Event::ReturnCompletedV2 { .. }
        | Event::ExchangeCompleted { .. }
        | Event::ReturnWithoutReceipt { .. } => super::pos::apply(v, env)?,
        // Carried to the cloud through the journal; nothing on the box reads it back.
        Event::UpdateReported { .. } => {}
        Event::TokenRevoked { token, by: _ } => {
            let hash = v
                .get(Proj::TokenIds, token.as_bytes())?
                .ok_or_else(|| missing("token", token.to_string()))?;
            let mut rec: TokenRecord =
                load(v, Proj::Tokens, &hash)?.ok_or_else(|| missing("token", token.to_string()))?;
            rec.revoked = true;
            rec.active = false;
            v.put(Proj::Tokens, &hash, encode(&rec))?;
        }
    }
    Ok(())
}

/// Frees a pairing's code, unless a newer pending pairing already shows the same code.
fn release_code(v: &mut impl View, rec: &PairingRecord) -> Result<(), ApplyError> {
    if v.get(Proj::PairingCodes, rec.code.as_bytes())?.as_deref() == Some(rec.id.as_bytes()) {
        v.del(Proj::PairingCodes, rec.code.as_bytes())?;
    }
    Ok(())
}

/// The projection trees inside a sled transaction.
pub(crate) struct TxView<'a> {
    pub(crate) tokens: &'a TransactionalTree,
    pub(crate) token_ids: &'a TransactionalTree,
    pub(crate) pairings: &'a TransactionalTree,
    pub(crate) pairing_codes: &'a TransactionalTree,
    pub(crate) pos: &'a TransactionalTree,
    /// Keys of `pos` as committed, by prefix, read before the transaction began: a sled
    /// transaction can neither scan nor read its trees from outside without deadlocking, so the
    /// commit reads what the events will scan ([`super::catalog::scan_prefixes`]) first. Sound
    /// because one writer holds the store's lock from decision to commit.
    pub(crate) pos_scans: &'a BTreeMap<Vec<u8>, Vec<Vec<u8>>>,
    /// Keys of `pos` this transaction wrote (`true`) or removed (`false`).
    pub(crate) pos_written: &'a mut BTreeMap<Vec<u8>, bool>,
}

impl TxView<'_> {
    fn tree(&self, p: Proj) -> &TransactionalTree {
        match p {
            Proj::Tokens => self.tokens,
            Proj::TokenIds => self.token_ids,
            Proj::Pairings => self.pairings,
            Proj::PairingCodes => self.pairing_codes,
            Proj::Pos => self.pos,
        }
    }
}

fn tx_err(e: UnabortableTransactionError) -> ApplyError {
    ApplyError::Decode {
        what: "transaction",
        detail: e.to_string(),
    }
}

impl View for TxView<'_> {
    fn get(&self, p: Proj, key: &[u8]) -> Result<Option<Vec<u8>>, ApplyError> {
        Ok(self.tree(p).get(key).map_err(tx_err)?.map(|v| v.to_vec()))
    }
    fn put(&mut self, p: Proj, key: &[u8], value: Vec<u8>) -> Result<(), ApplyError> {
        self.tree(p).insert(key, value).map_err(tx_err)?;
        if p == Proj::Pos {
            self.pos_written.insert(key.to_vec(), true);
        }
        Ok(())
    }
    fn del(&mut self, p: Proj, key: &[u8]) -> Result<(), ApplyError> {
        self.tree(p).remove(key).map_err(tx_err)?;
        if p == Proj::Pos {
            self.pos_written.insert(key.to_vec(), false);
        }
        Ok(())
    }
    fn pos_keys_with_prefix(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, ApplyError> {
        let base = self
            .pos_scans
            .get(prefix)
            .ok_or_else(|| ApplyError::Decode {
                what: "pos scan",
                detail: format!(
                    "prefix {} was not read before the commit",
                    hex::encode(prefix)
                ),
            })?;
        overlay_keys(base.clone(), self.pos_written, prefix)
    }
}

/// The committed `pos` tree with writes kept in memory: lets a caller run [`apply`]'s catalog
/// rules on a document without writing anything (a dry run before the real commit).
pub(crate) struct PosOverlay<'a> {
    pub(crate) base: &'a sled::Tree,
    pub(crate) values: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    pub(crate) written: BTreeMap<Vec<u8>, bool>,
}

impl<'a> PosOverlay<'a> {
    pub(crate) fn new(base: &'a sled::Tree) -> PosOverlay<'a> {
        PosOverlay {
            base,
            values: BTreeMap::new(),
            written: BTreeMap::new(),
        }
    }
}

fn only_pos(p: Proj) -> Result<(), ApplyError> {
    match p {
        Proj::Pos => Ok(()),
        other => Err(ApplyError::Decode {
            what: "pos overlay",
            detail: format!("tree {} is not part of a dry run", other.name()),
        }),
    }
}

impl View for PosOverlay<'_> {
    fn get(&self, p: Proj, key: &[u8]) -> Result<Option<Vec<u8>>, ApplyError> {
        only_pos(p)?;
        match self.values.get(key) {
            Some(v) => Ok(v.clone()),
            None => self
                .base
                .get(key)
                .map(|v| v.map(|v| v.to_vec()))
                .map_err(|e| ApplyError::Decode {
                    what: "pos",
                    detail: e.to_string(),
                }),
        }
    }
    fn put(&mut self, p: Proj, key: &[u8], value: Vec<u8>) -> Result<(), ApplyError> {
        only_pos(p)?;
        self.values.insert(key.to_vec(), Some(value));
        self.written.insert(key.to_vec(), true);
        Ok(())
    }
    fn del(&mut self, p: Proj, key: &[u8]) -> Result<(), ApplyError> {
        only_pos(p)?;
        self.values.insert(key.to_vec(), None);
        self.written.insert(key.to_vec(), false);
        Ok(())
    }
    fn pos_keys_with_prefix(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, ApplyError> {
        overlay_keys(committed_keys(self.base, prefix)?, &self.written, prefix)
    }
}

/// Projections held in memory, for `verify` and for tests of [`apply`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MemView {
    pub trees: BTreeMap<Proj, BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl View for MemView {
    fn get(&self, p: Proj, key: &[u8]) -> Result<Option<Vec<u8>>, ApplyError> {
        Ok(self.trees.get(&p).and_then(|t| t.get(key)).cloned())
    }
    fn put(&mut self, p: Proj, key: &[u8], value: Vec<u8>) -> Result<(), ApplyError> {
        self.trees.entry(p).or_default().insert(key.to_vec(), value);
        Ok(())
    }
    fn del(&mut self, p: Proj, key: &[u8]) -> Result<(), ApplyError> {
        if let Some(t) = self.trees.get_mut(&p) {
            t.remove(key);
        }
        Ok(())
    }
    fn pos_keys_with_prefix(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, ApplyError> {
        Ok(self
            .trees
            .get(&Proj::Pos)
            .map(|t| {
                t.range(prefix.to_vec()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// Typed reads of the projections, for the API and for decisions inside [`super::Store::write`].
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    trees: &'a Trees,
}

pub(super) fn read<T: DeserializeOwned>(
    tree: &sled::Tree,
    what: &'static str,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    match tree.get(key)? {
        None => Ok(None),
        Some(raw) => postcard::from_bytes(&raw)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                what,
                detail: e.to_string(),
            }),
    }
}

impl<'a> Reader<'a> {
    pub(crate) fn new(trees: &'a Trees) -> Reader<'a> {
        Reader { trees }
    }

    pub(crate) fn trees(&self) -> &'a Trees {
        self.trees
    }

    /// The token whose SHA-256 is `hash`.
    pub fn token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        read(&self.trees.tokens, "token", hash)
    }

    /// The token with this id.
    pub fn token_by_id(&self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        match self.trees.token_ids.get(id.as_bytes())? {
            None => Ok(None),
            Some(hash) => read(&self.trees.tokens, "token", &hash),
        }
    }

    /// Every token that has a role (issued, or from an approved pairing).
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.trees.tokens.iter() {
            let (_, raw) = item?;
            let rec: TokenRecord = postcard::from_bytes(&raw).map_err(|e| StoreError::Corrupt {
                what: "token",
                detail: e.to_string(),
            })?;
            if rec.role.is_some() {
                out.push(rec);
            }
        }
        out.sort_by_key(|t| (t.created_at, t.id));
        Ok(out)
    }

    /// The pairing with this id.
    pub fn pairing(&self, id: PairingId) -> Result<Option<PairingRecord>, StoreError> {
        read(&self.trees.pairings, "pairing", id.as_bytes())
    }

    /// The pending pairing that shows `code`, if any (it may have expired).
    pub fn pairing_by_code(&self, code: &str) -> Result<Option<PairingRecord>, StoreError> {
        match self.trees.pairing_codes.get(code.as_bytes())? {
            None => Ok(None),
            Some(id) => read(&self.trees.pairings, "pairing", &id),
        }
    }

    /// Pairings still open at `now`, oldest first.
    pub fn open_pairings(&self, now: Timestamp) -> Result<Vec<PairingRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.trees.pairing_codes.iter() {
            let (_, id) = item?;
            if let Some(rec) = read::<PairingRecord>(&self.trees.pairings, "pairing", &id)? {
                if rec.is_open(now) {
                    out.push(rec);
                }
            }
        }
        out.sort_by_key(|p| (p.requested_at, p.id));
        Ok(out)
    }
}

/// Who did it, for the JSON views.
pub fn actor_label(a: &Actor) -> String {
    match a {
        Actor::Token(t) => format!("token:{t}"),
        Actor::Admin => "admin".to_owned(),
        Actor::Device => "device".to_owned(),
    }
}
