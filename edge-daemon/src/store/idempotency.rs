//! Idempotency records: what a state-changing request answered the first time.
//!
//! A key is scoped to the caller (a token id, or the pairing handshake), so two clients cannot
//! collide. The fingerprint is a hash of the request (method, path, canonical body); the same key
//! with another fingerprint is refused.

use protocol::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StoreError;

/// The longest idempotency key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 255;

/// An idempotency key presented with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemRequest {
    /// Who the key belongs to, for example a token id.
    pub scope: String,
    /// The client's key.
    pub key: String,
    /// SHA-256 of the request, see [`IdemRequest::fingerprint_of`].
    pub fingerprint: [u8; 32],
}

impl IdemRequest {
    /// Hashes the parts of a request that make it "the same request".
    pub fn fingerprint_of(method: &str, path: &str, body: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [method.as_bytes(), path.as_bytes(), body] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }

    /// The key under which the record is stored: scope, a zero byte, key.
    pub fn scoped_key(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.scope.len() + 1 + self.key.len());
        k.extend_from_slice(self.scope.as_bytes());
        k.push(0);
        k.extend_from_slice(self.key.as_bytes());
        k
    }
}

/// What is stored under a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdemRecord {
    pub fingerprint: [u8; 32],
    pub response: Vec<u8>,
    pub at: Timestamp,
}

impl IdemRecord {
    pub(crate) fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    pub(crate) fn decode(raw: &[u8]) -> Result<IdemRecord, StoreError> {
        postcard::from_bytes(raw).map_err(|e| StoreError::Corrupt {
            what: "idempotency record",
            detail: e.to_string(),
        })
    }
}

/// Key of the time index: time (big-endian, sign bit flipped so order holds), then scoped key.
pub(crate) fn time_key(at: Timestamp, scoped: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + scoped.len());
    k.extend_from_slice(&((at.millis() as u64) ^ (1 << 63)).to_be_bytes());
    k.extend_from_slice(scoped);
    k
}

/// The prefix of the time index below which every entry is older than `at`.
pub(crate) fn time_bound(at: Timestamp) -> [u8; 8] {
    ((at.millis() as u64) ^ (1 << 63)).to_be_bytes()
}

/// Layout 1 kept idempotency records without a time index, so they could never expire.
/// Layout 2 adds `idem_by_time`; this step builds it from the records' own times.
pub(crate) fn migrate_v1_to_v2(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    let idem = db.open_tree("idem")?;
    let by_time = db.open_tree("idem_by_time")?;
    let mut batch = sled::Batch::default();
    for item in idem.iter() {
        let (k, v) = item?;
        let rec = IdemRecord::decode(&v)?;
        batch.insert(time_key(rec.at, &k), &[] as &[u8]);
    }
    by_time.apply_batch(batch)?;
    // The version moves only after the index is complete; a crash before this line reruns
    // the step, which rewrites the same keys.
    by_time.flush()?;
    meta.insert(super::META_LAYOUT, &2u32.to_be_bytes())?;
    meta.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_separates_fields() {
        // Moving bytes between method, path and body must change the hash.
        let a = IdemRequest::fingerprint_of("POST", "/v1/ab", b"c");
        let b = IdemRequest::fingerprint_of("POST", "/v1/a", b"bc");
        assert_ne!(a, b);
        assert_eq!(a, IdemRequest::fingerprint_of("POST", "/v1/ab", b"c"));
    }

    #[test]
    fn time_keys_sort_by_time_even_before_the_epoch() {
        let early = time_key(Timestamp(-5), b"x");
        let late = time_key(Timestamp(7), b"a");
        assert!(early < late);
        assert!(time_bound(Timestamp(7)).as_slice() <= late.as_slice());
        assert!(time_bound(Timestamp(8)).as_slice() > late.as_slice());
    }
}
