//! What the bench binaries share: the daemon under test, HTTP helpers, histograms.

#![allow(dead_code)] // each bench uses its own part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::Value;

pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

pub fn bench_base() -> PathBuf {
    if let Some(dir) = std::env::var_os("BENCH_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
}

/// The daemon under test, stopped (SIGKILL) and its data removed when dropped.
pub struct Daemon {
    pub child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts the daemon on a fresh data directory under `base_dir` and issues a token of `role`.
pub fn start_daemon(base_dir: &Path, role: &str) -> (Daemon, String) {
    let dir = tempfile::tempdir_in(base_dir).expect("daemon data directory");
    let data = dir.path().join("data");
    let port = free_port();
    let bin = env!("CARGO_BIN_EXE_edge-daemon");
    let child = Command::new(bin)
        .args(["run", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(&data)
        .env("EDGE_DEVICES__SIMULATE", "false")
        .env("EDGE_LOG", "error") // every sale takes the mug below zero, which warns
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start edge-daemon");
    let daemon = Daemon {
        child,
        base: format!("http://127.0.0.1:{port}"),
        dir,
    };
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http
        .get(format!("{}/v1/health", daemon.base))
        .send()
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(
            Instant::now() < deadline,
            "the daemon did not become healthy"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new(bin)
        .args(["token", "issue", "--role", role, "--data"])
        .arg(&data)
        .output()
        .expect("edge-daemon token issue");
    let issued: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "token issue answered {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let token = issued["token"].as_str().expect("a token").to_owned();
    (daemon, token)
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// Posts `body` with a fresh idempotency key and returns the JSON answer.
pub fn post(
    http: &reqwest::blocking::Client,
    url: &str,
    token: &str,
    key: &str,
    body: Value,
) -> Value {
    let resp = http
        .post(url)
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .expect("request");
    let status = resp.status();
    let v: Value = resp.json().expect("a JSON answer");
    assert!(status.is_success(), "{url}: {status} {v}");
    v
}
