//! A cash drawer on a receipt printer's drawer-kick (DK) port: the `ESC p` kick command and the
//! drawer switch bit of the printer's real-time status (PROTOCOLS.md §5.1, §1.5).
//!
//! These are pure byte functions; the bytes travel over the printer's own transport. `ESC p` is
//! buffered: it waits behind print data and is held while the printer is blocked (paper out,
//! cover open).

use super::gpio::{PulseWidth, SensorPolarity};

/// `ESC p`: the first two bytes of the kick command.
const ESC_P: [u8; 2] = [0x1B, 0x70];
/// One unit of `t1`/`t2` in `ESC p` is 2 ms.
const MS_PER_UNIT: u32 = 2;
/// The largest `t1`/`t2` (one byte): 255 × 2 ms = 510 ms.
const MAX_UNITS: u32 = 255;

/// `DLE EOT 1`: asks the printer for its printer status byte, which holds the drawer switch bit.
pub const DLE_EOT_PRINTER: [u8; 3] = [0x10, 0x04, 0x01];
/// Bit of the `DLE EOT 1` reply that is set when DK connector pin 3 (the drawer switch) is high.
pub const DRAWER_SWITCH_BIT: u8 = 0x04;
/// Bits of every real-time status reply that are fixed: pattern `0xx1xx10`.
const STATUS_FIXED_MASK: u8 = 0x93;
/// Values of the fixed bits: bits 1 and 4 set, bits 0 and 7 clear.
const STATUS_FIXED_VALUE: u8 = 0x12;

/// Which drive pin of the printer's drawer-kick connector to pulse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KickPin {
    /// Connector pin 2, "drawer kick-out drive 1": the usual (first) drawer. `m` = 0.
    #[default]
    Pin2,
    /// Connector pin 5, "drawer kick-out drive 2": a second drawer. `m` = 1.
    Pin5,
}

impl KickPin {
    /// The `m` byte of `ESC p` for this pin.
    const fn m(self) -> u8 {
        match self {
            Self::Pin2 => 0x00,
            Self::Pin5 => 0x01,
        }
    }
}

/// A kick timing that [`try_kick_command`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KickError {
    /// The ON time is outside the safe pulse range.
    #[error(
        "drawer kick ON time of {ms} ms is outside {min}..={max} ms",
        min = PulseWidth::MIN_MS,
        max = PulseWidth::MAX_MS
    )]
    OnTimeOutOfRange {
        /// The refused ON time, in milliseconds.
        ms: u32,
    },
    /// The OFF time is shorter than the ON time or longer than 510 ms.
    #[error("drawer kick OFF time of {off_ms} ms is outside {on_ms}..=510 ms (at least ON time)")]
    OffTimeOutOfRange {
        /// The refused OFF time, in milliseconds.
        off_ms: u32,
        /// The ON time it was checked against, in milliseconds.
        on_ms: u32,
    },
}

/// Milliseconds to `ESC p` units of 2 ms, rounded up so a pulse is never shorter than asked.
const fn units(ms: u32) -> u32 {
    ms.div_ceil(MS_PER_UNIT)
}

/// `ESC p m t1 t2` (`1B 70 m t1 t2`): pulse `pin` ON for `on_ms`, then OFF for `off_ms`.
///
/// Times are clamped, never refused:
/// 1. `on_ms` is clamped to the safe pulse range [`PulseWidth::MIN_MS`]..=[`PulseWidth::MAX_MS`]
///    and converted to units of 2 ms, rounding up (`t1` = 5..=255).
/// 2. `off_ms` is converted the same way and clamped to `t1..=255`: some printers treat an OFF
///    time shorter than the ON time as equal to it, and this makes that explicit.
///
/// Use [`try_kick_command`] to refuse out-of-range times instead.
///
/// ```
/// use drivers::drawer::{kick_command, KickPin};
/// assert_eq!(kick_command(KickPin::Pin2, 100, 100), [0x1B, 0x70, 0x00, 0x32, 0x32]);
/// ```
pub const fn kick_command(pin: KickPin, on_ms: u32, off_ms: u32) -> [u8; 5] {
    let on_ms = if on_ms < PulseWidth::MIN_MS {
        PulseWidth::MIN_MS
    } else if on_ms > PulseWidth::MAX_MS {
        PulseWidth::MAX_MS
    } else {
        on_ms
    };
    let t1 = units(on_ms);
    let t2 = units(off_ms);
    let t2 = if t2 < t1 {
        t1
    } else if t2 > MAX_UNITS {
        MAX_UNITS
    } else {
        t2
    };
    // t1 and t2 are at most MAX_UNITS = 255 here, so the casts do not truncate.
    [ESC_P[0], ESC_P[1], pin.m(), t1 as u8, t2 as u8]
}

/// Like [`kick_command`], but refuses times outside the ranges instead of clamping them.
///
/// The ON time must be within [`PulseWidth::MIN_MS`]..=[`PulseWidth::MAX_MS`]; the OFF time
/// within the ON time..=510 ms. Odd milliseconds round up to the next 2 ms unit.
pub const fn try_kick_command(pin: KickPin, on_ms: u32, off_ms: u32) -> Result<[u8; 5], KickError> {
    if on_ms < PulseWidth::MIN_MS || on_ms > PulseWidth::MAX_MS {
        return Err(KickError::OnTimeOutOfRange { ms: on_ms });
    }
    if off_ms < on_ms || off_ms > MAX_UNITS * MS_PER_UNIT {
        return Err(KickError::OffTimeOutOfRange { off_ms, on_ms });
    }
    Ok(kick_command(pin, on_ms, off_ms))
}

/// Whether a drawer is open or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DrawerState {
    /// The drawer is open.
    Open,
    /// The drawer is closed.
    Closed,
}

impl DrawerState {
    /// `true` for [`DrawerState::Open`].
    pub const fn is_open(self) -> bool {
        matches!(self, Self::Open)
    }
}

/// A printer status byte that cannot be a `DLE EOT` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// The byte does not match the fixed pattern `0xx1xx10` of real-time status replies; it is
    /// probably a stale or foreign byte from the transport's buffer.
    #[error("{byte:#04x} is not a real-time status reply (expected the pattern 0xx1xx10)")]
    NotAStatusByte {
        /// The byte received.
        byte: u8,
    },
}

/// The drawer state from the printer's reply to [`DLE_EOT_PRINTER`].
///
/// Bit 2 ([`DRAWER_SWITCH_BIT`]) is set when DK connector pin 3 is high; `polarity` says
/// whether high means open (it depends on the drawer, and some printers report pin 3 high with
/// no drawer at all). A byte that does not match the reply pattern `0xx1xx10` is refused, so a
/// stale byte from another request is not taken for a drawer state.
///
/// ```
/// use drivers::drawer::{printer_drawer_state, DrawerState, SensorPolarity};
/// assert_eq!(printer_drawer_state(0x16, SensorPolarity::ActiveHigh), Ok(DrawerState::Open));
/// ```
pub const fn printer_drawer_state(
    status: u8,
    polarity: SensorPolarity,
) -> Result<DrawerState, StatusError> {
    if status & STATUS_FIXED_MASK != STATUS_FIXED_VALUE {
        return Err(StatusError::NotAStatusByte { byte: status });
    }
    if polarity.is_open(status & DRAWER_SWITCH_BIT != 0) {
        Ok(DrawerState::Open)
    } else {
        Ok(DrawerState::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_kick_matches_python_escpos() {
        // 1B 70 = ESC p; 00 = pin 2; 32 = 50 × 2 ms = 100 ms ON; 32 = 100 ms OFF.
        assert_eq!(
            kick_command(KickPin::Pin2, 100, 100),
            [0x1B, 0x70, 0x00, 0x32, 0x32]
        );
        // 01 = pin 5; otherwise identical.
        assert_eq!(
            kick_command(KickPin::Pin5, 100, 100),
            [0x1B, 0x70, 0x01, 0x32, 0x32]
        );
    }

    #[test]
    fn duty_cycle_friendly_kick() {
        // 120 ms ON = 60 (0x3C) units; 480 ms OFF = 240 (0xF0) units.
        assert_eq!(
            kick_command(KickPin::Pin2, 120, 480),
            [0x1B, 0x70, 0x00, 0x3C, 0xF0]
        );
    }

    #[test]
    fn odd_milliseconds_round_up() {
        // 101 ms → 51 units (102 ms); 201 ms → 101 (0x65) units.
        assert_eq!(
            kick_command(KickPin::Pin2, 101, 201),
            [0x1B, 0x70, 0x00, 0x33, 0x65]
        );
    }

    #[test]
    fn on_time_is_clamped_to_the_safe_range() {
        // 0 ms → 10 ms = 5 units; 5 ms → 5 units too.
        assert_eq!(
            kick_command(KickPin::Pin2, 0, 100),
            [0x1B, 0x70, 0x00, 0x05, 0x32]
        );
        assert_eq!(
            kick_command(KickPin::Pin2, 5, 100),
            [0x1B, 0x70, 0x00, 0x05, 0x32]
        );
        // 2 s → 510 ms = 255 units; OFF follows it up to 255.
        assert_eq!(
            kick_command(KickPin::Pin5, 2000, 100),
            [0x1B, 0x70, 0x01, 0xFF, 0xFF]
        );
        assert_eq!(
            kick_command(KickPin::Pin2, 510, 510),
            [0x1B, 0x70, 0x00, 0xFF, 0xFF]
        );
    }

    #[test]
    fn off_time_is_at_least_on_time_and_at_most_510_ms() {
        assert_eq!(
            kick_command(KickPin::Pin2, 200, 0),
            [0x1B, 0x70, 0x00, 0x64, 0x64]
        );
        assert_eq!(
            kick_command(KickPin::Pin2, 50, u32::MAX),
            [0x1B, 0x70, 0x00, 0x19, 0xFF]
        );
    }

    #[test]
    fn try_kick_validates() {
        assert_eq!(
            try_kick_command(KickPin::Pin2, 100, 400),
            Ok([0x1B, 0x70, 0x00, 0x32, 0xC8])
        );
        assert_eq!(
            try_kick_command(KickPin::Pin2, 10, 510),
            Ok([0x1B, 0x70, 0x00, 0x05, 0xFF])
        );
        assert_eq!(
            try_kick_command(KickPin::Pin2, 9, 100),
            Err(KickError::OnTimeOutOfRange { ms: 9 })
        );
        assert_eq!(
            try_kick_command(KickPin::Pin2, 511, 511),
            Err(KickError::OnTimeOutOfRange { ms: 511 })
        );
        assert_eq!(
            try_kick_command(KickPin::Pin2, 100, 99),
            Err(KickError::OffTimeOutOfRange {
                off_ms: 99,
                on_ms: 100
            })
        );
        assert_eq!(
            try_kick_command(KickPin::Pin5, 100, 511),
            Err(KickError::OffTimeOutOfRange {
                off_ms: 511,
                on_ms: 100
            })
        );
    }

    #[test]
    fn drawer_bit_follows_polarity() {
        use DrawerState::{Closed, Open};
        use SensorPolarity::{ActiveHigh, ActiveLow};
        // 0x12: no fault, pin 3 low. 0x16: pin 3 high (a real Epson's answer to the handshake).
        assert_eq!(printer_drawer_state(0x12, ActiveHigh), Ok(Closed));
        assert_eq!(printer_drawer_state(0x16, ActiveHigh), Ok(Open));
        assert_eq!(printer_drawer_state(0x12, ActiveLow), Ok(Open));
        assert_eq!(printer_drawer_state(0x16, ActiveLow), Ok(Closed));
        // 0x1A: offline / paper out / cover open, pin 3 low: the drawer bit still counts.
        assert_eq!(printer_drawer_state(0x1A, ActiveHigh), Ok(Closed));
        assert_eq!(printer_drawer_state(0x1E, ActiveHigh), Ok(Open));
        assert!(Open.is_open() && !Closed.is_open());
    }

    #[test]
    fn stale_or_foreign_bytes_are_refused() {
        for byte in [0x00, 0x02, 0x10, 0x13, 0x92, 0xFF, 0x7E & !0x10] {
            assert_eq!(
                printer_drawer_state(byte, SensorPolarity::ActiveHigh),
                Err(StatusError::NotAStatusByte { byte })
            );
        }
        assert_eq!(
            StatusError::NotAStatusByte { byte: 0x02 }.to_string(),
            "0x02 is not a real-time status reply (expected the pattern 0xx1xx10)"
        );
    }

    #[test]
    fn status_query_bytes() {
        assert_eq!(DLE_EOT_PRINTER, [0x10, 0x04, 0x01]);
    }
}
