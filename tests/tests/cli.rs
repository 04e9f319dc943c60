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
