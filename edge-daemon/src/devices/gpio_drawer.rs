//! A cash drawer wired to the box's own GPIO lines (`/dev/gpiochipN`): a worker thread that
//! kicks the solenoid on request and samples the optional open sensor, with the "left open"
//! alarm.
//!
//! The pin logic is the drivers crate's [`GpioDrawer`](drivers::drawer::GpioDrawer), tested
//! there against embedded-hal mocks; this worker only schedules it. A chip that cannot be
//! opened leaves the drawer `offline` and is retried.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use drivers::drawer::linux_gpio::CdevDrawer;
use drivers::drawer::{DrawerSettings, OpenAlarm};

use super::hub::{DeviceEvent, Hub};
use super::printer::{error_chain, Command};
use super::state::Shared;

/// How often the sensor is sampled (the driver does not debounce; a slow steady rate does).
const SAMPLE: Duration = Duration::from_millis(250);
/// How long to wait before opening a chip again after it failed.
const RETRY: Duration = Duration::from_secs(30);

/// A drawer on GPIO lines.
#[derive(Debug, Clone)]
pub struct GpioDrawerWorker {
    pub name: String,
    pub chip: PathBuf,
    pub solenoid_line: u32,
    pub sensor_line: Option<u32>,
    pub settings: DrawerSettings,
    pub alarm_after: Duration,
    pub state: Shared,
    pub hub: Hub,
}

impl GpioDrawerWorker {
    /// Runs until [`Command::Stop`] or until every sender is gone.
    pub fn run(self, rx: Receiver<Command>) {
        let started = Instant::now();
        let mut drawer: Option<CdevDrawer> = None;
        let mut next_try = Instant::now();
        let mut alarm = OpenAlarm::new(self.alarm_after);
        let mut last: Option<bool> = None;
        loop {
            if drawer.is_none() && Instant::now() >= next_try {
                match CdevDrawer::from_chip(
                    &self.chip,
                    self.solenoid_line,
                    self.sensor_line,
                    self.settings,
                ) {
                    Ok(d) => {
                        self.set_state("closed", None);
                        drawer = Some(d);
                    }
                    Err(e) => {
                        self.set_state("offline", Some(error_chain(&e)));
                        next_try = Instant::now() + RETRY;
                    }
                }
            }
            if let Some(d) = drawer.as_mut().filter(|d| d.has_sensor()) {
                match d.is_open() {
                    Ok(open) => {
                        self.observe(open, &mut last, &mut alarm, started);
                    }
                    Err(e) => self.set_state("error", Some(e.to_string())),
                }
            }
            match rx.recv_timeout(SAMPLE) {
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Command::Wake) | Err(RecvTimeoutError::Timeout) => {}
                Ok(Command::Kick { reply, .. }) => {
                    let res = match drawer.as_mut() {
                        Some(d) => d.open().map_err(|e| e.to_string()),
                        None => Err("the GPIO chip is not open".to_owned()),
                    };
                    let _ = reply.send(res);
                }
                Ok(Command::Raw { reply, .. }) => {
                    let _ = reply.send(Err("a GPIO drawer takes no raw bytes".into()));
                }
                Ok(Command::Check { reply }) => {
                    let res = match drawer.as_mut() {
                        Some(d) if d.has_sensor() => d
                            .is_open()
                            .map(|o| if o { "open" } else { "closed" }.to_owned())
                            .map_err(|e| e.to_string()),
                        Some(_) => Ok("ready (no sensor)".to_owned()),
                        None => Err("the GPIO chip is not open".to_owned()),
                    };
                    let _ = reply.send(res);
                }
            }
        }
    }

    fn observe(&self, open: bool, last: &mut Option<bool>, alarm: &mut OpenAlarm, t0: Instant) {
        let now_ms = t0.elapsed().as_millis() as u64;
        let (state, event) = super::printer::drawer_sample(alarm, last, open, now_ms);
        self.set_state(state, None);
        if let Some(event) = event {
            if event == "left_open" {
                tracing::warn!(device = %self.name, "drawer left open");
            }
            self.hub.publish(DeviceEvent::Drawer {
                device: self.name.clone(),
                state: event.to_owned(),
            });
        }
    }

    fn set_state(&self, state: &str, detail: Option<String>) {
        super::readers::set_state(&self.hub, &self.name, &self.state, state, detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    #[test]
    fn a_missing_chip_is_offline_with_its_path_and_kicks_fail_clearly() {
        let state = super::super::printer::new_shared();
        let worker = GpioDrawerWorker {
            name: "drawer-gpio".into(),
            chip: PathBuf::from("/dev/gpiochip-that-is-not-there"),
            solenoid_line: 17,
            sensor_line: Some(27),
            settings: DrawerSettings::default(),
            alarm_after: Duration::from_secs(60),
            state: state.clone(),
            hub: Hub::default(),
        };
        let (tx, rx) = channel();
        let t = std::thread::spawn(move || worker.run(rx));
        let (reply, answer) = channel();
        tx.send(Command::Kick {
            pin: 0,
            pulse_ms: 0,
            reply,
        })
        .unwrap();
        let res = answer.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(res, Err("the GPIO chip is not open".to_owned()));
        let s = state.lock().unwrap().clone();
        assert_eq!(s.state, "offline");
        let detail = s.detail.unwrap_or_default();
        assert!(detail.contains("gpiochip-that-is-not-there"), "{detail}");
        tx.send(Command::Stop).unwrap();
        t.join().unwrap();
    }
}
