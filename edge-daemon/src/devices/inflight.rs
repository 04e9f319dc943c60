//! Per-key guards for device actions that cannot be undone (opening a drawer, raw bytes).
//!
//! A device action looks its idempotency key up, acts, then records the key. Two requests with
//! the same key racing each other would both find nothing and both act: the drawer would open
//! twice. [`InFlight::enter`] serialises requests per key, so a retry that races the first
//! request waits for it and then finds its record and replays it. Requests with other keys are
//! not held up.
//!
//! An entry lives in the map only while some request holds or waits for its key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

type Entries = Arc<Mutex<HashMap<String, Arc<AsyncMutex<()>>>>>;

/// The keys of device actions in progress.
#[derive(Debug, Clone, Default)]
pub struct InFlight {
    entries: Entries,
}

/// Held while a request with a key acts; the next request with the key proceeds when it drops.
#[derive(Debug)]
pub struct Entered {
    entries: Entries,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl InFlight {
    /// Waits until no other request holds `key` (scope and client key), then holds it.
    pub async fn enter(&self, key: String) -> Entered {
        let lock = {
            let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key.clone()).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        Entered {
            entries: self.entries.clone(),
            key,
            guard: Some(guard),
        }
    }

    /// How many keys are held or awaited.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no key is held or awaited.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        drop(self.guard.take());
        // Waiters took their handle under the map's lock: one handle left means nobody waits.
        if map
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn a_second_request_with_the_key_waits_for_the_first() {
        let inflight = InFlight::default();
        let acted = Arc::new(AtomicU32::new(0));
        let first = inflight.enter("token:a\0k1".into()).await;
        let (f2, a2) = (inflight.clone(), acted.clone());
        let second = tokio::spawn(async move {
            let _held = f2.enter("token:a\0k1".into()).await;
            a2.load(Ordering::SeqCst)
        });
        // Another key is not held up.
        let other = inflight.enter("token:a\0k2".into()).await;
        drop(other);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!second.is_finished(), "the retry did not wait");
        acted.store(1, Ordering::SeqCst);
        drop(first);
        assert_eq!(
            second.await.unwrap(),
            1,
            "the retry ran before the first finished"
        );
        assert!(inflight.is_empty(), "entries left behind");
    }
}
