//! Read aggregation per EPC.
//!
//! A reader reports the same tag many times. [`Aggregator`] folds reads into one
//! [`TagAggregate`] per EPC: first and last seen, read count (the sum of TagSeenCount), peak
//! RSSI and the antenna that saw it (for "strongest antenna wins" zone hints). Reads are only
//! counted, never deduplicated away: a cycle count is the set of keys.
//!
//! Two ways to take results out: [`Aggregator::flush`] drains everything (end of a cycle
//! count), and a window ([`Aggregator::with_window`], [`Aggregator::take_window`]) drains at a
//! fixed period measured on the reads' own timestamps, which keeps the aggregator
//! deterministic and independent of wall-clock scheduling.

use std::collections::HashMap;

use super::llrp::TagReport;

/// What is known about one EPC over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagAggregate {
    /// EPC bytes.
    pub epc: Vec<u8>,
    /// Earliest first-seen timestamp, µs.
    pub first_seen_us: u64,
    /// Latest last-seen timestamp, µs.
    pub last_seen_us: u64,
    /// Reads: the sum of TagSeenCount (1 for a report without it).
    pub count: u64,
    /// Strongest PeakRSSI in dBm, if any report carried one.
    pub peak_rssi: Option<i8>,
    /// Antenna of the strongest read (the first one on a tie).
    pub peak_antenna: Option<u16>,
}

/// Folds tag reports into one [`TagAggregate`] per EPC.
#[derive(Debug, Default)]
pub struct Aggregator {
    tags: HashMap<Vec<u8>, TagAggregate>,
    window_us: Option<u64>,
    window_start_us: Option<u64>,
}

impl Aggregator {
    /// An aggregator without a window: drain it with [`Aggregator::flush`].
    pub fn new() -> Self {
        Aggregator::default()
    }

    /// An aggregator whose [`Aggregator::take_window`] drains every `window_us` microseconds.
    pub fn with_window(window_us: u64) -> Self {
        Aggregator {
            window_us: Some(window_us.max(1)),
            ..Aggregator::default()
        }
    }

    /// Adds one report. Its time is FirstSeen (or LastSeen) for the start and LastSeen (or
    /// FirstSeen) for the end; a report with neither counts at time 0.
    pub fn add(&mut self, r: &TagReport) {
        let first = r.first_seen_utc.or(r.last_seen_utc).unwrap_or(0);
        let last = r.last_seen_utc.or(r.first_seen_utc).unwrap_or(first);
        let count = u64::from(r.tag_seen_count.unwrap_or(1).max(1));
        self.window_start_us.get_or_insert(first);
        match self.tags.get_mut(r.epc.as_slice()) {
            Some(a) => {
                a.first_seen_us = a.first_seen_us.min(first);
                a.last_seen_us = a.last_seen_us.max(last);
                a.count += count;
                if let Some(rssi) = r.peak_rssi {
                    if a.peak_rssi.is_none_or(|p| rssi > p) {
                        a.peak_rssi = Some(rssi);
                        a.peak_antenna = r.antenna_id;
                    }
                }
            }
            None => {
                let a = TagAggregate {
                    epc: r.epc.clone(),
                    first_seen_us: first,
                    last_seen_us: last,
                    count,
                    peak_rssi: r.peak_rssi,
                    peak_antenna: r.antenna_id,
                };
                self.tags.insert(r.epc.clone(), a);
            }
        }
    }

    /// Adds several reports.
    pub fn extend(&mut self, reads: &[TagReport]) {
        for r in reads {
            self.add(r);
        }
    }

    /// Number of distinct EPCs held.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// Whether no EPC is held.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// The aggregate of one EPC.
    pub fn get(&self, epc: &[u8]) -> Option<&TagAggregate> {
        self.tags.get(epc)
    }

    /// Total reads held, over all EPCs.
    pub fn total_reads(&self) -> u64 {
        self.tags.values().map(|a| a.count).sum()
    }

    /// Drains every aggregate, sorted by EPC, and restarts the window.
    pub fn flush(&mut self) -> Vec<TagAggregate> {
        self.window_start_us = None;
        let mut out: Vec<_> = self.tags.drain().map(|(_, a)| a).collect();
        out.sort_unstable_by(|a, b| a.epc.cmp(&b.epc));
        out
    }

    /// Drains the EPCs not seen since `cutoff_us` (tags that left the field), sorted by EPC.
    pub fn flush_idle(&mut self, cutoff_us: u64) -> Vec<TagAggregate> {
        let idle: Vec<Vec<u8>> = self
            .tags
            .values()
            .filter(|a| a.last_seen_us < cutoff_us)
            .map(|a| a.epc.clone())
            .collect();
        let mut out: Vec<_> = idle.iter().filter_map(|k| self.tags.remove(k)).collect();
        out.sort_unstable_by(|a, b| a.epc.cmp(&b.epc));
        out
    }

    /// If a window is set and `now_us` is at least one window after the first read of the
    /// current window, drains it (as [`Aggregator::flush`]) and starts the next at `now_us`.
    pub fn take_window(&mut self, now_us: u64) -> Option<Vec<TagAggregate>> {
        let window = self.window_us?;
        let start = self.window_start_us?;
        if now_us.saturating_sub(start) < window {
            return None;
        }
        let out = self.flush();
        self.window_start_us = Some(now_us);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(epc: u8, t: u64, rssi: i8, ant: u16, count: u16) -> TagReport {
        TagReport {
            epc: vec![epc; 12],
            antenna_id: Some(ant),
            peak_rssi: Some(rssi),
            first_seen_utc: Some(t),
            last_seen_utc: Some(t + 5),
            tag_seen_count: Some(count),
            ..TagReport::default()
        }
    }

    #[test]
    fn folds_per_epc() {
        let mut agg = Aggregator::new();
        agg.extend(&[
            read(1, 100, -60, 1, 1),
            read(1, 50, -40, 3, 2),
            read(1, 200, -40, 2, 1),
        ]);
        agg.add(&read(2, 10, -70, 4, 1));
        assert_eq!(agg.len(), 2);
        assert_eq!(agg.total_reads(), 5);
        let a = agg.get(&[1; 12]).unwrap();
        assert_eq!((a.first_seen_us, a.last_seen_us, a.count), (50, 205, 4));
        // Ties keep the first antenna that reached the peak.
        assert_eq!((a.peak_rssi, a.peak_antenna), (Some(-40), Some(3)));
        let all = agg.flush();
        assert_eq!(all.iter().map(|a| a.epc[0]).collect::<Vec<_>>(), vec![1, 2]);
        assert!(agg.is_empty());
    }

    #[test]
    fn report_without_optional_fields_counts_once() {
        let mut agg = Aggregator::new();
        agg.add(&TagReport {
            epc: vec![7; 12],
            ..TagReport::default()
        });
        agg.add(&TagReport {
            epc: vec![7; 12],
            tag_seen_count: Some(0),
            ..TagReport::default()
        });
        let a = agg.get(&[7; 12]).unwrap();
        assert_eq!((a.count, a.peak_rssi, a.peak_antenna), (2, None, None));
    }

    #[test]
    fn window_and_idle_flush() {
        let mut agg = Aggregator::with_window(1_000);
        agg.add(&read(1, 100, -60, 1, 1));
        agg.add(&read(2, 900, -60, 1, 1));
        assert_eq!(agg.take_window(1_099), None);
        let idle = agg.flush_idle(500);
        assert_eq!(idle.len(), 1);
        assert_eq!(idle[0].epc, vec![1; 12]);
        let w = agg.take_window(1_100).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(agg.take_window(1_500), None);
        agg.add(&read(3, 1_600, -60, 1, 1));
        assert_eq!(agg.take_window(2_099), None);
        assert_eq!(agg.take_window(2_100).map(|w| w.len()), Some(1));
    }
}
