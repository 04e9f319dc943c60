//! Timestamps on the wire: milliseconds since the Unix epoch, UTC.

use serde::{Deserialize, Serialize};

/// Milliseconds since 1970-01-01T00:00:00Z. Negative values are before the epoch.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// This time plus `ms` milliseconds, saturating at the ends of the range.
    pub fn plus_millis(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_millis_saturates() {
        assert_eq!(Timestamp(1_000).plus_millis(500).millis(), 1_500);
        assert_eq!(Timestamp(1_000).plus_millis(-2_000), Timestamp(-1_000));
        assert_eq!(Timestamp(i64::MAX - 1).plus_millis(10), Timestamp(i64::MAX));
        assert_eq!(
            Timestamp(i64::MIN + 1).plus_millis(-10),
            Timestamp(i64::MIN)
        );
    }
}
