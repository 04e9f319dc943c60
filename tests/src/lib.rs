//! Helpers for the end-to-end tests: run the real `edge-daemon` binary on a data directory on
//! the real disk, talk to it over HTTP on loopback, and stop or kill it.
//!
//! The binary is the one `cargo build` puts next to the test executables; if it is missing (a
//! test run of this crate alone), it is built once with `cargo build -p edge-daemon`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub mod cloud;

/// Path of the `edge-daemon` binary, building it if needed.
pub fn daemon_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build_binary("edge-daemon", "edge-daemon"))
}

/// Builds `bin` of `package` in the test's profile (cheap when fresh, and it never runs a stale
/// binary) and returns its path.
pub fn build_binary(package: &str, bin: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<bin>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile dir");
    let path = profile_dir.join(bin);
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "-p", package, "--bin", bin]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build");
    assert!(status.success(), "cargo build -p {package} failed");
    assert!(path.exists(), "{} missing after build", path.display());
    path
}

/// A free TCP port on loopback (bound and released; good enough for tests on one machine).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// A running daemon.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    pub base: String,
    pub data: PathBuf,
    port: u16,
    envs: Vec<(String, String)>,
}

impl Daemon {
    /// Starts `edge-daemon run` on `data` with extra environment settings, and waits until
    /// `/v1/health` answers.
    pub fn start(data: &Path, envs: &[(&str, &str)]) -> anyhow::Result<Daemon> {
        let port = free_port();
        let envs: Vec<(String, String)> = envs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Daemon::spawn(data, port, envs)
    }

    fn spawn(data: &Path, port: u16, envs: Vec<(String, String)>) -> anyhow::Result<Daemon> {
        let mut cmd = Command::new(daemon_binary());
        cmd.arg("run")
            .arg("--data")
            .arg(data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("EDGE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in &envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().context("spawn edge-daemon")?;
        let mut d = Daemon {
            child,
            base: format!("http://127.0.0.1:{port}"),
            data: data.into(),
            port,
            envs,
        };
        d.wait_healthy(Duration::from_secs(30))?;
        Ok(d)
    }

    /// Starts the daemon again on the same data, port and settings.
    pub fn restart(data: &Path, port: u16, envs: Vec<(String, String)>) -> anyhow::Result<Daemon> {
        Daemon::spawn(data, port, envs)
    }

    /// The port and settings, to restart the same daemon after a kill.
    pub fn identity(&self) -> (u16, Vec<(String, String)>) {
        (self.port, self.envs.clone())
    }

    fn wait_healthy(&mut self, within: Duration) -> anyhow::Result<()> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("edge-daemon exited during start-up: {status}");
            }
            let url = format!("{}/v1/health", self.base);
            if client
                .get(&url)
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("edge-daemon did not become healthy within {within:?}")
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the daemon to exit by itself; returns the exit status code.
    pub fn wait(mut self) -> anyhow::Result<Option<i32>> {
        Ok(self.child.wait()?.code())
    }

    /// SIGTERM and wait for a clean exit; returns the exit status code.
    pub fn stop(mut self) -> anyhow::Result<Option<i32>> {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY-free: `kill(1)` from the shell would do the same; use the binary's own signal.
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()?;
        if !status.success() {
            bail!("kill -TERM {pid} failed");
        }
        Ok(self.child.wait()?.code())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `edge-daemon ARGS --data DATA` to completion.
pub fn cli(data: &Path, args: &[&str]) -> anyhow::Result<Output> {
    Command::new(daemon_binary())
        .args(args)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::null())
        .output()
        .context("run edge-daemon")
}

/// Issues a token with `role` through the CLI (admin socket, or the store when stopped).
pub fn issue_token(data: &Path, role: &str) -> anyhow::Result<String> {
    let out = cli(data, &["token", "issue", "--role", role])?;
    if !out.status.success() {
        bail!(
            "token issue failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    v["token"]
        .as_str()
        .map(str::to_owned)
        .context("no token in the CLI's answer")
}

/// A random token of 43 URL-safe characters, as a device would generate it.
pub fn device_token() -> String {
    let mut raw = [0u8; 24];
    getrandom::getrandom(&mut raw).expect("random bytes");
    format!("dev-{}", hex::encode(raw))
}

/// A unique idempotency key.
pub fn new_key() -> String {
    let mut raw = [0u8; 16];
    getrandom::getrandom(&mut raw).expect("random bytes");
    hex::encode(raw)
}

/// A blocking HTTP client with a timeout.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}
