//! The cloud link over TLS end to end: the real daemon, Mosquitto with a TLS listener that
//! requires a client certificate, and the real `cloud-bridge` (fleet view and `run` with a
//! JSON-lines sink) over the same TLS listener.
//!
//! Layout: [`Pki`] makes a CA, a server certificate for `127.0.0.1` and a client certificate
//! with the `openssl` CLI in a temp dir; [`TlsBroker`] runs Mosquitto on it; the test starts the
//! daemon with its own `Command` so that its stderr (at `EDGE_LOG=debug`) lands in a file, and
//! then checks that neither that log nor `edge-daemon config` shows the MQTT password or any
//! line of the client key. A second daemon given a CA that did not sign the broker's
//! certificate must stay offline and say why.
//!
//! The test needs Mosquitto and `openssl`: the fallback broker of `e2e::cloud` has no TLS
//! listener, so without Mosquitto (or openssl) it prints `SKIPPED-TLS` and returns.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e::cloud::{bridge_binary, mosquitto_available, read_sink, MOSQUITTO};
use e2e::{client, daemon_binary, device_token, free_port, new_key};
use serde_json::{json, Value};

const STORE: &str = "dev-store";
const BAD_STORE: &str = "bad-ca-store";

/// Runs `openssl ARGS` in `dir`, panicking with its stderr on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The certificates and keys of one test, as files in one directory.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A self-signed CA `NAME.pem` / `NAME.key`.
    fn ca(dir: &Path, name: &str) {
        let (pem, key, subj) = (
            format!("{name}.pem"),
            format!("{name}.key"),
            format!("/CN={name}"),
        );
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &pem,
                "-days",
                "2",
                "-subj",
                &subj,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
    }

    /// A leaf `NAME.pem` / `NAME.key` signed by `ca`, with the extensions `ext`.
    fn leaf(dir: &Path, ca: &str, name: &str, cn: &str, ext: &str) {
        let (pem, key, csr, extf) = (
            format!("{name}.pem"),
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.ext"),
        );
        std::fs::write(dir.join(&extf), ext).unwrap();
        let subj = format!("/CN={cn}");
        openssl(
            dir,
            &[
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj",
                &subj,
            ],
        );
        let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &extf,
            ],
        );
    }

    /// `ca`, `server` (IP 127.0.0.1), `client` (signed by `ca`) and an unrelated `other-ca`.
    fn generate(dir: &Path) -> Pki {
        Pki::ca(dir, "ca");
        Pki::ca(dir, "other-ca");
        Pki::leaf(
            dir,
            "ca",
            "server",
            "127.0.0.1",
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
        );
        Pki::leaf(
            dir,
            "ca",
            "client",
            STORE,
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=clientAuth\n",
        );
        Pki { dir: dir.into() }
    }
}

/// Mosquitto with one TLS listener that requires a client certificate.
struct TlsBroker {
    child: Child,
    port: u16,
}

impl TlsBroker {
    fn start(pki: &Pki) -> TlsBroker {
        use std::os::unix::fs::PermissionsExt;
        // Mosquitto started as root drops to its own user before it reads the key files.
        for (name, mode) in [("", 0o755), ("server.key", 0o644)] {
            let perms = std::fs::Permissions::from_mode(mode);
            std::fs::set_permissions(pki.path(name), perms).unwrap();
        }
        let port = free_port();
        let conf = pki.path("mosquitto-tls.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n\
                 require_certificate true\nallow_anonymous true\npersistence false\n\
                 log_dest stderr\n",
                pki.path("ca.pem").display(),
                pki.path("server.pem").display(),
                pki.path("server.key").display(),
            ),
        )
        .unwrap();
        let log = File::create(pki.path("mosquitto.log")).unwrap();
        let mut child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn mosquitto");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(st) = child.try_wait().unwrap() {
                panic!(
                    "mosquitto exited ({st}): {}",
                    std::fs::read_to_string(pki.path("mosquitto.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        TlsBroker { child, port }
    }

    fn url(&self) -> String {
        format!("mqtts://127.0.0.1:{}", self.port)
    }
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed when dropped (the assertions below may panic before a clean stop).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The daemon's MQTT settings as environment variables.
fn mqtt_env(url: &str, pki: &Pki, ca: &str, password_file: &Path) -> Vec<(String, String)> {
    let p = |n: &str| pki.path(n).display().to_string();
    vec![
        ("EDGE_MQTT__URL".into(), url.into()),
        ("EDGE_MQTT__SECURITY__CA_FILE".into(), p(ca)),
        (
            "EDGE_MQTT__SECURITY__CLIENT_CERT_FILE".into(),
            p("client.pem"),
        ),
        (
            "EDGE_MQTT__SECURITY__CLIENT_KEY_FILE".into(),
            p("client.key"),
        ),
        ("EDGE_MQTT__SECURITY__USERNAME".into(), "store-user".into()),
        (
            "EDGE_MQTT__SECURITY__PASSWORD_FILE".into(),
            password_file.display().to_string(),
        ),
        ("EDGE_MQTT__RECONNECT_MIN_MS".into(), "100".into()),
        ("EDGE_MQTT__RECONNECT_MAX_MS".into(), "1000".into()),
        ("EDGE_MQTT__TELEMETRY_SECS".into(), "1".into()),
        ("EDGE_LOG".into(), "debug".into()),
    ]
}

/// `edge-daemon run` with `env`, its stderr into `log`; waits for `/v1/health`.
fn start_daemon(data: &Path, env: &[(String, String)], log: &Path) -> (Proc, String) {
    let port = free_port();
    let mut cmd = Command::new(daemon_binary());
    cmd.arg("run")
        .arg("--data")
        .arg(data)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(log).unwrap());
    let mut child = Proc(cmd.spawn().expect("spawn edge-daemon"));
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let http = client();
    loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            panic!(
                "edge-daemon exited during start-up ({st}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        let health = http.get(format!("{base}/v1/health")).send();
        if health.is_ok_and(|r| r.status().is_success()) {
            return (child, base);
        }
        assert!(
            Instant::now() < deadline,
            "edge-daemon never became healthy"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The TLS arguments of `cloud-bridge` (the bridge authenticates with the same client cert).
fn bridge_tls(pki: &Pki) -> Vec<String> {
    let p = |n: &str| pki.path(n).display().to_string();
    vec![
        "--ca".into(),
        p("ca.pem"),
        "--cert".into(),
        p("client.pem"),
        "--key".into(),
        p("client.key"),
    ]
}

/// `cloud-bridge fleet --once --json` over TLS: the entry of `store`, if any.
fn fleet_entry(url: &str, pki: &Pki, store: &str) -> Option<Value> {
    let out = Command::new(bridge_binary())
        .args([
            "fleet",
            "--mqtt",
            url,
            "--once",
            "--json",
            "--collect-ms",
            "700",
        ])
        .args(bridge_tls(pki))
        .env("CLOUD_BRIDGE_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run cloud-bridge fleet");
    assert!(
        out.status.success(),
        "fleet over TLS failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("fleet JSON");
    v.as_array()?.iter().find(|s| s["store"] == store).cloned()
}

/// Polls the fleet view until `store`'s entry satisfies `pred`, for at most `within`.
fn fleet_until(
    url: &str,
    pki: &Pki,
    store: &str,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(s) = fleet_entry(url, pki, store) {
            if pred(&s) {
                return Some(s);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// The base64 body lines of a PEM file (everything but the `-----` armour).
fn pem_body_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .map(str::to_owned)
        .collect()
}

/// Panics if `text` (named `what`) contains the password or a line of the key.
fn assert_no_secrets(what: &str, text: &str, password: &str, key_lines: &[String]) {
    assert!(
        !text.contains(password),
        "{what} contains the MQTT password"
    );
    for line in key_lines {
        assert!(
            !text.contains(line.as_str()),
            "{what} contains a line of the client key: {line}"
        );
    }
}

#[test]
fn the_link_runs_over_mutual_tls_and_logs_no_credentials() {
    let has_openssl = Command::new("openssl").arg("version").output().is_ok();
    if !mosquitto_available() || !has_openssl {
        // The fallback broker of `e2e::cloud` is plain TCP only: nothing to test TLS against.
        println!("SKIPPED-TLS: needs {MOSQUITTO} and the openssl CLI");
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let pki = Pki::generate(dir.path());
    let broker = TlsBroker::start(&pki);
    let url = broker.url();
    let password = format!("pw-{}", new_key());
    let password_file = dir.path().join("mqtt-password");
    std::fs::write(&password_file, &password).unwrap();
    let key_lines = pem_body_lines(&pki.path("client.key"));
    assert!(key_lines.len() > 10, "an RSA key has many body lines");

    // The daemon connects over TLS with its client certificate, user name and password.
    let env = mqtt_env(&url, &pki, "ca.pem", &password_file);
    let log = dir.path().join("daemon.log");
    let data = dir.path().join("data");
    let (mut daemon, base) = start_daemon(&data, &env, &log);
    let online = fleet_until(&url, &pki, STORE, Duration::from_secs(30), |s| {
        s["online"] == true
    });
    let online = online.unwrap_or_else(|| {
        panic!(
            "the store never came online over TLS; daemon log:\n{}\nbroker log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default(),
            std::fs::read_to_string(pki.path("mosquitto.log")).unwrap_or_default()
        )
    });
    assert!(online["versions"]["edge-daemon"].is_string(), "{online}");

    // A journal event reaches the cloud end: `cloud-bridge run` over TLS into a file sink.
    let sink = dir.path().join("sink.jsonl");
    let _bridge = Proc(
        Command::new(bridge_binary())
            .args(["run", "--mqtt", &url, "--gap-timeout-ms", "300", "--sink"])
            .arg(format!("file:{}", sink.display()))
            .args(bridge_tls(&pki))
            .env("CLOUD_BRIDGE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn cloud-bridge run"),
    );
    let r = client()
        .post(format!("{base}/v1/pairing"))
        .header("idempotency-key", new_key())
        .json(&json!({ "device_name": "till", "token": device_token() }))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let pairing = r.json::<Value>().unwrap()["pairing_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = read_sink(&sink)
            .iter()
            .any(|e| e["event"]["PairingRequested"]["pairing"].as_str() == Some(pairing.as_str()));
        if seen {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pairing {pairing} never reached the sink: {:?}",
            read_sink(&sink)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // And the cloud end's acknowledgement came back over TLS: the backlog drains to 0.
    let drained = fleet_until(&url, &pki, STORE, Duration::from_secs(30), |s| {
        s["backlog"] == 0 && s["last_seq"].as_u64().is_some_and(|n| n > 0)
    });
    assert!(drained.is_some(), "{:?}", fleet_entry(&url, &pki, STORE));

    // `edge-daemon config` with the same settings.
    let config = Command::new(daemon_binary())
        .arg("config")
        .arg("--data")
        .arg(&data)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("run edge-daemon config");
    assert!(config.status.success(), "{config:?}");
    let config_text = format!(
        "{}{}",
        String::from_utf8_lossy(&config.stdout),
        String::from_utf8_lossy(&config.stderr)
    );
    assert!(config_text.contains("client.key"), "{config_text}");

    // A clean stop.
    let pid = daemon.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert_eq!(daemon.0.wait().unwrap().code(), Some(0));
    let log_text = std::fs::read_to_string(&log).unwrap();
    // The debug log really covers the link (so the absence below means something).
    assert!(
        log_text.contains("mqtt") || log_text.contains("link"),
        "{log_text}"
    );
    assert_no_secrets("the daemon's debug log", &log_text, &password, &key_lines);
    assert_no_secrets("edge-daemon config", &config_text, &password, &key_lines);

    // A daemon trusting a CA that did not sign the broker's certificate never gets online.
    let mut bad_env = mqtt_env(&url, &pki, "other-ca.pem", &password_file);
    bad_env.push(("EDGE_STORE_ID".into(), BAD_STORE.into()));
    let bad_log = dir.path().join("bad-daemon.log");
    let (mut bad, _) = start_daemon(&dir.path().join("bad-data"), &bad_env, &bad_log);
    let deadline = Instant::now() + Duration::from_secs(15);
    // rustls says "invalid peer certificate: UnknownIssuer"; a panic ("rustls ...
    // CryptoProvider") is not the refusal this checks for.
    let named = |t: &str| t.to_lowercase().contains("certificate");
    while Instant::now() < deadline
        && !named(&std::fs::read_to_string(&bad_log).unwrap_or_default())
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    let bad_text = std::fs::read_to_string(&bad_log).unwrap();
    assert!(named(&bad_text), "no certificate error in:\n{bad_text}");
    assert!(
        !bad_text.contains("panicked"),
        "the bad-CA daemon panicked:\n{bad_text}"
    );
    assert!(
        bad.0.try_wait().unwrap().is_none(),
        "the bad-CA daemon exited"
    );
    assert!(
        fleet_entry(&url, &pki, BAD_STORE).is_none(),
        "a store with the wrong CA appeared in the fleet view"
    );
    assert_no_secrets("the bad daemon's log", &bad_text, &password, &key_lines);
    eprintln!("cloud_tls took {:?}", started.elapsed());
}
