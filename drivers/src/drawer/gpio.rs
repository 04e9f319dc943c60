//! A cash drawer wired to GPIO pins: one output drives the solenoid (through a MOSFET or relay
//! board), one optional input reads the drawer's microswitch.

use core::convert::Infallible;
use core::marker::PhantomData;
use core::time::Duration;

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{self, ErrorType, InputPin, OutputPin};

/// How long the solenoid is energised for one kick, in milliseconds, within the safe range.
///
/// Drawer manufacturers allow at most 510 ms per pulse (PROTOCOLS.md §5.1); below 10 ms a
/// solenoid does not move its latch. Both bounds are inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PulseWidth(u32);

impl PulseWidth {
    /// The shortest pulse accepted, in milliseconds.
    pub const MIN_MS: u32 = 10;
    /// The longest pulse accepted, in milliseconds (the drawers' 510 ms limit).
    pub const MAX_MS: u32 = 510;
    /// 100 ms, the python-escpos default kick and a common field value.
    pub const DEFAULT: Self = Self(100);

    /// A pulse of `ms` milliseconds, or [`SettingsError::PulseOutOfRange`] outside
    /// [`MIN_MS`](Self::MIN_MS)..=[`MAX_MS`](Self::MAX_MS).
    pub const fn from_ms(ms: u32) -> Result<Self, SettingsError> {
        if ms < Self::MIN_MS || ms > Self::MAX_MS {
            return Err(SettingsError::PulseOutOfRange { ms });
        }
        Ok(Self(ms))
    }

    /// The pulse length in milliseconds.
    pub const fn as_ms(self) -> u32 {
        self.0
    }

    /// The pulse length as a [`Duration`].
    pub const fn as_duration(self) -> Duration {
        Duration::from_millis(self.0 as u64)
    }

    /// The shortest rest between two kicks that keeps the solenoid's duty cycle at or under
    /// 20 % (OFF ≥ 4 × ON, PROTOCOLS.md §5.1).
    pub const fn min_rest(self) -> Duration {
        Duration::from_millis(self.0 as u64 * 4)
    }
}

impl Default for PulseWidth {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Which level of the sensor input means "drawer open". It differs between drawers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SensorPolarity {
    /// A high input means the drawer is open.
    #[default]
    ActiveHigh,
    /// A low input means the drawer is open.
    ActiveLow,
}

impl SensorPolarity {
    /// Whether an input at `high` (true = high level) means "open" under this polarity.
    pub const fn is_open(self, high: bool) -> bool {
        match self {
            Self::ActiveHigh => high,
            Self::ActiveLow => !high,
        }
    }
}

/// Which output level energises the solenoid (depends on the driver board).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SolenoidLevel {
    /// Driving the output high energises the solenoid (a logic-level MOSFET's gate).
    #[default]
    ActiveHigh,
    /// Driving the output low energises the solenoid (many opto-isolated relay boards).
    ActiveLow,
}

/// Settings of a [`GpioDrawer`]; every value in it is valid by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DrawerSettings {
    /// How long one kick energises the solenoid.
    pub pulse: PulseWidth,
    /// Which sensor level means "open".
    pub sensor: SensorPolarity,
    /// Which output level energises the solenoid.
    pub solenoid: SolenoidLevel,
}

impl DrawerSettings {
    /// Settings from a pulse in milliseconds and the two levels; fails with
    /// [`SettingsError::PulseOutOfRange`] if the pulse is outside the safe range.
    pub const fn new(
        pulse_ms: u32,
        sensor: SensorPolarity,
        solenoid: SolenoidLevel,
    ) -> Result<Self, SettingsError> {
        match PulseWidth::from_ms(pulse_ms) {
            Ok(pulse) => Ok(Self {
                pulse,
                sensor,
                solenoid,
            }),
            Err(e) => Err(e),
        }
    }
}

/// A drawer setting that was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The kick pulse is outside the safe range.
    #[error(
        "drawer kick pulse of {ms} ms is outside the safe range {min}..={max} ms",
        min = PulseWidth::MIN_MS,
        max = PulseWidth::MAX_MS
    )]
    PulseOutOfRange {
        /// The refused pulse width, in milliseconds.
        ms: u32,
    },
}

/// What went wrong in a [`GpioDrawer`] operation, without the pin's own error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The solenoid output could not be driven to its active level: the drawer was not kicked,
    /// and the solenoid is not energised by us.
    Energise,
    /// The solenoid output could not be driven back to its inactive level: **the solenoid may
    /// still be energised**. Treat the drawer as faulty and cut its power if this persists.
    SolenoidStuck,
    /// The sensor input could not be read.
    Sensor,
    /// The drawer has no sensor, so its state is unknown.
    NoSensor,
}

/// An error of a [`GpioDrawer`], generic over the pins' error type `E`.
#[derive(Debug, thiserror::Error)]
pub enum Error<E> {
    /// See [`ErrorKind::Energise`].
    #[error("could not energise the drawer solenoid")]
    Energise(#[source] E),
    /// See [`ErrorKind::SolenoidStuck`].
    #[error("could not de-energise the drawer solenoid: it may still be energised")]
    SolenoidStuck(#[source] E),
    /// See [`ErrorKind::Sensor`].
    #[error("could not read the drawer sensor")]
    Sensor(#[source] E),
    /// See [`ErrorKind::NoSensor`].
    #[error("the drawer has no sensor")]
    NoSensor,
}

impl<E> Error<E> {
    /// What went wrong, for matching without the pin error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Energise(_) => ErrorKind::Energise,
            Self::SolenoidStuck(_) => ErrorKind::SolenoidStuck,
            Self::Sensor(_) => ErrorKind::Sensor,
            Self::NoSensor => ErrorKind::NoSensor,
        }
    }

    /// The pin's own error, if there is one.
    pub fn pin_error(&self) -> Option<&E> {
        match self {
            Self::Energise(e) | Self::SolenoidStuck(e) | Self::Sensor(e) => Some(e),
            Self::NoSensor => None,
        }
    }
}

/// The sensor type of a drawer without a sensor; it has no values.
///
/// [`GpioDrawer::without_sensor`] uses it so that a drawer without a sensor needs no input pin.
/// `E` is the error type of the solenoid pin, so both pins share one error type.
#[derive(Debug)]
pub struct NoSensor<E> {
    never: Infallible,
    error: PhantomData<E>,
}

impl<E: digital::Error> ErrorType for NoSensor<E> {
    type Error = E;
}

impl<E: digital::Error> InputPin for NoSensor<E> {
    fn is_high(&mut self) -> Result<bool, E> {
        match self.never {}
    }

    fn is_low(&mut self) -> Result<bool, E> {
        match self.never {}
    }
}

/// A cash drawer on GPIO: a solenoid output, an optional sensor input and a delay.
///
/// The driver owns its pins. Both pins share one error type `E` (they come from one HAL).
/// The solenoid pin must already be at its inactive level when it is handed over; the backend
/// constructors (`CdevDrawer::from_chip`, `RpiDrawer::from_bcm`) request it that way.
#[derive(Debug)]
pub struct GpioDrawer<OUT, SENSE, D> {
    solenoid: OUT,
    sensor: Option<SENSE>,
    delay: D,
    settings: DrawerSettings,
}

impl<OUT, D> GpioDrawer<OUT, NoSensor<OUT::Error>, D>
where
    OUT: OutputPin,
    D: DelayNs,
{
    /// A drawer with a solenoid and no sensor: [`is_open`](GpioDrawer::is_open) fails with
    /// [`ErrorKind::NoSensor`].
    pub fn without_sensor(solenoid: OUT, delay: D, settings: DrawerSettings) -> Self {
        Self::new(solenoid, None, delay, settings)
    }
}

impl<OUT, SENSE, D> GpioDrawer<OUT, SENSE, D>
where
    OUT: OutputPin,
    SENSE: InputPin<Error = OUT::Error>,
    D: DelayNs,
{
    /// A drawer with a solenoid output, an optional sensor input and a delay provider.
    pub fn new(solenoid: OUT, sensor: Option<SENSE>, delay: D, settings: DrawerSettings) -> Self {
        Self {
            solenoid,
            sensor,
            delay,
            settings,
        }
    }

    /// A drawer with both a solenoid and a sensor.
    pub fn with_sensor(solenoid: OUT, sensor: SENSE, delay: D, settings: DrawerSettings) -> Self {
        Self::new(solenoid, Some(sensor), delay, settings)
    }

    /// The settings this drawer was built with.
    pub fn settings(&self) -> DrawerSettings {
        self.settings
    }

    /// Whether a sensor is wired, i.e. whether [`is_open`](Self::is_open) can answer.
    pub fn has_sensor(&self) -> bool {
        self.sensor.is_some()
    }

    /// Kicks the drawer: one pulse of the configured width on the solenoid.
    ///
    /// Contract, in order:
    /// 1. Drive the solenoid output to its active level. If that fails, return
    ///    [`Error::Energise`] at once: no delay, no further pin operation.
    /// 2. Wait the pulse width through the delay provider.
    /// 3. Drive the output to its inactive level. This step always runs once step 1 succeeded;
    ///    if it fails, return [`Error::SolenoidStuck`] (the solenoid may still be energised).
    /// 4. If the delay provider panics during step 2, the output is still driven inactive while
    ///    the panic unwinds (an error there cannot be reported and is dropped), then the panic
    ///    continues.
    ///
    /// Only one error can happen per call, because step 1 failing ends the call. The call does
    /// not wait for the solenoid's rest time ([`PulseWidth::min_rest`]) and does not read the
    /// sensor: poll [`is_open`](Self::is_open) afterwards to see whether the drawer opened.
    pub fn open(&mut self) -> Result<(), Error<OUT::Error>> {
        let level = self.settings.solenoid;
        drive(&mut self.solenoid, level, true).map_err(Error::Energise)?;

        let mut guard = DeenergiseOnUnwind {
            pin: &mut self.solenoid,
            level,
            armed: true,
        };
        self.delay.delay_ms(self.settings.pulse.as_ms());
        guard.armed = false;

        drive(guard.pin, level, false).map_err(Error::SolenoidStuck)
    }

    /// Whether the drawer is open, read from the sensor under the configured polarity.
    ///
    /// One pin read (`is_high`). Fails with [`Error::NoSensor`] without a sensor, or with
    /// [`Error::Sensor`] if the read fails.
    pub fn is_open(&mut self) -> Result<bool, Error<OUT::Error>> {
        let sensor = self.sensor.as_mut().ok_or(Error::NoSensor)?;
        let high = sensor.is_high().map_err(Error::Sensor)?;
        Ok(self.settings.sensor.is_open(high))
    }

    /// Gives the pins and the delay back.
    pub fn release(self) -> (OUT, Option<SENSE>, D) {
        (self.solenoid, self.sensor, self.delay)
    }
}

/// Drives `pin` to the level that energises (`on`) or releases the solenoid.
fn drive<P: OutputPin>(pin: &mut P, level: SolenoidLevel, on: bool) -> Result<(), P::Error> {
    match (level, on) {
        (SolenoidLevel::ActiveHigh, true) | (SolenoidLevel::ActiveLow, false) => pin.set_high(),
        (SolenoidLevel::ActiveHigh, false) | (SolenoidLevel::ActiveLow, true) => pin.set_low(),
    }
}

/// Releases the solenoid if it is dropped while armed, i.e. while a panic unwinds past the delay.
struct DeenergiseOnUnwind<'a, P: OutputPin> {
    pin: &'a mut P,
    level: SolenoidLevel,
    armed: bool,
}

impl<P: OutputPin> Drop for DeenergiseOnUnwind<'_, P> {
    fn drop(&mut self) {
        if self.armed {
            // Unwinding: there is no caller to hand an error to, and releasing is all we can do.
            let _ = drive(self.pin, self.level, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pulse_bounds_are_inclusive() {
        assert_eq!(PulseWidth::from_ms(10).map(PulseWidth::as_ms), Ok(10));
        assert_eq!(PulseWidth::from_ms(510).map(PulseWidth::as_ms), Ok(510));
        assert_eq!(
            PulseWidth::from_ms(9),
            Err(SettingsError::PulseOutOfRange { ms: 9 })
        );
        assert_eq!(
            PulseWidth::from_ms(511),
            Err(SettingsError::PulseOutOfRange { ms: 511 })
        );
        assert_eq!(
            PulseWidth::from_ms(0),
            Err(SettingsError::PulseOutOfRange { ms: 0 })
        );
    }

    #[test]
    fn settings_refuse_an_unsafe_pulse() {
        let err = DrawerSettings::new(600, SensorPolarity::ActiveLow, SolenoidLevel::ActiveHigh)
            .unwrap_err();
        assert_eq!(err, SettingsError::PulseOutOfRange { ms: 600 });
        assert_eq!(
            err.to_string(),
            "drawer kick pulse of 600 ms is outside the safe range 10..=510 ms"
        );
    }

    #[test]
    fn rest_keeps_duty_at_twenty_percent() {
        let pulse = PulseWidth::from_ms(120).unwrap();
        assert_eq!(pulse.min_rest(), Duration::from_millis(480));
        assert_eq!(pulse.as_duration(), Duration::from_millis(120));
    }

    #[test]
    fn polarity_maps_levels_to_open() {
        assert!(SensorPolarity::ActiveHigh.is_open(true));
        assert!(!SensorPolarity::ActiveHigh.is_open(false));
        assert!(SensorPolarity::ActiveLow.is_open(false));
        assert!(!SensorPolarity::ActiveLow.is_open(true));
    }

    #[test]
    fn error_kinds_and_messages() {
        let e: Error<&str> = Error::SolenoidStuck("io");
        assert_eq!(e.kind(), ErrorKind::SolenoidStuck);
        assert_eq!(e.pin_error(), Some(&"io"));
        assert!(e.to_string().contains("may still be energised"));
        assert_eq!(Error::<&str>::NoSensor.kind(), ErrorKind::NoSensor);
        assert_eq!(Error::<&str>::NoSensor.pin_error(), None);
        assert_eq!(Error::Energise(()).kind(), ErrorKind::Energise);
        assert_eq!(Error::Sensor(()).kind(), ErrorKind::Sensor);
    }
}
