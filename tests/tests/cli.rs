//! The binary as a technician meets it: flags, configuration errors, the admin socket.

use e2e::{cli, client, daemon_binary, issue_token, Daemon};

#[test]
fn a_bad_config_file_names_file_and_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("edge.toml");
    std::fs::write(&file, "[api]\nlisten = 8080\n").unwrap();
    let out = std::process::Command::new(daemon_binary())
        .arg("--config")
        .arg(&file)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("edge.toml") && err.contains("api.listen"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one message: {err}");
}

#[test]
fn token_issue_works_through_the_admin_socket_while_running_and_directly_when_stopped() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("data");
    let daemon = Daemon::start(&data, &[]).unwrap();
    let socket = data.join("admin.sock");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&socket).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "admin socket must be owner-only");
    let token = issue_token(&data, "manager").unwrap();
    let who: serde_json::Value = client()
        .get(format!("{}/v1/whoami", daemon.base))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(who["role"], "manager");
    assert_eq!(daemon.stop().unwrap(), Some(0));
    assert!(!socket.exists(), "socket removed on shutdown");
    // Stopped: the CLI opens the store itself; the token issued while running is listed.
    let out = cli(&data, &["token", "list"]).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let out = cli(&data, &["verify"]).unwrap();
    assert!(out.status.success());
}

#[test]
fn the_cli_on_an_empty_directory_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), &["verify"]).unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds no store yet"), "{err}");
}

#[test]
fn a_data_directory_of_another_store_is_refused_at_start() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("data");
    Daemon::start(&data, &[]).unwrap().stop().unwrap();
    let out = std::process::Command::new(daemon_binary())
        .args([
            "run",
            "--store-id",
            "another",
            "--listen",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("belongs to store \"dev-store\""), "{err}");
}

#[test]
fn a_pairing_approved_with_the_cli_on_the_box_gives_the_device_its_role() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("data");
    let daemon = Daemon::start(&data, &[]).unwrap();
    let device = e2e::device_token();
    let asked: serde_json::Value = client()
        .post(format!("{}/v1/pairing", daemon.base))
        .header("idempotency-key", e2e::new_key())
        .json(&serde_json::json!({"device_name": "Till 3", "token": device}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let code = asked["code"].as_str().expect("a code").to_owned();
    let whoami = |token: &str| {
        client()
            .get(format!("{}/v1/whoami", daemon.base))
            .bearer_auth(token)
            .send()
            .unwrap()
    };
    assert_eq!(
        whoami(&device).status().as_u16(),
        401,
        "valid before approval"
    );

    let out = cli(&data, &["pair", "approve", "000000", "--role", "manager"]).unwrap();
    assert!(!out.status.success(), "an unknown code was approved");
    let out = cli(&data, &["pair", "approve", &code, "--role", "manager"]).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let who: serde_json::Value = whoami(&device).json().unwrap();
    assert_eq!(who["role"], "manager", "{who}");
    assert_eq!(daemon.stop().unwrap(), Some(0));
}

#[test]
fn verify_exits_1_and_names_what_differs_when_a_projection_was_changed() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("data");
    let daemon = Daemon::start(&data, &[]).unwrap();
    issue_token(&data, "manager").unwrap();
    assert_eq!(daemon.stop().unwrap(), Some(0));
    let out = cli(&data, &["verify"]).unwrap();
    assert_eq!(out.status.code(), Some(0));

    // Change the tokens projection behind the journal's back.
    {
        let db = sled::open(data.join("sled")).unwrap();
        let tokens = db.open_tree("tokens").unwrap();
        let (k, _) = tokens.iter().next().expect("one token").unwrap();
        tokens.insert(k, b"tampered".to_vec()).unwrap();
        db.flush().unwrap();
    }
    let out = cli(&data, &["verify"]).unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("tokens") && all.contains("differs"), "{all}");
}

#[test]
fn sigterm_lets_a_request_in_flight_finish_and_keeps_what_it_wrote() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("data");
    let daemon = Daemon::start(&data, &[]).unwrap();
    let body = serde_json::json!({"device_name": "Slow", "token": e2e::device_token()});
    let body = body.to_string();
    let addr = daemon.base.trim_start_matches("http://").to_owned();
    // The request's head and half its body, then the signal, then the rest.
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /v1/pairing HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         idempotency-key: slow-1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    conn.write_all(first.as_bytes()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let pid = daemon.pid().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    // New connections are refused while the one in flight finishes.
    assert!(client()
        .get(format!("{}/v1/health", daemon.base))
        .send()
        .is_err());
    conn.write_all(rest.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(daemon.wait().unwrap(), Some(0));

    // What the answer acknowledged is on disk: the retry replays it.
    let daemon = Daemon::start(&data, &[]).unwrap();
    let r = client()
        .post(format!("{}/v1/pairing", daemon.base))
        .header("idempotency-key", "slow-1")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert!(r.headers().get("idempotent-replayed").is_some());
    assert_eq!(daemon.stop().unwrap(), Some(0));
}

#[test]
fn verify_on_a_running_daemon_under_writes_sees_one_point_in_time() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("data");
    let unlimited = [
        ("EDGE_PAIRING__PER_CLIENT_PER_MINUTE", "1000000"),
        ("EDGE_PAIRING__TOTAL_PER_MINUTE", "1000000"),
    ];
    let daemon = Daemon::start(&data, &unlimited).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let (base, stop, written) = (daemon.base.clone(), stop.clone(), written.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let body = serde_json::json!({
                        "device_name": "verify load", "token": e2e::device_token()
                    });
                    let resp = client()
                        .post(format!("{base}/v1/pairing"))
                        .header("idempotency-key", e2e::new_key())
                        .json(&body)
                        .send()
                        .unwrap();
                    assert_eq!(resp.status().as_u16(), 201);
                    written.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for round in 0..5 {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let out = cli(&data, &["verify"]).unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "round {round}: {all}");
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(
        written.load(Ordering::Relaxed) > 20,
        "the writers must have been writing while verify ran"
    );
    assert_eq!(daemon.stop().unwrap(), Some(0));
}

#[test]
fn metrics_show_requests_by_route_and_the_journal_flushes() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("data");
    let daemon = Daemon::start(&data, &[]).unwrap();
    let manager = issue_token(&data, "manager").unwrap();
    let resp = client()
        .post(format!("{}/v1/pairing", daemon.base))
        .header("idempotency-key", e2e::new_key())
        .json(&serde_json::json!({"device_name": "metrics", "token": e2e::device_token()}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let unauthenticated = client()
        .get(format!("{}/metrics", daemon.base))
        .send()
        .unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);
    let text = client()
        .get(format!("{}/metrics", daemon.base))
        .bearer_auth(&manager)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let pairing_requests = text
        .lines()
        .find(|l| l.starts_with("http_requests_total{") && l.contains("route=\"/v1/pairing\""))
        .unwrap_or_else(|| panic!("no request counter for /v1/pairing in:\n{text}"));
    let count: f64 = pairing_requests
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(count >= 1.0, "{pairing_requests}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("journal_flush_seconds") && !l.ends_with(" 0")),
        "journal flushes are timed:\n{text}"
    );
    assert_eq!(daemon.stop().unwrap(), Some(0));
}
