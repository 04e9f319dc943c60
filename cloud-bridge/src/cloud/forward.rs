//! Per-store ordering for the cloud end: deduplicate by `(store, seq)`, hold back events after
//! a gap until the gap is filled, and ask the store to resend when a gap stays open.
//!
//! Pure state, no I/O: the consumer offers decoded envelopes, takes the ready ones in order,
//! hands them to the sink, and reports them forwarded once the sink accepted them.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use protocol::link::Ack;
use protocol::{Envelope, StoreId};

/// What happened to an offered envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Already forwarded or already queued: dropped.
    Duplicate,
    /// Next in order: queued for the sink (with any held events it unblocked).
    Ready,
    /// After a gap: held until the gap is filled.
    Held,
    /// After a gap, and the hold-back buffer is full: dropped (the store sends it again).
    Dropped,
    /// The store is parked after the sink refused one of its events: dropped.
    Parked,
}

#[derive(Debug, Default)]
struct StoreState {
    /// Highest sequence the sink accepted.
    forwarded: u64,
    /// Next sequence expected (forwarded + queued + 1).
    next: u64,
    held: BTreeMap<u64, Envelope>,
    gap_since: Option<Instant>,
    last_resend: Option<Instant>,
    /// The sink refused an event for good: nothing more is forwarded or acknowledged.
    parked: bool,
}

/// Ordering state of every store seen.
#[derive(Debug)]
pub struct Forwarder {
    stores: HashMap<StoreId, StoreState>,
    ready: Vec<Envelope>,
    max_held: usize,
    gap_timeout: Duration,
}

impl Forwarder {
    /// Starts from what the sink already holds.
    pub fn new(recovered: HashMap<StoreId, u64>, max_held: usize, gap_timeout: Duration) -> Self {
        let stores = recovered
            .into_iter()
            .map(|(s, seq)| {
                let st = StoreState {
                    forwarded: seq,
                    next: seq + 1,
                    ..StoreState::default()
                };
                (s, st)
            })
            .collect();
        Forwarder {
            stores,
            ready: Vec::new(),
            max_held,
            gap_timeout,
        }
    }

    fn state(&mut self, store: &StoreId) -> &mut StoreState {
        self.stores
            .entry(store.clone())
            .or_insert_with(|| StoreState {
                next: 1,
                ..StoreState::default()
            })
    }

    /// Offers one envelope received at `now`.
    pub fn offer(&mut self, env: Envelope, now: Instant) -> Verdict {
        let max_held = self.max_held;
        let st = self.state(&env.store);
        if st.parked {
            return Verdict::Parked;
        }
        if env.seq < st.next || st.held.contains_key(&env.seq) {
            return Verdict::Duplicate;
        }
        if env.seq > st.next {
            if st.held.len() >= max_held {
                return Verdict::Dropped;
            }
            st.held.insert(env.seq, env);
            st.gap_since.get_or_insert(now);
            return Verdict::Held;
        }
        st.next += 1;
        let mut unblocked = Vec::new();
        while let Some(e) = st.held.remove(&st.next) {
            st.next += 1;
            unblocked.push(e);
        }
        st.gap_since = if st.held.is_empty() { None } else { Some(now) };
        self.ready.push(env);
        self.ready.extend(unblocked);
        Verdict::Ready
    }

    /// The events ready for the sink, in order per store.
    pub fn take_ready(&mut self) -> Vec<Envelope> {
        std::mem::take(&mut self.ready)
    }

    /// Records that the sink accepted `batch`; returns the acknowledgements to publish.
    pub fn forwarded(&mut self, batch: &[Envelope]) -> Vec<Ack> {
        let mut touched: Vec<StoreId> = Vec::new();
        for env in batch {
            let st = self.state(&env.store);
            st.forwarded = st.forwarded.max(env.seq);
            if !touched.contains(&env.store) {
                touched.push(env.store.clone());
            }
        }
        touched.into_iter().map(|s| self.ack(&s, false)).collect()
    }

    /// Parks `store` after the sink refused one of its events for good: what was queued after
    /// the watermark is forgotten, nothing more is forwarded and no resend is asked for. The
    /// store keeps its backlog until the cloud end restarts (after the OMS is fixed).
    pub fn park(&mut self, store: &StoreId) {
        let st = self.state(store);
        st.parked = true;
        st.next = st.forwarded + 1;
        st.held.clear();
        st.gap_since = None;
    }

    /// Stores parked by [`Forwarder::park`].
    pub fn parked(&self) -> usize {
        self.stores.values().filter(|s| s.parked).count()
    }

    /// The acknowledgement of `store` as it stands.
    pub fn ack(&mut self, store: &StoreId, resend: bool) -> Ack {
        Ack {
            store: store.clone(),
            watermark: self.state(store).forwarded,
            resend,
        }
    }

    /// Resend requests for gaps open longer than the timeout (at most one per timeout each).
    pub fn resend_requests(&mut self, now: Instant) -> Vec<Ack> {
        let timeout = self.gap_timeout;
        let mut due = Vec::new();
        for (store, st) in &mut self.stores {
            let open_long = st
                .gap_since
                .is_some_and(|t| now.duration_since(t) >= timeout);
            let quiet = st
                .last_resend
                .is_none_or(|t| now.duration_since(t) >= timeout);
            if open_long && quiet {
                st.last_resend = Some(now);
                due.push(store.clone());
            }
        }
        due.into_iter().map(|s| self.ack(&s, true)).collect()
    }

    /// Highest forwarded sequence per store, for the state file and metrics.
    pub fn watermarks(&self) -> HashMap<StoreId, u64> {
        self.stores
            .iter()
            .map(|(s, st)| (s.clone(), st.forwarded))
            .collect()
    }

    /// Events held back behind gaps, all stores together.
    pub fn held(&self) -> usize {
        self.stores.values().map(|s| s.held.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::event::Actor;
    use protocol::{Event, EventId, Timestamp, TokenId};

    fn env(store: &str, seq: u64) -> Envelope {
        Envelope {
            store: StoreId::new(store).unwrap(),
            seq,
            id: EventId::random(),
            at: Timestamp(0),
            event: Event::TokenRevoked {
                token: TokenId::random(),
                by: Actor::Admin,
            },
        }
    }

    fn seqs(v: &[Envelope]) -> Vec<u64> {
        v.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn duplicates_are_dropped_and_gaps_held_until_filled() {
        let t = Instant::now();
        let mut f = Forwarder::new(HashMap::new(), 10, Duration::from_secs(1));
        assert_eq!(f.offer(env("a", 1), t), Verdict::Ready);
        assert_eq!(f.offer(env("a", 1), t), Verdict::Duplicate);
        assert_eq!(f.offer(env("a", 3), t), Verdict::Held);
        assert_eq!(f.offer(env("a", 3), t), Verdict::Duplicate);
        assert_eq!(f.offer(env("b", 1), t), Verdict::Ready);
        assert_eq!(seqs(&f.take_ready()), vec![1, 1]);
        assert_eq!(f.held(), 1);
        assert_eq!(f.offer(env("a", 2), t), Verdict::Ready);
        let batch = f.take_ready();
        assert_eq!(seqs(&batch), vec![2, 3]);
        let acks = f.forwarded(&batch);
        assert_eq!(acks.len(), 1);
        assert_eq!((acks[0].watermark, acks[0].resend), (3, false));
        assert_eq!(f.held(), 0);
    }

    #[test]
    fn a_parked_store_forwards_and_asks_nothing_while_others_go_on() {
        let t = Instant::now();
        let a = StoreId::new("a").unwrap();
        let mut f = Forwarder::new(HashMap::new(), 10, Duration::from_secs(1));
        for seq in 1..=3 {
            f.offer(env("a", seq), t);
        }
        f.offer(env("a", 5), t);
        let batch = f.take_ready();
        // The sink took 1 and refused 2.
        f.forwarded(&batch[..1]);
        f.park(&a);
        assert_eq!((f.parked(), f.held()), (1, 0));
        assert_eq!(f.offer(env("a", 2), t), Verdict::Parked);
        assert_eq!(f.offer(env("b", 1), t), Verdict::Ready);
        assert!(f.resend_requests(t + Duration::from_secs(5)).is_empty());
        assert_eq!(f.ack(&a, false).watermark, 1);
    }

    #[test]
    fn recovery_skips_what_the_sink_has() {
        let s = StoreId::new("a").unwrap();
        let mut f = Forwarder::new([(s.clone(), 5)].into(), 10, Duration::from_secs(1));
        assert_eq!(f.offer(env("a", 5), Instant::now()), Verdict::Duplicate);
        assert_eq!(f.offer(env("a", 6), Instant::now()), Verdict::Ready);
        assert_eq!(f.ack(&s, false).watermark, 5);
    }

    #[test]
    fn an_open_gap_asks_for_a_resend_once_per_timeout_and_the_buffer_is_bounded() {
        let t = Instant::now();
        let mut f = Forwarder::new(HashMap::new(), 2, Duration::from_secs(1));
        f.offer(env("a", 1), t);
        let ready = f.take_ready();
        f.forwarded(&ready);
        assert_eq!(f.offer(env("a", 3), t), Verdict::Held);
        assert_eq!(f.offer(env("a", 4), t), Verdict::Held);
        assert_eq!(f.offer(env("a", 5), t), Verdict::Dropped);
        assert!(f.resend_requests(t).is_empty());
        let later = t + Duration::from_secs(1);
        let r = f.resend_requests(later);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].watermark, r[0].resend), (1, true));
        assert!(f.resend_requests(later).is_empty());
        assert_eq!(f.resend_requests(later + Duration::from_secs(1)).len(), 1);
    }
}
