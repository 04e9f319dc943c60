//! `GpioDrawer` against embedded-hal-mock pins: the exact pin transactions of `open()` and
//! `is_open()` for every level and polarity, the error paths, and the pulse length measured by a
//! recording `DelayNs` (the pin mocks check order, not time).

use std::cell::RefCell;
use std::error::Error as _;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use drivers::drawer::{
    DrawerSettings, ErrorKind, GpioDrawer, PulseWidth, SensorPolarity, SolenoidLevel,
};
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{ErrorType, OutputPin};
use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction};
use embedded_hal_mock::eh1::MockError;

const NS_PER_MS: u64 = 1_000_000;

/// A delay that waits for nothing and records every requested nanosecond count.
#[derive(Debug, Clone, Default)]
struct RecordingDelay {
    calls: Rc<RefCell<Vec<u32>>>,
}

impl RecordingDelay {
    fn total_ns(&self) -> u64 {
        self.calls.borrow().iter().map(|&ns| u64::from(ns)).sum()
    }

    fn was_called(&self) -> bool {
        !self.calls.borrow().is_empty()
    }
}

impl DelayNs for RecordingDelay {
    fn delay_ns(&mut self, ns: u32) {
        self.calls.borrow_mut().push(ns);
    }
}

fn settings(pulse_ms: u32, sensor: SensorPolarity, solenoid: SolenoidLevel) -> DrawerSettings {
    DrawerSettings::new(pulse_ms, sensor, solenoid).expect("a pulse within the safe range")
}

fn io_error() -> MockError {
    MockError::Io(io::ErrorKind::Other)
}

#[test]
fn open_active_high_pulses_high_then_low() {
    let mut solenoid = PinMock::new(&[Transaction::set(State::High), Transaction::set(State::Low)]);
    let delay = RecordingDelay::default();
    let s = settings(100, SensorPolarity::ActiveHigh, SolenoidLevel::ActiveHigh);
    let mut drawer = GpioDrawer::without_sensor(solenoid.clone(), delay.clone(), s);

    drawer.open().expect("kick");

    assert_eq!(delay.total_ns(), 100 * NS_PER_MS);
    solenoid.done();
}

#[test]
fn open_active_low_pulses_low_then_high() {
    let mut solenoid = PinMock::new(&[Transaction::set(State::Low), Transaction::set(State::High)]);
    let delay = RecordingDelay::default();
    let s = settings(250, SensorPolarity::ActiveHigh, SolenoidLevel::ActiveLow);
    let mut drawer = GpioDrawer::without_sensor(solenoid.clone(), delay.clone(), s);

    drawer.open().expect("kick");

    assert_eq!(delay.total_ns(), 250 * NS_PER_MS);
    solenoid.done();
}

#[test]
fn pulse_length_follows_the_settings_at_both_bounds() {
    for pulse_ms in [
        PulseWidth::MIN_MS,
        PulseWidth::DEFAULT.as_ms(),
        PulseWidth::MAX_MS,
    ] {
        let mut solenoid =
            PinMock::new(&[Transaction::set(State::High), Transaction::set(State::Low)]);
        let delay = RecordingDelay::default();
        let s = settings(
            pulse_ms,
            SensorPolarity::ActiveHigh,
            SolenoidLevel::ActiveHigh,
        );
        let mut drawer = GpioDrawer::without_sensor(solenoid.clone(), delay.clone(), s);

        drawer.open().expect("kick");

        assert_eq!(
            delay.total_ns(),
            u64::from(pulse_ms) * NS_PER_MS,
            "pulse {pulse_ms} ms"
        );
        solenoid.done();
    }
}

#[test]
fn two_kicks_repeat_the_same_transactions() {
    let pulse = [Transaction::set(State::High), Transaction::set(State::Low)];
    let mut solenoid = PinMock::new(&[pulse.clone(), pulse].concat());
    let delay = RecordingDelay::default();
    let mut drawer =
        GpioDrawer::without_sensor(solenoid.clone(), delay.clone(), Default::default());

    drawer.open().expect("first kick");
    drawer.open().expect("second kick");

    assert_eq!(delay.total_ns(), 2 * 100 * NS_PER_MS);
    solenoid.done();
}

#[test]
fn sensor_active_high_reads_high_as_open() {
    let mut solenoid = PinMock::new(&[]);
    let mut sensor = PinMock::new(&[Transaction::get(State::High), Transaction::get(State::Low)]);
    let s = settings(100, SensorPolarity::ActiveHigh, SolenoidLevel::ActiveHigh);
    let mut drawer = GpioDrawer::with_sensor(
        solenoid.clone(),
        sensor.clone(),
        RecordingDelay::default(),
        s,
    );

    assert!(drawer.has_sensor());
    assert!(drawer.is_open().expect("read"));
    assert!(!drawer.is_open().expect("read"));

    solenoid.done();
    sensor.done();
}

#[test]
fn sensor_active_low_reads_low_as_open() {
    let mut solenoid = PinMock::new(&[]);
    let mut sensor = PinMock::new(&[Transaction::get(State::Low), Transaction::get(State::High)]);
    let s = settings(100, SensorPolarity::ActiveLow, SolenoidLevel::ActiveHigh);
    let mut drawer = GpioDrawer::with_sensor(
        solenoid.clone(),
        sensor.clone(),
        RecordingDelay::default(),
        s,
    );

    assert!(drawer.is_open().expect("read"));
    assert!(!drawer.is_open().expect("read"));

    solenoid.done();
    sensor.done();
}

#[test]
fn kick_then_poll_the_sensor() {
    // The workflow of PROTOCOLS.md §6.2: kick pulse, then the sensor reads "closed" (low, with
    // an active-high sensor) until the drawer springs open.
    let mut solenoid = PinMock::new(&[Transaction::set(State::High), Transaction::set(State::Low)]);
    let mut sensor = PinMock::new(&[Transaction::get(State::Low), Transaction::get(State::High)]);
    let delay = RecordingDelay::default();
    let mut drawer = GpioDrawer::with_sensor(
        solenoid.clone(),
        sensor.clone(),
        delay.clone(),
        Default::default(),
    );

    drawer.open().expect("kick");
    assert!(!drawer.is_open().expect("read"));
    assert!(drawer.is_open().expect("read"));

    assert_eq!(delay.total_ns(), 100 * NS_PER_MS);
    solenoid.done();
    sensor.done();
}

#[test]
fn error_energising_returns_at_once_without_delay_or_release() {
    let mut solenoid = PinMock::new(&[Transaction::set(State::High).with_error(io_error())]);
    let delay = RecordingDelay::default();
    let mut drawer =
        GpioDrawer::without_sensor(solenoid.clone(), delay.clone(), Default::default());

    let err = drawer.open().expect_err("set_high fails");

    assert_eq!(err.kind(), ErrorKind::Energise);
    assert_eq!(err.pin_error(), Some(&io_error()));
    assert!(err.source().is_some(), "the pin error is the source");
    assert!(
        !delay.was_called(),
        "no pulse when the solenoid could not be energised"
    );
    solenoid.done();
}

#[test]
fn error_energising_active_low() {
    let mut solenoid = PinMock::new(&[Transaction::set(State::Low).with_error(io_error())]);
    let delay = RecordingDelay::default();
    let s = settings(100, SensorPolarity::ActiveHigh, SolenoidLevel::ActiveLow);
    let mut drawer = GpioDrawer::without_sensor(solenoid.clone(), delay.clone(), s);

    assert_eq!(
        drawer.open().expect_err("set_low fails").kind(),
        ErrorKind::Energise
    );

    assert!(!delay.was_called());
    solenoid.done();
}

#[test]
fn error_releasing_says_the_solenoid_may_be_stuck() {
    let mut solenoid = PinMock::new(&[
        Transaction::set(State::High),
        Transaction::set(State::Low).with_error(io_error()),
    ]);
    let delay = RecordingDelay::default();
    let mut drawer =
        GpioDrawer::without_sensor(solenoid.clone(), delay.clone(), Default::default());

    let err = drawer.open().expect_err("set_low fails");

    assert_eq!(err.kind(), ErrorKind::SolenoidStuck);
    assert_eq!(err.pin_error(), Some(&io_error()));
    assert!(err.to_string().contains("may still be energised"), "{err}");
    assert_eq!(
        delay.total_ns(),
        100 * NS_PER_MS,
        "the full pulse ran before the release"
    );
    solenoid.done();
}

#[test]
fn error_releasing_active_low() {
    let mut solenoid = PinMock::new(&[
        Transaction::set(State::Low),
        Transaction::set(State::High).with_error(io_error()),
    ]);
    let s = settings(100, SensorPolarity::ActiveHigh, SolenoidLevel::ActiveLow);
    let mut drawer = GpioDrawer::without_sensor(solenoid.clone(), RecordingDelay::default(), s);

    assert_eq!(
        drawer.open().expect_err("set_high fails").kind(),
        ErrorKind::SolenoidStuck
    );

    solenoid.done();
}

#[test]
fn error_reading_the_sensor() {
    let mut solenoid = PinMock::new(&[]);
    let mut sensor = PinMock::new(&[Transaction::get(State::High).with_error(io_error())]);
    let mut drawer = GpioDrawer::with_sensor(
        solenoid.clone(),
        sensor.clone(),
        RecordingDelay::default(),
        Default::default(),
    );

    let err = drawer.is_open().expect_err("read fails");

    assert_eq!(err.kind(), ErrorKind::Sensor);
    assert_eq!(err.pin_error(), Some(&io_error()));
    solenoid.done();
    sensor.done();
}

#[test]
fn no_sensor_means_unknown_state_and_no_pin_traffic() {
    let mut solenoid = PinMock::new(&[]);
    let mut drawer = GpioDrawer::without_sensor(
        solenoid.clone(),
        RecordingDelay::default(),
        Default::default(),
    );

    assert!(!drawer.has_sensor());
    let err = drawer.is_open().expect_err("no sensor");
    assert_eq!(err.kind(), ErrorKind::NoSensor);
    assert_eq!(err.pin_error(), None);

    solenoid.done();
}

#[test]
fn explicit_none_sensor_behaves_like_without_sensor() {
    let mut solenoid = PinMock::new(&[]);
    let mut drawer = GpioDrawer::new(
        solenoid.clone(),
        None::<PinMock>,
        RecordingDelay::default(),
        Default::default(),
    );

    assert_eq!(
        drawer.is_open().expect_err("no sensor").kind(),
        ErrorKind::NoSensor
    );

    let (_, sensor, _) = drawer.release();
    assert!(sensor.is_none());
    solenoid.done();
}

/// A delay that panics, as a broken timer implementation might.
#[derive(Debug)]
struct PanickingDelay;

impl DelayNs for PanickingDelay {
    fn delay_ns(&mut self, _ns: u32) {
        panic!("timer failure");
    }
}

#[test]
fn a_panicking_delay_still_releases_the_solenoid() {
    for (level, on, off) in [
        (SolenoidLevel::ActiveHigh, State::High, State::Low),
        (SolenoidLevel::ActiveLow, State::Low, State::High),
    ] {
        let mut solenoid = PinMock::new(&[Transaction::set(on), Transaction::set(off)]);
        let s = settings(100, SensorPolarity::ActiveHigh, level);
        let mut drawer = GpioDrawer::without_sensor(solenoid.clone(), PanickingDelay, s);

        let outcome = panic::catch_unwind(AssertUnwindSafe(|| drawer.open()));

        assert!(outcome.is_err(), "the panic goes on to the caller");
        solenoid.done();
    }
}

/// One step seen by the recording pin and delay, in the order they happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    High,
    Low,
    DelayNs(u32),
}

type Log = Rc<RefCell<Vec<Step>>>;

/// An output pin that logs into a log shared with [`LoggingDelay`].
#[derive(Debug)]
struct LoggingPin(Log);

impl ErrorType for LoggingPin {
    type Error = core::convert::Infallible;
}

impl OutputPin for LoggingPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.0.borrow_mut().push(Step::Low);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.0.borrow_mut().push(Step::High);
        Ok(())
    }
}

/// A delay that logs into a log shared with [`LoggingPin`].
#[derive(Debug)]
struct LoggingDelay(Log);

impl DelayNs for LoggingDelay {
    fn delay_ns(&mut self, ns: u32) {
        self.0.borrow_mut().push(Step::DelayNs(ns));
    }
}

#[test]
fn the_delay_sits_between_energise_and_release() {
    let log = Log::default();
    let s = settings(120, SensorPolarity::ActiveHigh, SolenoidLevel::ActiveHigh);
    let mut drawer =
        GpioDrawer::without_sensor(LoggingPin(log.clone()), LoggingDelay(log.clone()), s);

    drawer.open().expect("infallible pins");

    assert_eq!(
        *log.borrow(),
        [Step::High, Step::DelayNs(120_000_000), Step::Low]
    );
}
