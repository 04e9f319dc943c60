//! Helpers for the cloud-link tests: an MQTT broker on a free port, the `cloud-bridge` binary
//! as a child process, a JSON-lines sink reader, and a small MQTT client.
//!
//! The broker is Mosquitto where `/usr/sbin/mosquitto` is installed, else the fallback
//! `mqtt-broker` binary of this crate (rumqttd in memory), so that the tests test on a fresh
//! machine too; `E2E_MQTT_BROKER=fallback` forces the fallback. Either runs without
//! persistence as a child process, so a SIGKILL and restart loses every retained message,
//! session and queued message: the link must recover from the journal alone.
//!
//! # Limits of the fallback broker
//! - Shared subscriptions are dispatched round robin, like Mosquitto's; nothing in the tests
//!   depends on a topic-hash strategy.
//! - It has no TLS listener here, and no `max_queued_messages` (a disconnected clean-session
//!   client gets nothing queued on either broker).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;

use crate::free_port;

/// Where Debian installs the broker.
pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// Whether Mosquitto is installed.
pub fn mosquitto_available() -> bool {
    Path::new(MOSQUITTO).exists()
}

/// Which broker program the tests run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    Mosquitto,
    /// The `mqtt-broker` binary of this crate (rumqttd).
    Fallback,
}

impl BrokerKind {
    /// Mosquitto if installed and not overridden by `E2E_MQTT_BROKER=fallback`.
    pub fn chosen() -> BrokerKind {
        let forced = std::env::var("E2E_MQTT_BROKER").is_ok_and(|v| v == "fallback");
        if mosquitto_available() && !forced {
            BrokerKind::Mosquitto
        } else {
            BrokerKind::Fallback
        }
    }
}

/// Path of the fallback broker binary, building it if needed.
pub fn fallback_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::build_binary("e2e", "mqtt-broker"))
}

/// An MQTT broker on loopback: Mosquitto or the fallback (see [`BrokerKind::chosen`]).
#[derive(Debug)]
pub struct Broker {
    child: Option<Child>,
    pub port: u16,
    conf: PathBuf,
    pub kind: BrokerKind,
}

impl Broker {
    /// Starts a broker with its configuration under `dir`.
    pub fn start(dir: &Path) -> anyhow::Result<Broker> {
        let port = free_port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_queued_messages 100000\nmax_inflight_messages 100\nlog_dest none\n"
            ),
        )?;
        let kind = BrokerKind::chosen();
        if kind == BrokerKind::Fallback {
            eprintln!("broker: the fallback mqtt-broker (rumqttd), not Mosquitto");
        }
        let mut b = Broker {
            child: None,
            port,
            conf,
            kind,
        };
        b.up()?;
        Ok(b)
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Starts the broker again on the same port (after [`Broker::down`]).
    pub fn up(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        // Built (once) before the start-up deadline runs.
        let program = match self.kind {
            BrokerKind::Mosquitto => Path::new(MOSQUITTO),
            BrokerKind::Fallback => fallback_binary(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut cmd = Command::new(program);
            match self.kind {
                BrokerKind::Mosquitto => cmd.arg("-c").arg(&self.conf),
                BrokerKind::Fallback => cmd.arg(self.port.to_string()),
            };
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("spawn the MQTT broker")?;
            // Up when the port accepts; exited when the port is still held by the old socket.
            while Instant::now() < deadline {
                if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    self.child = Some(child);
                    return Ok(());
                }
                if child.try_wait()?.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            if Instant::now() >= deadline {
                bail!(
                    "the {:?} broker did not start on port {}",
                    self.kind,
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: every connection, session and retained message is gone.
    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.down();
    }
}

/// Path of the `cloud-bridge` binary, building it if needed.
pub fn bridge_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::build_binary("cloud-bridge", "cloud-bridge"))
}

/// `cloud-bridge run` with a JSON-lines file sink.
#[derive(Debug)]
pub struct Bridge {
    child: Child,
}

impl Bridge {
    pub fn start(url: &str, sink: &Path) -> anyhow::Result<Bridge> {
        let child = Command::new(bridge_binary())
            .args(["run", "--mqtt", url, "--gap-timeout-ms", "300", "--sink"])
            .arg(format!("file:{}", sink.display()))
            .env("CLOUD_BRIDGE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawn cloud-bridge")?;
        Ok(Bridge { child })
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cloud-bridge ARGS` to completion.
pub fn bridge_cli(args: &[&str]) -> anyhow::Result<std::process::Output> {
    Command::new(bridge_binary())
        .args(args)
        .env("CLOUD_BRIDGE_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .context("run cloud-bridge")
}

/// Every complete line of the sink file, parsed.
pub fn read_sink(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits until the sink holds at least `n` lines; returns them.
pub fn wait_for_sink(path: &Path, n: usize, within: Duration) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + within;
    loop {
        let lines = read_sink(path);
        if lines.len() >= n {
            return Ok(lines);
        }
        if Instant::now() >= deadline {
            bail!("sink has {} of {n} events after {within:?}", lines.len());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `cloud-bridge fleet --once --json`, as JSON.
pub fn fleet(url: &str) -> anyhow::Result<Value> {
    let out = bridge_cli(&[
        "fleet",
        "--mqtt",
        url,
        "--once",
        "--json",
        "--collect-ms",
        "700",
    ])?;
    if !out.status.success() {
        bail!("fleet failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}
