//! A [`GpioDrawer`] on Raspberry Pi GPIO pins addressed by BCM number, through rppal with its
//! `hal` feature. Feature `rppal`.
//!
//! Electrical note (PROTOCOLS.md §5.2): a Pi pin is 3.3 V logic with a few mA of drive; it
//! drives a logic-level MOSFET or relay board that switches the drawer's 24 V solenoid (with a
//! flyback diode), never the solenoid itself.
//!
//! # Current limitations
//! - Compiled and linted only: there is no Raspberry Pi here or in CI. rppal's pins cannot fail
//!   once acquired (their error type is `Infallible`), so only opening can fail.
//! - The sensor input always gets the internal pull-up (a microswitch to ground); a drawer whose
//!   switch needs a pull-down needs an external resistor.

use core::convert::Infallible;

use rppal::gpio::{self, Gpio, InputPin, OutputPin};
use rppal::hal::Delay;

use super::gpio::{DrawerSettings, GpioDrawer, SolenoidLevel};

/// A drawer on Raspberry Pi pins.
pub type RpiDrawer = GpioDrawer<OutputPin, InputPin, Delay>;

/// The GPIO peripheral or one of its pins could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The GPIO peripheral could not be opened (not a Pi, or no permission).
    #[error("cannot open the Raspberry Pi GPIO peripheral")]
    Gpio(#[source] gpio::Error),
    /// A pin could not be acquired.
    #[error("cannot acquire BCM pin {bcm} as the drawer {role}")]
    Pin {
        /// The pin's BCM number.
        bcm: u8,
        /// `"solenoid output"` or `"sensor input"`.
        role: &'static str,
        /// The cause.
        #[source]
        source: gpio::Error,
    },
}

impl RpiDrawer {
    /// Opens a drawer with the solenoid on BCM pin `solenoid_bcm`, set as an output already at
    /// its inactive level, and the sensor on `sensor_bcm`, if any, as an input with pull-up.
    /// The pins return to their previous mode when the drawer is dropped.
    pub fn from_bcm(
        solenoid_bcm: u8,
        sensor_bcm: Option<u8>,
        settings: DrawerSettings,
    ) -> Result<Self, OpenError> {
        let gpio = Gpio::new().map_err(OpenError::Gpio)?;
        let pin = |bcm, role| {
            gpio.get(bcm)
                .map_err(|source| OpenError::Pin { bcm, role, source })
        };

        let solenoid = pin(solenoid_bcm, "solenoid output")?;
        let solenoid = match settings.solenoid {
            SolenoidLevel::ActiveHigh => solenoid.into_output_low(),
            SolenoidLevel::ActiveLow => solenoid.into_output_high(),
        };
        let sensor = sensor_bcm
            .map(|bcm| pin(bcm, "sensor input").map(gpio::Pin::into_input_pullup))
            .transpose()?;

        Ok(GpioDrawer::new(solenoid, sensor, Delay::new(), settings))
    }
}

/// rppal pins cannot fail, so neither can kicking a Pi drawer once it is open.
pub type RpiError = super::gpio::Error<Infallible>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_pi_opening_fails_with_a_typed_error() {
        // No Raspberry Pi here: rppal cannot identify the model or open /dev/gpiomem.
        let err = RpiDrawer::from_bcm(17, Some(27), DrawerSettings::default())
            .expect_err("this machine is not a Raspberry Pi");
        assert!(matches!(err, OpenError::Gpio(_)), "{err:?}");
    }
}
