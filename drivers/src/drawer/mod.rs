//! Cash drawers: a solenoid kicked open and, where wired, a microswitch that says "open".
//!
//! Two ways to reach a drawer (PROTOCOLS.md §5):
//! - through a receipt printer's drawer-kick port: [`kick_command`] encodes `ESC p m t1 t2`, and
//!   [`printer_drawer_state`] reads the drawer switch from the printer's `DLE EOT 1` reply
//!   ([`DLE_EOT_PRINTER`]); the bytes travel over the printer's own transport;
//! - directly on GPIO pins: [`GpioDrawer`] is generic over embedded-hal 1.0 `OutputPin`,
//!   `InputPin` and `DelayNs`, so it runs on any HAL and is tested with mocks.
//!
//! Whichever way the state is read, [`OpenAlarm`] turns a stream of open/closed samples into
//! [`AlarmEvent`]s, including one "left open" alarm per opening.
//!
//! # Layout
//! - `gpio`: [`GpioDrawer`], its [`DrawerSettings`] and its [`Error`].
//! - `printer`: the kick command and the drawer bit of the printer status.
//! - `alarm`: the "drawer left open" state machine, pure and clock-injected.
//! - `linux_gpio` (feature `linux-gpio`, on by default): a drawer on `/dev/gpiochipN` lines
//!   through linux-embedded-hal's `CdevPin` (uAPI v1): `CdevDrawer::from_chip`.
//! - `rpi` (feature `rppal`, off by default): a drawer on Raspberry Pi pins by BCM number through
//!   rppal: `RpiDrawer::from_bcm`.
//!
//! # Example: a printer-port drawer watched by the alarm
//! ```
//! use std::time::Duration;
//! use drivers::drawer::{
//!     kick_command, printer_drawer_state, AlarmEvent, KickPin, OpenAlarm, SensorPolarity,
//! };
//!
//! // Bytes for the printer's transport: kick pin 2 for 100 ms, rest 400 ms.
//! assert_eq!(kick_command(KickPin::Pin2, 100, 400), [0x1B, 0x70, 0x00, 0x32, 0xC8]);
//!
//! // Each DLE EOT 1 reply (polled every 250 ms, say) feeds the alarm.
//! let mut alarm = OpenAlarm::new(Duration::from_secs(60));
//! let open = printer_drawer_state(0x16, SensorPolarity::ActiveHigh).unwrap().is_open();
//! assert_eq!(alarm.observe(open, 0), Some(AlarmEvent::Opened { at: 0 }));
//! assert_eq!(alarm.observe(open, 60_000), Some(AlarmEvent::LeftOpen { since: 0 }));
//! ```
//!
//! # Current limitations
//! - The GPIO backends only compile here: the build and CI machines have no GPIO at all (kernel
//!   without GPIOLIB, no gpio-sim), so they are exercised on hardware only. All logic is tested
//!   through embedded-hal mocks.
//! - [`GpioDrawer`] has no clock, so it cannot enforce the solenoid's duty cycle (ON ≤ 20 %):
//!   the caller must leave at least [`PulseWidth::min_rest`] between two kicks.
//! - No debouncing of the sensor: sample it at a slow, steady rate (e.g. every 250 ms) before
//!   feeding [`OpenAlarm`].
//! - The pulse bounds are engineering choices within the 510 ms maximum of the drawer
//!   manufacturers; they are not from a datasheet of a particular drawer.

mod alarm;
mod gpio;
mod printer;

#[cfg(feature = "linux-gpio")]
pub mod linux_gpio;
#[cfg(feature = "rppal")]
pub mod rpi;

pub use alarm::{AlarmEvent, OpenAlarm};
pub use gpio::{
    DrawerSettings, Error, ErrorKind, GpioDrawer, NoSensor, PulseWidth, SensorPolarity,
    SettingsError, SolenoidLevel,
};
pub use printer::{
    kick_command, printer_drawer_state, try_kick_command, DrawerState, KickError, KickPin,
    StatusError, DLE_EOT_PRINTER, DRAWER_SWITCH_BIT,
};
