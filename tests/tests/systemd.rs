//! The daemon under systemd: readiness, watchdog and stopping notifications on NOTIFY_SOCKET,
//! and JSON log lines for the journal.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::{daemon_binary, free_port};

/// Kills the daemon if the test fails half-way.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn receive_until(sock: &UnixDatagram, want: &str, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = msg.lines().any(|l| l == want);
            seen.push(msg);
            if done {
                return seen;
            }
        }
    }
    panic!("no {want} within {within:?}; saw {seen:?}");
}

#[test]
fn notifies_ready_feeds_the_watchdog_and_says_stopping_with_json_logs() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let port = free_port();
    // systemd names the watched process in WATCHDOG_PID; `exec` keeps the shell's pid.
    let child = Command::new("sh")
        .arg("-c")
        .arg(r#"WATCHDOG_PID=$$ exec "$0" run --listen "$1" --data "$2""#)
        .arg(daemon_binary())
        .arg(format!("127.0.0.1:{port}"))
        .arg(dir.path().join("data"))
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "200000")
        .env("JOURNAL_STREAM", "8:1234") // as systemd sets it: log format auto → JSON
        .env("EDGE_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    receive_until(&sock, "READY=1", Duration::from_secs(20));
    // A pairing request, whose handler logs from the blocking pool inside the request's span.
    let resp = e2e::client()
        .post(format!("http://127.0.0.1:{port}/v1/pairing"))
        .header("idempotency-key", e2e::new_key())
        .header("x-request-id", "req-systemd-1")
        .json(&serde_json::json!({"device_name": "log test", "token": e2e::device_token()}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    // Two watchdog pings at half the 200 ms interval.
    receive_until(&sock, "WATCHDOG=1", Duration::from_secs(5));
    receive_until(&sock, "WATCHDOG=1", Duration::from_secs(5));
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.0.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    receive_until(&sock, "STOPPING=1", Duration::from_secs(10));
    assert_eq!(child.0.wait().unwrap().code(), Some(0));

    let lines: Vec<String> = BufReader::new(child.0.stderr.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    assert!(!lines.is_empty());
    let ready = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("every log line is JSON"))
        .find(|v| v["message"] == "edge-daemon ready")
        .expect("a ready line");
    assert_eq!(
        ready["listen"],
        format!("127.0.0.1:{port}"),
        "structured fields: {ready}"
    );
    assert_eq!(ready["level"], "INFO");
    let requested = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "pairing requested")
        .expect("a pairing requested line");
    assert_eq!(
        requested["span"]["request_id"], "req-systemd-1",
        "the handler's line carries its request's span: {requested}"
    );
}
