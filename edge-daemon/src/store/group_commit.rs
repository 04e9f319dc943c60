//! Group commit: concurrent writers share one flush.
//!
//! A writer that has committed its transaction takes a ticket and asks for a flush. If no flush
//! is running, it runs one on behalf of every ticket issued so far; otherwise it waits for the
//! running flush, and then for the next one if its ticket came too late for the running one.
//! A flush started after a ticket was issued covers that ticket's transaction, because the
//! transaction was committed before the ticket was taken.

use std::sync::{Condvar, Mutex};

#[derive(Debug, Default)]
struct State {
    /// Tickets handed out so far.
    issued: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    /// A flush is running.
    flushing: bool,
}

/// Coordinates flushes between threads. See the module docs.
#[derive(Debug, Default)]
pub struct GroupCommit {
    state: Mutex<State>,
    done: Condvar,
}

impl GroupCommit {
    /// Returns once a flush that began after this call has finished. `flush` runs on at most
    /// one thread at a time; when it fails, every writer whose ticket it covered gets the error
    /// of its own retry.
    pub fn flush<E>(&self, flush: impl Fn() -> Result<(), E>) -> Result<(), E> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.issued += 1;
        let ticket = st.issued;
        loop {
            if st.durable >= ticket {
                return Ok(());
            }
            if !st.flushing {
                st.flushing = true;
                let target = st.issued;
                // Only one flush runs at a time, so `durable` cannot move until it ends.
                let covered = target - st.durable;
                drop(st);
                let result = flush();
                st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                st.flushing = false;
                if result.is_ok() {
                    st.durable = st.durable.max(target);
                    metrics::histogram!("journal_group_size").record(covered as f64);
                }
                self.done.notify_all();
                result?;
                continue;
            }
            st = self.done.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Barrier};

    #[test]
    fn one_writer_flushes_once_per_call() {
        let gc = GroupCommit::default();
        let flushes = AtomicU64::new(0);
        for _ in 0..5 {
            gc.flush(|| {
                flushes.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(())
            })
            .unwrap();
        }
        assert_eq!(flushes.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn concurrent_writers_share_flushes_and_each_waits_for_a_covering_flush() {
        let gc = Arc::new(GroupCommit::default());
        // `written` counts commits; a flush records how many commits it covered.
        let written = Arc::new(AtomicU64::new(0));
        let flushed_upto = Arc::new(AtomicU64::new(0));
        let flushes = Arc::new(AtomicU64::new(0));
        let threads = 32;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (gc, written, flushed_upto, flushes, barrier) = (
                    gc.clone(),
                    written.clone(),
                    flushed_upto.clone(),
                    flushes.clone(),
                    barrier.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..20 {
                        let mine = written.fetch_add(1, Ordering::SeqCst) + 1;
                        gc.flush(|| {
                            let upto = written.load(Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_micros(300));
                            flushes.fetch_add(1, Ordering::SeqCst);
                            flushed_upto.fetch_max(upto, Ordering::SeqCst);
                            Ok::<_, ()>(())
                        })
                        .unwrap();
                        // Our commit must be covered by a finished flush.
                        assert!(flushed_upto.load(Ordering::SeqCst) >= mine);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let total = flushes.load(Ordering::SeqCst);
        assert!(
            total < (threads * 20) as u64,
            "no sharing: {total} flushes for 640 commits"
        );
    }

    #[test]
    fn a_failed_flush_reports_the_error_and_a_later_one_succeeds() {
        let gc = GroupCommit::default();
        assert_eq!(gc.flush(|| Err::<(), _>("disk gone")), Err("disk gone"));
        assert_eq!(gc.flush(|| Ok::<_, &str>(())), Ok(()));
    }
}
