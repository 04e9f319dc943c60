//! The store: the only code in the workspace that calls sled.
//!
//! # Layout on disk
//! `<data>/sled/` holds one sled database with these trees:
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | `layout_version`, `store_id`, `next_seq` | big-endian integers, UTF-8 |
//! | `journal` | sequence, `u64` big-endian | an encoded [`protocol::Envelope`] |
//! | `idem` | scope, `0x00`, client key | [`idempotency::IdemRecord`], postcard |
//! | `idem_by_time` | time (`i64` BE), scoped key | empty; lets old keys expire in order |
//! | `tokens`, `token_ids`, `pairings`, `pairing_codes` | see [`projection`] | projections |
//! | `link`, `link_commands`, `link_settings` | see [`link`] | the cloud link's state |
//! | `pos` | see [`pos`] | catalog, sales, returns, tills, customers |
//!
//! # Writing
//! [`Store::write`] is the one way to change state. Under the writer lock it checks the
//! idempotency key, lets the caller decide on events against the current projections, and then,
//! in **one sled transaction**, appends the events with gap-free sequence numbers, applies them
//! to the projections and records the idempotency key. Only after a flush that covers the
//! transaction does it return: a returned write is durable. Concurrent writers share flushes
//! through [`group_commit::GroupCommit`], so 64 writers do not cost 64 fsyncs.
//!
//! sled's own flush writes with `sync_file_range`, which does not flush the drive's cache or the
//! file's metadata; the store follows it with `fdatasync` on sled's data file, so that an
//! acknowledged write survives a power cut as well as a crash.

pub mod catalog;
pub mod group_commit;
pub mod idempotency;
pub mod link;
pub mod pos;
pub mod print_queue;
pub mod projection;
pub mod verify;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::{Envelope, Event, EventId, StoreId};

use crate::clock::now;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use self::group_commit::GroupCommit;
pub use self::idempotency::{IdemRecord, IdemRequest};
pub use self::print_queue::{JobState, NewPrintJob, PrintJob};
pub use self::projection::{PairingRecord, PairingState, Reader, TokenRecord};

/// The on-disk layout this build writes. Older layouts are migrated on open; newer are refused.
pub const LAYOUT_VERSION: u32 = 3;

const META_LAYOUT: &[u8] = b"layout_version";
const META_STORE: &[u8] = b"store_id";
const META_NEXT_SEQ: &[u8] = b"next_seq";
const META_NEXT_PRINT_SEQ: &[u8] = b"next_print_seq";

/// sled settings, sized for a small box rather than a share of the database.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// Page cache size in MiB. sled otherwise grows toward the database size.
    pub cache_capacity_mib: u64,
    /// How long an idempotency key is remembered, in hours.
    pub idempotency_retention_hours: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            cache_capacity_mib: 64,
            idempotency_retention_hours: 168,
        }
    }
}

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database in {path}: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error(
        "the data in {path} has layout version {found}, newer than this build's {LAYOUT_VERSION}; \
         run a newer edge-daemon or restore a backup"
    )]
    FutureLayout { path: PathBuf, found: u32 },
    #[error("the data in {path} belongs to store {found:?}, not {expected:?}")]
    WrongStore {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{path} holds no store yet; start the daemon once to create it")]
    NotInitialised { path: PathBuf },
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("cannot sync {path} to disk: {source}")]
    Sync {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error(
        "a {kind} event encodes to {len} bytes, more than the {max} bytes an envelope may have; \
         nothing was written"
    )]
    EventTooLarge {
        kind: &'static str,
        len: usize,
        max: usize,
    },
}

/// Why a [`Store::write`] did not commit.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<E> {
    /// The caller's decision function refused the request; nothing was written.
    #[error("rejected")]
    Rejected(E),
    /// The idempotency key was used before for a different request.
    #[error("idempotency key reused for a different request")]
    IdempotencyConflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the caller's decision function returns: the events to append and the response to
/// remember under the idempotency key, and print jobs to enqueue in the same transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Planned {
    pub events: Vec<Event>,
    pub response: Vec<u8>,
    pub print_jobs: Vec<NewPrintJob>,
}

/// The result of a successful [`Store::write`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The events were appended; `last_seq` is the sequence of the last one (0 if none).
    Committed { response: Vec<u8>, last_seq: u64 },
    /// The idempotency key was seen before with the same request: its first answer.
    Replayed { response: Vec<u8> },
}

impl WriteOutcome {
    /// The response bytes, whether new or replayed.
    pub fn response(&self) -> &[u8] {
        match self {
            WriteOutcome::Committed { response, .. } | WriteOutcome::Replayed { response } => {
                response
            }
        }
    }
}

/// Counters of the store since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    pub journal_len: u64,
    pub last_seq: u64,
}

/// The store of one box. Cheap to clone; all clones share one database.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    store_id: StoreId,
    db: sled::Db,
    meta: sled::Tree,
    journal: sled::Tree,
    trees: projection::Trees,
    idem: sled::Tree,
    idem_by_time: sled::Tree,
    print_jobs: sled::Tree,
    print_job_ids: sled::Tree,
    /// Serialises writers: decisions see every earlier write, and sequences stay gap-free.
    writer: Mutex<()>,
    flusher: GroupCommit,
    /// sled's data file, synced with fdatasync after sled's own flush.
    data_file: File,
    settings: StoreSettings,
}

impl Store {
    /// Opens (or creates) the store under `data_dir`, migrating an older layout.
    ///
    /// Fails if another process holds the database, if the layout is newer than this build, or
    /// if the data belongs to another store.
    pub fn open(
        data_dir: &Path,
        store_id: &StoreId,
        settings: &StoreSettings,
    ) -> Result<Store, StoreError> {
        Store::open_inner(data_dir, Some(store_id), settings)
    }

    /// Opens an existing store under `data_dir` as whichever store it belongs to (for the
    /// technician's CLI, which may not know the store id).
    pub fn open_existing(data_dir: &Path, settings: &StoreSettings) -> Result<Store, StoreError> {
        let marker = data_dir.join("sled").join("conf");
        if !marker.exists() {
            return Err(StoreError::NotInitialised {
                path: data_dir.to_owned(),
            });
        }
        Store::open_inner(data_dir, None, settings)
    }

    fn open_inner(
        data_dir: &Path,
        want_store: Option<&StoreId>,
        settings: &StoreSettings,
    ) -> Result<Store, StoreError> {
        let path = data_dir.join("sled");
        let db = open_sled(&path, settings).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        let meta = db.open_tree("meta")?;
        let found_store = meta.get(META_STORE)?;
        let store_id =
            match (found_store, want_store) {
                (Some(raw), Some(want)) if raw.as_ref() != want.as_str().as_bytes() => {
                    return Err(StoreError::WrongStore {
                        path,
                        found: String::from_utf8_lossy(&raw).into_owned(),
                        expected: want.to_string(),
                    });
                }
                (Some(raw), _) => StoreId::new(String::from_utf8_lossy(&raw).into_owned())
                    .map_err(|e| StoreError::Corrupt {
                        what: "store id",
                        detail: e.to_string(),
                    })?,
                (None, Some(want)) => {
                    meta.insert(META_STORE, want.as_str().as_bytes())?;
                    want.clone()
                }
                (None, None) => {
                    return Err(StoreError::NotInitialised {
                        path: data_dir.to_owned(),
                    })
                }
            };
        let layout = read_u32(&meta, META_LAYOUT)?;
        match layout {
            Some(v) if v > LAYOUT_VERSION => {
                return Err(StoreError::FutureLayout { path, found: v });
            }
            Some(v) if v < LAYOUT_VERSION => {
                migrate(&db, v)?;
            }
            Some(_) => {}
            None => {
                meta.insert(META_LAYOUT, &LAYOUT_VERSION.to_be_bytes())?;
            }
        }
        db.flush()?;
        let data_file_path = path.join("db");
        let data_file = File::open(&data_file_path).map_err(|source| StoreError::Sync {
            path: data_file_path,
            source,
        })?;
        let inner = Inner {
            journal: db.open_tree("journal")?,
            trees: projection::Trees::open(&db)?,
            idem: db.open_tree("idem")?,
            idem_by_time: db.open_tree("idem_by_time")?,
            print_jobs: db.open_tree("print_jobs")?,
            print_job_ids: db.open_tree("print_job_ids")?,
            meta,
            db,
            path,
            store_id,
            writer: Mutex::new(()),
            flusher: GroupCommit::default(),
            data_file,
            settings: settings.clone(),
        };
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    /// The store this database belongs to.
    pub fn store_id(&self) -> &StoreId {
        &self.inner.store_id
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Read access to the projections.
    pub fn reader(&self) -> Reader<'_> {
        Reader::new(&self.inner.trees)
    }

    /// The one way to change state. See the module docs for the steps.
    ///
    /// `decide` sees the projections as they are after every earlier write and returns the
    /// events to append with the response to remember, or refuses with its own error, in which
    /// case nothing is written.
    pub fn write<E>(
        &self,
        idem: Option<&IdemRequest>,
        decide: impl FnOnce(&Reader<'_>) -> Result<Planned, E>,
    ) -> Result<WriteOutcome, WriteError<E>> {
        let inner = &*self.inner;
        let outcome = {
            let _guard = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(req) = idem {
                if let Some(rec) = self.idem_lookup(req)? {
                    if rec.fingerprint != req.fingerprint {
                        return Err(WriteError::IdempotencyConflict);
                    }
                    // The first answer may still be in flight to disk if its writer crashed
                    // between commit and flush; flushing here keeps "2xx means durable" true.
                    drop(_guard);
                    self.flush()?;
                    return Ok(WriteOutcome::Replayed {
                        response: rec.response,
                    });
                }
            }
            let planned = decide(&self.reader()).map_err(WriteError::Rejected)?;
            self.commit(idem, planned)?
        };
        self.flush()?;
        Ok(outcome)
    }

    /// The record stored under `req`'s key, whatever its fingerprint.
    pub fn idempotency_record(&self, req: &IdemRequest) -> Result<Option<IdemRecord>, StoreError> {
        self.idem_lookup(req)
    }

    fn idem_lookup(&self, req: &IdemRequest) -> Result<Option<IdemRecord>, StoreError> {
        match self.inner.idem.get(req.scoped_key())? {
            Some(raw) => IdemRecord::decode(&raw).map(Some),
            None => Ok(None),
        }
    }

    /// Appends, projects and records the key in one transaction. Caller holds the writer lock.
    fn commit(
        &self,
        idem: Option<&IdemRequest>,
        planned: Planned,
    ) -> Result<WriteOutcome, StoreError> {
        let inner = &*self.inner;
        let at = now();
        let first_seq = read_u64(&inner.meta, META_NEXT_SEQ)?.unwrap_or(1);
        let envelopes: Vec<Envelope> = planned
            .events
            .into_iter()
            .enumerate()
            .map(|(i, event)| Envelope {
                store: inner.store_id.clone(),
                seq: first_seq + i as u64,
                id: EventId::random(),
                at,
                event,
            })
            .collect();
        let encoded: Vec<Vec<u8>> = envelopes.iter().map(Envelope::encode).collect();
        // The decoder refuses bigger envelopes: journaling one would make it unreadable to
        // verify and to the cloud link.
        for (env, bytes) in envelopes.iter().zip(&encoded) {
            if bytes.len() > protocol::envelope::MAX_ENCODED_LEN {
                return Err(StoreError::EventTooLarge {
                    kind: env.event.kind(),
                    len: bytes.len(),
                    max: protocol::envelope::MAX_ENCODED_LEN,
                });
            }
        }
        let next_seq = first_seq + envelopes.len() as u64;
        let idem_value = IdemRecord {
            fingerprint: idem.map(|r| r.fingerprint).unwrap_or_default(),
            response: planned.response.clone(),
            at,
        }
        .encode();
        let first_print_seq = read_u64(&inner.meta, META_NEXT_PRINT_SEQ)?.unwrap_or(1);
        let jobs: Vec<(Vec<u8>, [u8; 8], [u8; 16])> = planned
            .print_jobs
            .into_iter()
            .enumerate()
            .map(|(i, j)| {
                let seq = first_print_seq + i as u64;
                let job = PrintJob {
                    id: j.id,
                    seq,
                    device: j.device,
                    what: j.what,
                    payload: j.payload,
                    state: JobState::Queued,
                    created_at: at,
                    updated_at: at,
                    attempts: 0,
                };
                (
                    print_queue::encode(&job),
                    seq.to_be_bytes(),
                    *j.id.as_bytes(),
                )
            })
            .collect();
        let next_print_seq = first_print_seq + jobs.len() as u64;
        let trees = &inner.trees;
        let mut pos_scans = std::collections::BTreeMap::new();
        for env in &envelopes {
            for prefix in catalog::scan_prefixes(&env.event, &trees.pos)? {
                let keys = projection::committed_keys(&trees.pos, &prefix).map_err(|e| {
                    StoreError::Corrupt {
                        what: "pos",
                        detail: e.to_string(),
                    }
                })?;
                pos_scans.insert(prefix, keys);
            }
        }
        let result: Result<(), TransactionError<StoreError>> = (
            &inner.meta,
            &inner.journal,
            &inner.idem,
            &inner.idem_by_time,
            &trees.tokens,
            &trees.token_ids,
            &trees.pairings,
            &trees.pairing_codes,
            &inner.print_jobs,
            &inner.print_job_ids,
            &trees.pos,
        )
            .transaction(
                |(meta, journal, idem_t, idem_time, tok, tok_ids, pair, codes, pj, pj_ids, pos)| {
                    for (job, seq, id) in &jobs {
                        pj.insert(seq, job.as_slice())?;
                        pj_ids.insert(id, seq)?;
                    }
                    if !jobs.is_empty() {
                        meta.insert(META_NEXT_PRINT_SEQ, &next_print_seq.to_be_bytes())?;
                    }
                    let mut pos_written = std::collections::BTreeMap::new();
                    for (env, bytes) in envelopes.iter().zip(&encoded) {
                        journal.insert(&env.seq.to_be_bytes(), bytes.as_slice())?;
                        let mut view = projection::TxView {
                            tokens: tok,
                            token_ids: tok_ids,
                            pairings: pair,
                            pairing_codes: codes,
                            pos,
                            pos_scans: &pos_scans,
                            pos_written: &mut pos_written,
                        };
                        projection::apply(&mut view, env).map_err(abort_corrupt)?;
                    }
                    meta.insert(META_NEXT_SEQ, &next_seq.to_be_bytes())?;
                    if let Some(req) = idem {
                        let key = req.scoped_key();
                        idem_t.insert(key.as_slice(), idem_value.as_slice())?;
                        idem_time.insert(idempotency::time_key(at, &key), &[] as &[u8])?;
                    }
                    Ok(())
                },
            );
        result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        })?;
        metrics::counter!("journal_events_total").increment(envelopes.len() as u64);
        Ok(WriteOutcome::Committed {
            response: planned.response,
            last_seq: next_seq - 1,
        })
    }

    /// Makes every write committed before this call durable, sharing the flush with any
    /// concurrent callers.
    pub fn flush(&self) -> Result<(), StoreError> {
        let inner = &*self.inner;
        inner.flusher.flush(|| {
            let start = Instant::now();
            inner.db.flush()?;
            inner
                .data_file
                .sync_data()
                .map_err(|source| StoreError::Sync {
                    path: inner.path.join("db"),
                    source,
                })?;
            metrics::histogram!("journal_flush_seconds").record(start.elapsed().as_secs_f64());
            Ok(())
        })
    }

    /// Journal entries with sequence greater than `after`, at most `limit` of them.
    pub fn journal_after(&self, after: u64, limit: usize) -> Result<Vec<Envelope>, StoreError> {
        self.journal_raw_after(after, limit)?
            .into_iter()
            .map(|(_, v)| {
                Envelope::decode(&v).map_err(|e| StoreError::Corrupt {
                    what: "journal entry",
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// Number of journal entries and the last sequence.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let next = read_u64(&self.inner.meta, META_NEXT_SEQ)?.unwrap_or(1);
        Ok(StoreStats {
            journal_len: self.inner.journal.len() as u64,
            last_seq: next - 1,
        })
    }

    /// Forgets idempotency keys older than the retention setting. Returns how many went.
    pub fn expire_idempotency_keys(&self) -> Result<usize, StoreError> {
        let retention_ms =
            (self.inner.settings.idempotency_retention_hours as i64).saturating_mul(3_600_000);
        let cutoff = now().plus_millis(-retention_ms);
        let _guard = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut removed = 0;
        for item in self
            .inner
            .idem_by_time
            .range(..idempotency::time_bound(cutoff))
        {
            let (k, _) = item?;
            let scoped = &k[8..];
            let res: Result<(), TransactionError<()>> =
                (&self.inner.idem, &self.inner.idem_by_time).transaction(|(idem, by_time)| {
                    idem.remove(scoped)?;
                    by_time.remove(k.as_ref())?;
                    Ok(())
                });
            res.map_err(|e| match e {
                TransactionError::Abort(()) => StoreError::Corrupt {
                    what: "idempotency index",
                    detail: "expiry aborted".into(),
                },
                TransactionError::Storage(e) => StoreError::Sled(e),
            })?;
            removed += 1;
        }
        drop(_guard);
        self.flush()?;
        Ok(removed)
    }

    /// Checks the database is readable, for health checks.
    pub fn health(&self) -> Result<(), StoreError> {
        read_u32(&self.inner.meta, META_LAYOUT)?;
        Ok(())
    }
}

fn abort_corrupt(e: projection::ApplyError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(StoreError::Corrupt {
        what: "projection",
        detail: e.to_string(),
    })
}

fn read_u64(tree: &sled::Tree, key: &[u8]) -> Result<Option<u64>, StoreError> {
    match tree.get(key)? {
        None => Ok(None),
        Some(v) => {
            let arr: [u8; 8] = v.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                what: "meta",
                detail: format!(
                    "{} is {} bytes, expected 8",
                    String::from_utf8_lossy(key),
                    v.len()
                ),
            })?;
            Ok(Some(u64::from_be_bytes(arr)))
        }
    }
}

fn read_u32(tree: &sled::Tree, key: &[u8]) -> Result<Option<u32>, StoreError> {
    match tree.get(key)? {
        None => Ok(None),
        Some(v) => {
            let arr: [u8; 4] = v.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                what: "meta",
                detail: format!(
                    "{} is {} bytes, expected 4",
                    String::from_utf8_lossy(key),
                    v.len()
                ),
            })?;
            Ok(Some(u32::from_be_bytes(arr)))
        }
    }
}

/// Brings a layout of version `from` up to [`LAYOUT_VERSION`], one step at a time, each step in
/// its own transaction that also bumps the version.
fn migrate(db: &sled::Db, from: u32) -> Result<(), StoreError> {
    let meta = db.open_tree("meta")?;
    let mut version = from;
    while version < LAYOUT_VERSION {
        match version {
            1 => idempotency::migrate_v1_to_v2(db, &meta)?,
            2 => rebuild_pos_v2_to_v3(db, &meta)?,
            other => {
                return Err(StoreError::Corrupt {
                    what: "layout version",
                    detail: format!("no migration known from version {other}"),
                })
            }
        }
        version += 1;
        tracing::info!(from = version - 1, to = version, "migrated store layout");
    }
    Ok(())
}

/// Layout 3 keeps the catalog per SKU in generations ([`catalog`]), and the other `pos`
/// values changed shape during layout 2 (exchanges, the offline ledger, the sales analysis).
/// This step rebuilds the `pos` tree from the journal, which did not change: every event of
/// layout 2 still decodes and projects.
fn rebuild_pos_v2_to_v3(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    let journal = db.open_tree("journal")?;
    let pos = db.open_tree(projection::Proj::Pos.name())?;
    let mut rebuilt = projection::MemView::default();
    for item in journal.iter() {
        let (_, raw) = item?;
        let env = Envelope::decode(&raw).map_err(|e| StoreError::Corrupt {
            what: "journal",
            detail: e.to_string(),
        })?;
        // Other events leave `pos` alone.
        pos::apply(&mut rebuilt, &env).map_err(|e| StoreError::Corrupt {
            what: "journal replay",
            detail: format!("seq {}: {e}", env.seq),
        })?;
    }
    pos.clear()?;
    let mut batch = sled::Batch::default();
    for (k, v) in rebuilt
        .trees
        .remove(&projection::Proj::Pos)
        .unwrap_or_default()
    {
        batch.insert(k, v);
    }
    pos.apply_batch(batch)?;
    // As in the step before: the version moves only once the tree is complete, and a crash
    // before that reruns the rebuild from the journal.
    pos.flush()?;
    meta.insert(META_LAYOUT, &3u32.to_be_bytes())?;
    meta.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests;

/// How long [`open_sled`] keeps retrying a held file lock. sled 0.34 does not wait for its
/// background I/O thread when the last handle is dropped, and that thread holds the file lock
/// until it ends (a known sled behaviour): a reopen in this process can find the lock still
/// held, once for more than 2 s in CI under load. A restarted daemon can also find its
/// predecessor still exiting.
const LOCK_RETRY: Duration = Duration::from_secs(10);

/// Opens sled with the settings documented in docs/CONFIGURATION.md, retrying a lock that is
/// released within [`LOCK_RETRY`].
fn open_sled(path: &Path, settings: &StoreSettings) -> sled::Result<sled::Db> {
    let config = sled::Config::new()
        .path(path)
        .cache_capacity(settings.cache_capacity_mib.saturating_mul(1024 * 1024))
        // sled is built without its zstd feature: pages are stored uncompressed.
        .use_compression(false)
        .mode(sled::Mode::LowSpace)
        // Durability comes from explicit flushes at commit, never from a timer.
        .flush_every_ms(None);
    let deadline = Instant::now() + LOCK_RETRY;
    loop {
        match config.open() {
            Err(sled::Error::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}
