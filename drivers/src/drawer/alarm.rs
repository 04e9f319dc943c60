//! The "drawer left open" alarm: a pure state machine fed with samples of the drawer state and
//! the time they were taken. It reads no clock and no pin, so any sampling source (a GPIO
//! sensor, a printer's `DLE EOT 1`) and any clock can drive it, and tests drive it with numbers.

use core::time::Duration;

/// What [`OpenAlarm::observe`] noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlarmEvent {
    /// The drawer was seen open after being closed (or in the very first sample).
    Opened {
        /// When it was first seen open, in the caller's milliseconds.
        at: u64,
    },
    /// The drawer has been open for at least the configured time. Raised once per opening.
    LeftOpen {
        /// When it was first seen open, in the caller's milliseconds.
        since: u64,
    },
    /// The drawer was seen closed after being open.
    Closed {
        /// From the first open sample to this closed sample.
        open_for: Duration,
    },
}

/// What the alarm remembers between samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// No sample yet.
    Nothing,
    /// Last sample: closed.
    Closed,
    /// Last sample: open, first seen open at `since`; `alarmed` once `LeftOpen` was raised.
    Open { since: u64, alarmed: bool },
}

/// Raises [`AlarmEvent::LeftOpen`] once per opening that lasts at least a configured time.
///
/// Feed it every sample with [`observe`](Self::observe). Times are milliseconds from any
/// monotonic origin the caller picks (e.g. `Instant` elapsed since start); a time earlier than
/// the opening is taken as "no time passed". An opening's length is measured between samples,
/// so the alarm is late by at most one sampling period.
#[derive(Debug, Clone)]
pub struct OpenAlarm {
    after_ms: u64,
    seen: Seen,
}

impl OpenAlarm {
    /// An alarm that fires once a drawer has been open for `after` (rounded down to whole
    /// milliseconds; durations beyond `u64::MAX` ms are treated as never).
    pub fn new(after: Duration) -> Self {
        let after_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        Self {
            after_ms,
            seen: Seen::Nothing,
        }
    }

    /// The configured time after which an open drawer is "left open".
    pub fn after(&self) -> Duration {
        Duration::from_millis(self.after_ms)
    }

    /// Whether the last sample said open (`None` before the first sample).
    pub fn is_open(&self) -> Option<bool> {
        match self.seen {
            Seen::Nothing => None,
            Seen::Closed => Some(false),
            Seen::Open { .. } => Some(true),
        }
    }

    /// Whether the drawer is open and [`AlarmEvent::LeftOpen`] was raised for this opening:
    /// the condition to show until it closes.
    pub fn is_left_open(&self) -> bool {
        matches!(self.seen, Seen::Open { alarmed: true, .. })
    }

    /// Takes one sample: the drawer is open (`is_open`) at `now_ms`. Returns at most one event:
    /// 1. closed (or nothing) → open: [`AlarmEvent::Opened`], even if `after` is zero; a zero
    ///    `after` then raises `LeftOpen` on the next open sample;
    /// 2. open → open, open for ≥ `after` and not yet raised: [`AlarmEvent::LeftOpen`];
    /// 3. open → closed: [`AlarmEvent::Closed`], whether or not `LeftOpen` was raised;
    /// 4. anything else (including the first sample being closed): `None`.
    pub fn observe(&mut self, is_open: bool, now_ms: u64) -> Option<AlarmEvent> {
        match (self.seen, is_open) {
            (Seen::Nothing | Seen::Closed, true) => {
                self.seen = Seen::Open {
                    since: now_ms,
                    alarmed: false,
                };
                Some(AlarmEvent::Opened { at: now_ms })
            }
            (Seen::Nothing | Seen::Closed, false) => {
                self.seen = Seen::Closed;
                None
            }
            (Seen::Open { since, alarmed }, true) => {
                if !alarmed && now_ms.saturating_sub(since) >= self.after_ms {
                    self.seen = Seen::Open {
                        since,
                        alarmed: true,
                    };
                    Some(AlarmEvent::LeftOpen { since })
                } else {
                    None
                }
            }
            (Seen::Open { since, .. }, false) => {
                self.seen = Seen::Closed;
                let open_for = Duration::from_millis(now_ms.saturating_sub(since));
                Some(AlarmEvent::Closed { open_for })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MINUTE: u64 = 60_000;

    #[test]
    fn full_cycle_raises_left_open_once() {
        let mut alarm = OpenAlarm::new(Duration::from_secs(60));
        assert_eq!(alarm.is_open(), None);
        assert_eq!(alarm.observe(false, 0), None);
        assert_eq!(
            alarm.observe(true, 1_000),
            Some(AlarmEvent::Opened { at: 1_000 })
        );
        assert_eq!(alarm.observe(true, 1_000 + MINUTE - 1), None);
        assert_eq!(
            alarm.observe(true, 1_000 + MINUTE),
            Some(AlarmEvent::LeftOpen { since: 1_000 })
        );
        assert!(alarm.is_left_open());
        assert_eq!(alarm.observe(true, 1_000 + 5 * MINUTE), None);
        assert_eq!(alarm.is_open(), Some(true));
        assert_eq!(
            alarm.observe(false, 1_000 + 6 * MINUTE),
            Some(AlarmEvent::Closed {
                open_for: Duration::from_secs(360)
            })
        );
        assert!(
            !alarm.is_left_open(),
            "closing ends the left-open condition"
        );
        assert_eq!(alarm.observe(false, 1_000 + 7 * MINUTE), None);
        assert_eq!(alarm.is_open(), Some(false));
    }

    #[test]
    fn short_opening_raises_no_alarm() {
        let mut alarm = OpenAlarm::new(Duration::from_secs(30));
        assert_eq!(alarm.observe(true, 0), Some(AlarmEvent::Opened { at: 0 }));
        assert_eq!(alarm.observe(true, 29_999), None);
        assert_eq!(
            alarm.observe(false, 40_000),
            Some(AlarmEvent::Closed {
                open_for: Duration::from_secs(40)
            })
        );
    }

    #[test]
    fn each_opening_gets_its_own_alarm() {
        let mut alarm = OpenAlarm::new(Duration::from_millis(100));
        for start in [0, 1_000, 2_000] {
            assert_eq!(
                alarm.observe(true, start),
                Some(AlarmEvent::Opened { at: start })
            );
            assert_eq!(
                alarm.observe(true, start + 100),
                Some(AlarmEvent::LeftOpen { since: start })
            );
            assert!(matches!(
                alarm.observe(false, start + 200),
                Some(AlarmEvent::Closed { .. })
            ));
        }
    }

    #[test]
    fn zero_after_fires_on_the_second_open_sample() {
        let mut alarm = OpenAlarm::new(Duration::ZERO);
        assert_eq!(alarm.observe(true, 5), Some(AlarmEvent::Opened { at: 5 }));
        assert_eq!(
            alarm.observe(true, 5),
            Some(AlarmEvent::LeftOpen { since: 5 })
        );
        assert_eq!(alarm.observe(true, 6), None);
    }

    #[test]
    fn clock_going_backwards_counts_as_no_time() {
        let mut alarm = OpenAlarm::new(Duration::from_millis(10));
        alarm.observe(true, 1_000);
        assert_eq!(alarm.observe(true, 500), None);
        assert_eq!(
            alarm.observe(false, 400),
            Some(AlarmEvent::Closed {
                open_for: Duration::ZERO
            })
        );
    }

    #[test]
    fn huge_after_never_fires() {
        let mut alarm = OpenAlarm::new(Duration::MAX);
        assert_eq!(alarm.after(), Duration::from_millis(u64::MAX));
        alarm.observe(true, 0);
        assert_eq!(alarm.observe(true, u64::MAX - 1), None);
    }

    proptest! {
        /// Samples are (gap since the previous sample in ms, open?). An opening is a run of open
        /// samples; it "lasts" from its first to its last open sample.
        #[test]
        fn left_open_fires_exactly_once_per_long_opening(
            after_ms in 0u64..5_000,
            samples in prop::collection::vec((0u64..2_000, any::<bool>()), 0..200),
        ) {
            let mut alarm = OpenAlarm::new(Duration::from_millis(after_ms));
            let mut now = 0u64;
            // Per opening: (first open time, last open time, open samples, LeftOpen count).
            let mut openings: Vec<(u64, u64, usize, usize)> = Vec::new();
            let mut was_open = false;
            for (gap, open) in samples {
                now += gap;
                let event = alarm.observe(open, now);
                match (was_open, open) {
                    (false, true) => {
                        prop_assert_eq!(event, Some(AlarmEvent::Opened { at: now }));
                        openings.push((now, now, 1, 0));
                    }
                    (true, true) => {
                        let current = openings.last_mut().expect("an opening is running");
                        current.1 = now;
                        current.2 += 1;
                        match event {
                            None => {}
                            Some(AlarmEvent::LeftOpen { since }) => {
                                prop_assert_eq!(since, current.0);
                                current.3 += 1;
                            }
                            other => prop_assert!(false, "unexpected {:?}", other),
                        }
                    }
                    (true, false) => {
                        let start = openings.last().expect("an opening is running").0;
                        let open_for = Duration::from_millis(now - start);
                        prop_assert_eq!(event, Some(AlarmEvent::Closed { open_for }));
                    }
                    (false, false) => prop_assert_eq!(event, None),
                }
                was_open = open;
            }
            for (first, last, open_samples, fired) in openings {
                // The alarm measures an opening on its open samples after the first one.
                let long = open_samples >= 2 && last - first >= after_ms;
                let expected = usize::from(long);
                prop_assert_eq!(fired, expected, "opening {}..{} after {}", first, last, after_ms);
            }
        }
    }
}
