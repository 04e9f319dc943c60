//! `verify`: rebuild every projection from the journal and compare with what is on disk.

use protocol::Envelope;

use super::projection::{apply, MemView, Proj};
use super::{read_u64, Store, StoreError, META_NEXT_SEQ};

/// The most differences a report lists one by one.
const MAX_LISTED: usize = 50;

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerifyReport {
    /// Journal entries replayed.
    pub events: u64,
    /// Entries per projection tree on disk.
    pub projection_entries: std::collections::BTreeMap<String, u64>,
    /// Problems found, in order; empty means the store is consistent.
    pub problems: Vec<String>,
    /// Problems past [`MAX_LISTED`] that were counted but not listed.
    pub unlisted: u64,
}

impl VerifyReport {
    /// No problem found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, p: String) {
        if self.problems.len() < MAX_LISTED {
            self.problems.push(p);
        } else {
            self.unlisted += 1;
        }
    }
}

impl Store {
    /// Replays the whole journal into memory and compares every projection tree with it;
    /// also checks that sequences are gap-free, that every entry decodes and belongs to this
    /// store, and that the next sequence follows the last entry.
    ///
    /// It holds the writer lock throughout, so that journal and projections are compared at one
    /// point in time: on a running daemon, writes wait until it is done (sled has no snapshots).
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let inner = &*self.inner;
        let _writes_wait = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut report = VerifyReport::default();
        let mut rebuilt = MemView::default();
        let mut expected_seq = 1u64;
        for item in inner.journal.iter() {
            let (k, v) = item?;
            let key_seq = <[u8; 8]>::try_from(k.as_ref()).map(u64::from_be_bytes).ok();
            report.events += 1;
            let env = match Envelope::decode(&v) {
                Ok(env) => env,
                Err(e) => {
                    report.problem(format!(
                        "journal key {}: does not decode: {e}",
                        hex::encode(&k)
                    ));
                    continue;
                }
            };
            if key_seq != Some(env.seq) {
                report.problem(format!(
                    "journal key {} holds seq {}",
                    hex::encode(&k),
                    env.seq
                ));
            }
            if env.seq != expected_seq {
                report.problem(format!(
                    "gap: expected seq {expected_seq}, found {}",
                    env.seq
                ));
            }
            expected_seq = env.seq + 1;
            if env.store != inner.store_id {
                report.problem(format!("seq {}: belongs to store {}", env.seq, env.store));
            }
            if let Err(e) = apply(&mut rebuilt, &env) {
                report.problem(format!("seq {}: cannot apply: {e}", env.seq));
            }
        }
        let next = read_u64(&inner.meta, META_NEXT_SEQ)?.unwrap_or(1);
        if next != expected_seq {
            report.problem(format!(
                "next_seq is {next}, but the journal ends at {}",
                expected_seq - 1
            ));
        }
        // Catalog generations that neither the head nor a snapshot in progress uses are dead:
        // the sweeper deletes them at its own pace, so neither side's copy counts.
        let live = super::catalog::live_gens(&rebuilt).unwrap_or_default();
        let dead = |p: Proj, k: &[u8]| p == Proj::Pos && super::catalog::is_dead(k, &live);
        for p in Proj::ALL {
            let tree = inner.trees.tree(p);
            let empty = Default::default();
            let want = rebuilt.trees.get(&p).unwrap_or(&empty);
            let mut have_count = 0u64;
            for item in tree.iter() {
                let (k, v) = item?;
                if dead(p, &k) {
                    continue;
                }
                have_count += 1;
                match want.get(k.as_ref()) {
                    None => report.problem(format!(
                        "{}: key {} is on disk but not in the journal's replay",
                        p.name(),
                        hex::encode(&k)
                    )),
                    Some(w) if w.as_slice() != v.as_ref() => report.problem(format!(
                        "{}: key {} differs from the journal's replay",
                        p.name(),
                        hex::encode(&k)
                    )),
                    Some(_) => {}
                }
            }
            for k in want.keys() {
                if !dead(p, k) && !tree.contains_key(k)? {
                    report.problem(format!(
                        "{}: key {} is missing on disk",
                        p.name(),
                        hex::encode(k)
                    ));
                }
            }
            report
                .projection_entries
                .insert(p.name().to_owned(), have_count);
        }
        Ok(report)
    }
}
