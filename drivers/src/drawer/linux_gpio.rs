//! A [`GpioDrawer`] on Linux GPIO character devices (`/dev/gpiochipN`) through
//! linux-embedded-hal's `CdevPin` (gpio-cdev, GPIO uAPI v1). Feature `linux-gpio`.
//!
//! # Current limitations
//! - Compiled and linted only: the build and CI machines have no GPIO (no GPIOLIB, no
//!   gpio-sim), so nothing here has run against a chip yet; the drawer logic itself is tested
//!   through mocks.
//! - uAPI v1 has no line bias: the sensor input needs an external pull-up or pull-down.

use std::path::{Path, PathBuf};

use linux_embedded_hal::gpio_cdev::{self, Chip, LineRequestFlags};
use linux_embedded_hal::{CdevPin, Delay};

use super::gpio::{DrawerSettings, GpioDrawer, SolenoidLevel};

/// The consumer label the lines are requested under (shown by `gpioinfo`).
pub const CONSUMER: &str = "edge-drawer";

/// A drawer on `/dev/gpiochipN` lines.
pub type CdevDrawer = GpioDrawer<CdevPin, CdevPin, Delay>;

/// The GPIO chip or one of its lines could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The chip device could not be opened.
    #[error("cannot open GPIO chip {}", path.display())]
    Chip {
        /// The chip's device path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: gpio_cdev::Error,
    },
    /// A line of the chip could not be requested.
    #[error("cannot request line {offset} of GPIO chip {} as the drawer {role}", path.display())]
    Line {
        /// The chip's device path.
        path: PathBuf,
        /// The line's offset on the chip.
        offset: u32,
        /// `"solenoid output"` or `"sensor input"`.
        role: &'static str,
        /// The cause.
        #[source]
        source: gpio_cdev::Error,
    },
}

impl CdevDrawer {
    /// Opens a drawer on `chip` (e.g. `/dev/gpiochip0`): the solenoid on line `solenoid_line`,
    /// requested as an output already at its inactive level, and the sensor on `sensor_line`,
    /// if any, requested as an input. The lines stay requested until the drawer is dropped.
    pub fn from_chip(
        chip: impl AsRef<Path>,
        solenoid_line: u32,
        sensor_line: Option<u32>,
        settings: DrawerSettings,
    ) -> Result<Self, OpenError> {
        let path = chip.as_ref();
        let mut chip = Chip::new(path).map_err(|source| OpenError::Chip {
            path: path.to_owned(),
            source,
        })?;

        let inactive = match settings.solenoid {
            SolenoidLevel::ActiveHigh => 0,
            SolenoidLevel::ActiveLow => 1,
        };
        let solenoid = request(&mut chip, path, solenoid_line, "solenoid output", |line| {
            line.request(LineRequestFlags::OUTPUT, inactive, CONSUMER)
        })?;
        let sensor = sensor_line
            .map(|offset| {
                request(&mut chip, path, offset, "sensor input", |line| {
                    line.request(LineRequestFlags::INPUT, 0, CONSUMER)
                })
            })
            .transpose()?;

        Ok(GpioDrawer::new(solenoid, sensor, Delay, settings))
    }
}

/// Requests one line with `how` and wraps it in a `CdevPin`, naming the line in any error.
fn request(
    chip: &mut Chip,
    path: &Path,
    offset: u32,
    role: &'static str,
    how: impl FnOnce(gpio_cdev::Line) -> Result<gpio_cdev::LineHandle, gpio_cdev::Error>,
) -> Result<CdevPin, OpenError> {
    let line_error = |source| OpenError::Line {
        path: path.to_owned(),
        offset,
        role,
        source,
    };
    let line = chip.get_line(offset).map_err(line_error)?;
    let handle = how(line).map_err(line_error)?;
    CdevPin::new(handle).map_err(line_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_chip_is_a_typed_error_naming_the_path() {
        let settings = DrawerSettings::default();
        // CdevPin is not Debug, so no expect_err.
        let Err(err) =
            CdevDrawer::from_chip("/dev/gpiochip-does-not-exist", 17, Some(27), settings)
        else {
            panic!("no GPIO chips on this machine");
        };
        assert!(matches!(err, OpenError::Chip { .. }));
        assert!(
            err.to_string().contains("/dev/gpiochip-does-not-exist"),
            "{err}"
        );
    }
}
