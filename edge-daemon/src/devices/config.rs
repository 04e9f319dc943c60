//! Device configuration: stable logical names, never enumeration order.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `[devices]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevicesConfig {
    /// Start simulated devices (receipt and label printer on loopback TCP, a drawer on the
    /// receipt printer's kick port, a serial scanner on a pty, an LLRP reader on loopback) besides
    /// the listed ones. On for the embedded default; off on a store box.
    pub simulate: bool,
    /// How often printers' status is polled, in milliseconds.
    pub status_poll_ms: u64,
    /// How long a print job waits for paper or a closed cover before it fails, in seconds.
    pub job_wait_secs: u64,
    /// An open drawer raises the "left open" alarm after this many seconds.
    pub drawer_alarm_secs: u64,
    /// RFID reads are aggregated per EPC over windows of this many milliseconds; one event per
    /// window carries first and last seen, count, peak RSSI and antenna of every EPC.
    pub rfid_window_ms: u64,
    /// The store's devices, each under a stable name.
    pub list: Vec<DeviceSpec>,
}

impl Default for DevicesConfig {
    fn default() -> Self {
        DevicesConfig {
            simulate: true,
            status_poll_ms: 2_000,
            job_wait_secs: 600,
            drawer_alarm_secs: 120,
            rfid_window_ms: 1_000,
            list: Vec::new(),
        }
    }
}

/// Receipt paper width.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Paper {
    #[serde(rename = "58mm")]
    Mm58,
    #[default]
    #[serde(rename = "80mm")]
    Mm80,
}

/// Receipt printer font: `A` (12 × 24 dots, 48 columns on 80 mm) or `B` (9 × 17 dots, 64
/// columns on 80 mm).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Font {
    #[default]
    #[serde(rename = "A", alias = "a")]
    A,
    #[serde(rename = "B", alias = "b")]
    B,
}

impl From<Font> for drivers::escpos::Font {
    fn from(f: Font) -> drivers::escpos::Font {
        match f {
            Font::A => drivers::escpos::Font::A,
            Font::B => drivers::escpos::Font::B,
        }
    }
}

/// One device. `name` is how the API, the events and the logs refer to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeviceSpec {
    /// An ESC/POS receipt printer on raw TCP (`host:9100`), a USB printer class device
    /// (`/dev/usb/lp0`) or a serial port (`/dev/ttyUSB0`, 38,400 baud, or `/dev/ttyS0@9600`).
    ReceiptPrinter {
        name: String,
        address: String,
        #[serde(default)]
        paper: Paper,
        /// The font receipts are laid out in (`A` or `B`).
        #[serde(default)]
        font: Font,
    },
    /// A ZPL label printer on raw TCP (`host:9100`).
    LabelPrinter { name: String, address: String },
    /// A serial or USB-CDC scanner (`/dev/ttyACM0`).
    SerialScanner { name: String, path: PathBuf },
    /// A USB keyboard-wedge scanner (`/dev/input/by-id/…-event-kbd`), grabbed exclusively so
    /// its keystrokes reach no console or other program.
    WedgeScanner {
        name: String,
        path: PathBuf,
        /// The keyboard country the scanner is set to.
        #[serde(default)]
        layout: WedgeLayout,
        /// The key the scanner sends after each scan.
        #[serde(default)]
        suffix: WedgeSuffix,
    },
    /// An LLRP RFID reader (`host:5084`).
    RfidReader { name: String, address: String },
    /// A cash drawer on a receipt printer's kick port.
    KickDrawer {
        name: String,
        /// The `name` of the receipt printer it hangs on.
        printer: String,
        /// Kick connector pin: 2 or 5.
        #[serde(default = "default_kick_pin")]
        pin: u8,
        /// The drawer sensor reads "open" when the printer's status bit is high.
        #[serde(default)]
        sensor_open_high: bool,
        /// Kick pulse length in ms, 2 to 510 (default 100); the rest after it is four times as
        /// long, at most 510 ms.
        #[serde(default = "default_kick_pulse_ms")]
        pulse_ms: u16,
    },
    /// A cash drawer on the box's own GPIO lines.
    GpioDrawer {
        name: String,
        /// The GPIO chip, e.g. `/dev/gpiochip0`.
        chip: PathBuf,
        /// The line driving the solenoid.
        solenoid_line: u32,
        /// The line of the open sensor, if one is wired.
        #[serde(default)]
        sensor_line: Option<u32>,
        /// How long a kick energises the solenoid, in milliseconds.
        #[serde(default = "default_pulse_ms")]
        pulse_ms: u32,
        /// The sensor reads "open" when its line is high.
        #[serde(default = "yes")]
        sensor_open_high: bool,
        /// Driving the solenoid line low energises it (many relay boards).
        #[serde(default)]
        solenoid_active_low: bool,
    },
}

fn default_pulse_ms() -> u32 {
    100
}

fn yes() -> bool {
    true
}

/// Keyboard layout of a wedge scanner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum WedgeLayout {
    #[default]
    Us,
    De,
}

/// What ends a wedge scanner's scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum WedgeSuffix {
    #[default]
    Enter,
    Tab,
    /// No suffix key: a pause in typing ends the scan.
    None,
}

impl DeviceSpec {
    /// The driver settings of a wedge scanner.
    pub fn wedge_config(layout: WedgeLayout, suffix: WedgeSuffix) -> drivers::scanner::WedgeConfig {
        drivers::scanner::WedgeConfig {
            layout: match layout {
                WedgeLayout::Us => drivers::scanner::Layout::Us,
                WedgeLayout::De => drivers::scanner::Layout::De,
            },
            suffix: match suffix {
                WedgeSuffix::Enter => drivers::scanner::Suffix::Enter,
                WedgeSuffix::Tab => drivers::scanner::Suffix::Tab,
                WedgeSuffix::None => drivers::scanner::Suffix::None,
            },
            ..Default::default()
        }
    }
}

fn default_kick_pin() -> u8 {
    2
}

fn default_kick_pulse_ms() -> u16 {
    100
}

impl DeviceSpec {
    /// The device's logical name.
    pub fn name(&self) -> &str {
        match self {
            DeviceSpec::ReceiptPrinter { name, .. }
            | DeviceSpec::LabelPrinter { name, .. }
            | DeviceSpec::SerialScanner { name, .. }
            | DeviceSpec::WedgeScanner { name, .. }
            | DeviceSpec::RfidReader { name, .. }
            | DeviceSpec::KickDrawer { name, .. }
            | DeviceSpec::GpioDrawer { name, .. } => name,
        }
    }

    /// The kind, as the API names it.
    pub fn kind(&self) -> &'static str {
        match self {
            DeviceSpec::ReceiptPrinter { .. } => "receipt_printer",
            DeviceSpec::LabelPrinter { .. } => "label_printer",
            DeviceSpec::SerialScanner { .. } | DeviceSpec::WedgeScanner { .. } => "scanner",
            DeviceSpec::RfidReader { .. } => "rfid_reader",
            DeviceSpec::KickDrawer { .. } | DeviceSpec::GpioDrawer { .. } => "drawer",
        }
    }
}

/// Checks names are unique and references resolve; returns one message per problem.
pub fn validate(list: &[DeviceSpec]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for d in list {
        let name = d.name();
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            problems.push(format!(
                "devices.list: name {name:?} must be 1-64 of A-Z a-z 0-9 - _"
            ));
        }
        if !seen.insert(name) {
            problems.push(format!("devices.list: the name {name:?} is used twice"));
        }
    }
    for d in list {
        if let DeviceSpec::GpioDrawer { name, pulse_ms, .. } = d {
            if let Err(e) = drivers::drawer::PulseWidth::from_ms(*pulse_ms) {
                problems.push(format!("devices.list: drawer {name:?}: {e}"));
            }
        }
        if let DeviceSpec::ReceiptPrinter { name, address, .. } = d {
            if let Err(e) = drivers::escpos::PrinterAddress::parse(address) {
                problems.push(format!("devices.list: printer {name:?}: {e}"));
            }
        }
        if let DeviceSpec::KickDrawer {
            name,
            printer,
            pin,
            pulse_ms,
            ..
        } = d
        {
            if !(2..=510).contains(pulse_ms) {
                problems.push(format!(
                    "devices.list: drawer {name:?} pulse_ms must be 2 to 510"
                ));
            }
            let found = list
                .iter()
                .any(|p| matches!(p, DeviceSpec::ReceiptPrinter { name: n, .. } if n == printer));
            if !found {
                problems.push(format!(
                    "devices.list: drawer {name:?} hangs on {printer:?}, \
                     which is no receipt printer"
                ));
            }
            if *pin != 2 && *pin != 5 {
                problems.push(format!("devices.list: drawer {name:?} pin must be 2 or 5"));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_from_toml_with_defaults() {
        let text = r#"
            simulate = false
            [[list]]
            kind = "receipt_printer"
            name = "receipt-1"
            address = "10.0.0.5:9100"
            [[list]]
            kind = "kick_drawer"
            name = "drawer-1"
            printer = "receipt-1"
        "#;
        let cfg: DevicesConfig = toml::from_str(text).unwrap();
        assert!(!cfg.simulate);
        assert_eq!(cfg.list.len(), 2);
        assert_eq!(cfg.list[0].kind(), "receipt_printer");
        assert!(matches!(
            cfg.list[0],
            DeviceSpec::ReceiptPrinter {
                paper: Paper::Mm80,
                font: Font::A,
                ..
            }
        ));
        assert!(matches!(
            cfg.list[1],
            DeviceSpec::KickDrawer {
                pin: 2,
                pulse_ms: 100,
                ..
            }
        ));
        assert!(validate(&cfg.list).is_empty());
    }

    #[test]
    fn duplicate_names_and_dangling_drawers_are_reported() {
        let list = vec![
            DeviceSpec::LabelPrinter {
                name: "x".into(),
                address: "a:1".into(),
            },
            DeviceSpec::RfidReader {
                name: "x".into(),
                address: "a:2".into(),
            },
            DeviceSpec::KickDrawer {
                name: "d".into(),
                printer: "x".into(),
                pin: 3,
                sensor_open_high: false,
                pulse_ms: 600,
            },
        ];
        let problems = validate(&list);
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn a_wedge_scanner_takes_layout_and_suffix() {
        let text = "[[list]]\nkind = \"wedge_scanner\"\nname = \"w\"\n\
                    path = \"/dev/input/event3\"\nlayout = \"de\"\nsuffix = \"tab\"\n";
        let cfg: DevicesConfig = toml::from_str(text).unwrap();
        let DeviceSpec::WedgeScanner { layout, suffix, .. } = cfg.list[0] else {
            panic!("{:?}", cfg.list[0]);
        };
        let wc = DeviceSpec::wedge_config(layout, suffix);
        assert_eq!(wc.layout, drivers::scanner::Layout::De);
        assert_eq!(wc.suffix, drivers::scanner::Suffix::Tab);
        assert_eq!(cfg.list[0].kind(), "scanner");
    }

    #[test]
    fn a_gpio_drawer_takes_lines_pulse_and_polarity() {
        let text = "[[list]]\nkind = \"gpio_drawer\"\nname = \"d\"\n\
                    chip = \"/dev/gpiochip0\"\nsolenoid_line = 17\nsensor_line = 27\n";
        let cfg: DevicesConfig = toml::from_str(text).unwrap();
        assert!(matches!(
            cfg.list[0],
            DeviceSpec::GpioDrawer {
                solenoid_line: 17,
                sensor_line: Some(27),
                pulse_ms: 100,
                sensor_open_high: true,
                solenoid_active_low: false,
                ..
            }
        ));
        assert!(validate(&cfg.list).is_empty());
        let long = text.replace("sensor_line = 27", "pulse_ms = 5000");
        let cfg: DevicesConfig = toml::from_str(&long).unwrap();
        assert_eq!(validate(&cfg.list).len(), 1, "{:?}", validate(&cfg.list));
    }

    #[test]
    fn an_unknown_kind_is_an_error() {
        let text = "[[list]]\nkind = \"toaster\"\nname = \"t\"\n";
        assert!(toml::from_str::<DevicesConfig>(text).is_err());
    }
}
