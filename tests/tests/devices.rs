//! Devices end to end: the real daemon binary drives simulators on the far side of real
//! transports (ESC/POS and ZPL on TCP, a serial scanner on a pty, an LLRP reader on TCP), and a
//! LAN client sees scans, tag reads and job states over the WebSocket.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use drivers::escpos::sim::SimPrinter;
use drivers::rfid::sim::{SimConfig, SimReader};
use drivers::scanner::sim::SimSerialScanner;
use drivers::zpl::sim::SimLabelPrinter;
use e2e::{client, issue_token, new_key, Daemon};
use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

struct Sims {
    receipt: SimPrinter,
    serial: SimPrinter,
    label: SimLabelPrinter,
    scanner: SimSerialScanner,
    rfid: SimReader,
}

fn config(dir: &std::path::Path, sims: &Sims) -> std::path::PathBuf {
    let text = format!(
        r#"
[devices]
simulate = false
status_poll_ms = 100
rfid_window_ms = 300

[[devices.list]]
kind = "receipt_printer"
name = "till-1"
address = "{receipt}"

[[devices.list]]
kind = "receipt_printer"
name = "till-2"
address = "{serial}@9600"
paper = "58mm"

[[devices.list]]
kind = "kick_drawer"
name = "drawer-1"
printer = "till-1"
sensor_open_high = true

[[devices.list]]
kind = "label_printer"
name = "labels"
address = "{label}"

[[devices.list]]
kind = "serial_scanner"
name = "scanner-1"
path = "{scanner}"

[[devices.list]]
kind = "rfid_reader"
name = "door"
address = "{rfid}"
"#,
        receipt = sims.receipt.addr(),
        serial = sims.serial.path().unwrap().display(),
        label = sims.label.addr(),
        scanner = sims.scanner.path().display(),
        rfid = sims.rfid.addr(),
    );
    let file = dir.join("edge.toml");
    std::fs::write(&file, text).unwrap();
    file
}

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

fn connect_events(base: &str, token: &str) -> Ws {
    let url = format!("{}/v1/events", base.replace("http://", "ws://"));
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tungstenite::connect(req).unwrap();
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    ws
}

/// The first event that `pred` accepts within `within`.
fn wait_event(ws: &mut Ws, within: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match ws.read() {
            Ok(Message::Text(t)) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if pred(&v) {
                    return Some(v);
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("websocket: {e}"),
        }
    }
    None
}

fn post(base: &str, token: &str, path: &str, body: Value) -> (u16, Value) {
    let r = client()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .header("idempotency-key", new_key())
        .json(&body)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn get(base: &str, token: &str, path: &str) -> Value {
    client()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn wait_state(base: &str, token: &str, device: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let d = get(base, token, &format!("/v1/devices/{device}"));
        if d["state"] == want || Instant::now() > deadline {
            return d;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn print_label_scan_and_read_tags_through_the_daemon() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut rfid_cfg = SimConfig::sgtin_population(5);
    rfid_cfg.reads_per_second = 200;
    let mut sims = Sims {
        receipt: SimPrinter::start().unwrap(),
        serial: SimPrinter::start_serial().unwrap(),
        label: SimLabelPrinter::start().unwrap(),
        scanner: SimSerialScanner::new().unwrap(),
        rfid: SimReader::start(rfid_cfg).unwrap(),
    };
    let file = config(dir.path(), &sims);
    let data = dir.path().join("data");
    let daemon = Daemon::start(&data, &[("EDGE_CONFIG", file.to_str().unwrap())]).unwrap();
    let base = daemon.base.clone();
    let token = issue_token(&data, "associate").unwrap();
    let other = issue_token(&data, "associate").unwrap();

    for (device, want) in [
        ("till-1", "online"),
        ("till-2", "online"),
        ("drawer-1", "closed"),
        ("labels", "online"),
        ("scanner-1", "online"),
        ("door", "online"),
    ] {
        let d = wait_state(&base, &token, device, want);
        assert_eq!(d["state"], want, "{device}: {d}");
    }

    let mut ws = connect_events(&base, &token);
    let mut ws_other = connect_events(&base, &other);

    // A receipt goes whole to the printer on TCP 9100, and its job states arrive as events.
    let receipt = json!({"blocks": [
        {"type": "text", "text": "Grüße aus Köln: 12,50 €", "bold": true},
        {"type": "barcode", "symbology": "ean13", "data": "5901234123457"},
        {"type": "cut"}
    ]});
    let (status, job) = post(&base, &token, "/v1/devices/till-1/print", receipt);
    assert_eq!(status, 202, "{job}");
    let job_id = job["job_id"].as_str().unwrap().to_owned();
    let done = wait_event(&mut ws, Duration::from_secs(15), |e| {
        e["type"] == "job" && e["job"] == job_id.as_str() && e["state"] == "done"
    });
    assert!(done.is_some(), "no done event for {job_id}");
    let printed = sims.receipt.wait_for_jobs(1, Duration::from_secs(5));
    assert_eq!(printed.len(), 1);
    assert!(
        printed[0].text.contains("Grüße aus Köln: 12,50 €"),
        "{}",
        printed[0].text
    );
    assert!(printed[0].cut());

    // The same on a serial printer (a pty at 9600 baud), 58 mm paper.
    let body = json!({"blocks": [{"type": "text", "text": "Serielle Kasse: Größe ß"}]});
    let (status, _) = post(&base, &token, "/v1/devices/till-2/print", body);
    assert_eq!(status, 202);
    let printed = sims.serial.wait_for_jobs(1, Duration::from_secs(15));
    assert_eq!(printed.len(), 1, "nothing printed on the serial printer");
    assert!(
        printed[0].text.contains("Serielle Kasse: Größe ß"),
        "{}",
        printed[0].text
    );

    // Paper out: the job waits, and prints once paper is back.
    sims.receipt
        .update_state(|s| s.paper = drivers::escpos::PaperLevel::Out);
    let d = wait_state(&base, &token, "till-1", "paper_out");
    assert_eq!(d["state"], "paper_out", "{d}");
    let body = json!({"blocks": [{"type": "text", "text": "after the paper change"}]});
    let (_, job) = post(&base, &token, "/v1/devices/till-1/print", body);
    let job_id = job["job_id"].as_str().unwrap().to_owned();
    let waiting = wait_event(&mut ws, Duration::from_secs(10), |e| {
        e["type"] == "job" && e["job"] == job_id.as_str() && e["state"] == "waiting"
    });
    assert!(waiting.is_some(), "job {job_id} did not wait for paper");
    assert_eq!(sims.receipt.printed().len(), 1);
    sims.receipt
        .update_state(|s| s.paper = drivers::escpos::PaperLevel::Ok);
    let done = wait_event(&mut ws, Duration::from_secs(15), |e| {
        e["type"] == "job" && e["job"] == job_id.as_str() && e["state"] == "done"
    });
    assert!(done.is_some(), "job {job_id} did not resume");
    assert_eq!(
        sims.receipt.wait_for_jobs(2, Duration::from_secs(5)).len(),
        2
    );

    // A label in ZPL over TCP 9100.
    let label = json!({"width": 812, "length": 406, "fields": [
        {"type": "text", "x": 20, "y": 20, "height": 40, "text": "Größe M"},
        {"type": "code128", "x": 20, "y": 80, "height": 80, "data": "SKU-1234"}
    ]});
    let (status, job) = post(&base, &token, "/v1/devices/labels/label", label);
    assert_eq!(status, 202, "{job}");
    let labels = sims.label.wait_for_labels(1, Duration::from_secs(15));
    assert_eq!(labels.len(), 1);
    assert_eq!(labels[0].data_of("A0"), ["Größe M"]);

    // Scans go to the client that claimed the scanner, and only to it.
    let (status, _) = post(&base, &token, "/v1/devices/scanner-1/claim", json!({}));
    assert_eq!(status, 200);
    sims.scanner.scan("]E05901234123457").unwrap();
    let scan = wait_event(&mut ws, Duration::from_secs(10), |e| e["type"] == "scan");
    let scan = scan.expect("no scan event");
    assert_eq!(scan["device"], "scanner-1");
    assert_eq!(scan["scan"]["gtin"], "05901234123457", "{scan}");
    // Garbage from the scanner is an invalid scan, not a crash.
    sims.scanner
        .send_raw(b"]E0\xff\xfe\x00garbage\r\n")
        .unwrap();
    let bad = wait_event(&mut ws, Duration::from_secs(10), |e| e["type"] == "scan");
    assert_eq!(bad.expect("no scan event")["scan"]["kind"], "invalid");

    // Tag reads, aggregated per EPC, to the claimant.
    let (status, _) = post(&base, &token, "/v1/devices/door/claim", json!({}));
    assert_eq!(status, 200);
    let reads = wait_event(&mut ws, Duration::from_secs(10), |e| {
        e["type"] == "tag_reads"
    });
    let reads = reads.expect("no tag reads");
    let first = &reads["reads"][0];
    assert_eq!(first["scheme"], "sgtin", "{reads}");
    assert!(first["count"].as_u64().unwrap() >= 1);
    assert!(first["uri"]
        .as_str()
        .unwrap()
        .starts_with("urn:epc:id:sgtin:0614141."));

    // The other client saw status and jobs, but none of the claimed devices' reads.
    let leaked = wait_event(&mut ws_other, Duration::from_secs(1), |e| {
        e["type"] == "scan" || e["type"] == "tag_reads"
    });
    assert!(leaked.is_none(), "leaked to another client: {leaked:?}");

    // The drawer: open it, see the sensor, close it.
    let (status, body) = post(&base, &token, "/v1/devices/drawer-1/open", json!({}));
    assert_eq!(status, 200, "{body}");
    sims.receipt.update_state(|s| s.drawer_pin3_high = true);
    let open = wait_event(&mut ws, Duration::from_secs(10), |e| {
        e["type"] == "drawer" && e["state"] == "open"
    });
    assert!(open.is_some());

    assert_eq!(daemon.stop().unwrap(), Some(0));
}

fn diag(args: &[&str]) -> (bool, Value, String) {
    let out = std::process::Command::new(e2e::daemon_binary())
        .arg("diag")
        .args(args)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn diag_works_without_the_daemon() {
    let (ok, v, _) = diag(&[
        "decode-barcode",
        r"]C10109506000134352\x1d17261231<GS>10AB12",
    ]);
    assert!(ok);
    assert_eq!(v["gtin"], "09506000134352", "{v}");
    let (ok, v, err) = diag(&["decode-barcode", "]E05901234123458"]);
    assert!(!ok);
    assert_eq!(v["kind"], "invalid");
    assert!(err.contains("check digit"), "{err}");
    let (ok, v, _) = diag(&["decode-epc", "3074257BF7194E4000001A85"]);
    assert!(ok);
    assert_eq!(v["uri"], "urn:epc:id:sgtin:0614141.812345.6789");
    let (ok, _, err) = diag(&["decode-epc", "30zz"]);
    assert!(!ok && !err.is_empty());

    let printer = SimPrinter::start().unwrap();
    let addr = printer.addr().to_string();
    let (ok, v, err) = diag(&["print-test", &addr, "--paper", "58mm"]);
    assert!(ok, "{err}");
    assert_eq!(v["printed"], true);
    let jobs = printer.wait_for_jobs(1, Duration::from_secs(5));
    assert!(jobs[0].text.contains("TEST PAGE"));
    let (ok, v, err) = diag(&["kick", &addr, "--pin", "2"]);
    assert!(ok, "{err}");
    assert_eq!(v["kicked"], true);
    let (ok, v, err) = diag(&["self-test", "--printer", &addr]);
    assert!(ok, "{err}");
    assert_eq!(v["ticket"]["printed"], true, "{v}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !printer
        .printed()
        .iter()
        .any(|j| j.text.contains("SELF-TEST"))
    {
        assert!(Instant::now() < deadline, "no self-test ticket printed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (ok, _, err) = diag(&["print-test", "127.0.0.1:1"]);
    assert!(!ok);
    assert!(err.contains("127.0.0.1:1"), "{err}");

    let mut cfg = SimConfig::sgtin_population(3);
    cfg.reads_per_second = 300;
    let reader = SimReader::start(cfg).unwrap();
    let (ok, v, err) = diag(&["rfid", &reader.addr().to_string(), "--seconds", "1"]);
    assert!(ok, "{err}");
    assert_eq!(v["tags"], 3, "{v}");
    assert!(v["reads"].as_u64().unwrap() > 3, "{v}");

    let mut scanner = SimSerialScanner::new().unwrap();
    let path = scanner.path().to_owned();
    let listen = std::thread::spawn(move || {
        std::process::Command::new(e2e::daemon_binary())
            .args(["diag", "scan", path.to_str().unwrap(), "--seconds", "3"])
            .output()
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(1500));
    scanner.scan("]E05901234123457").unwrap();
    let out = listen.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("05901234123457"), "{text}");
}

#[test]
fn the_embedded_default_has_every_kind_of_device_simulated() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("data");
    let daemon = Daemon::start(&data, &[]).unwrap();
    let base = daemon.base.clone();
    let tech = issue_token(&data, "technician").unwrap();
    let list = get(&base, &tech, "/v1/devices");
    let mut kinds: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "drawer",
            "label_printer",
            "receipt_printer",
            "rfid_reader",
            "scanner"
        ],
        "{list}"
    );
    for (device, want) in [
        ("receipt-sim", "online"),
        ("label-sim", "online"),
        ("scanner-sim", "online"),
        ("rfid-sim", "online"),
    ] {
        let d = wait_state(&base, &tech, device, want);
        assert_eq!(d["state"], want, "{device}: {d}");
        assert_eq!(d["simulated"], true);
    }
    // A check answers for every kind: readers with their current state, a drawer with its
    // sensor.
    for (device, want) in [
        ("scanner-sim", "online"),
        ("rfid-sim", "online"),
        ("drawer-sim", "closed"),
        ("label-sim", "online"),
    ] {
        let (status, body) = post(
            &base,
            &tech,
            &format!("/v1/devices/{device}/check"),
            json!({}),
        );
        assert_eq!(
            (status, &body["result"]),
            (200, &json!(want)),
            "{device}: {body}"
        );
    }
    let mut ws = connect_events(&base, &tech);
    let (status, _) = post(&base, &tech, "/v1/devices/scanner-sim/claim", json!({}));
    assert_eq!(status, 200);
    let (status, body) = post(
        &base,
        &tech,
        "/v1/devices/scanner-sim/simulate",
        json!({"scan": "]C10109506000134352\u{1d}10LOT7"}),
    );
    assert_eq!(status, 200, "{body}");
    let scan = wait_event(&mut ws, Duration::from_secs(10), |e| e["type"] == "scan");
    assert_eq!(scan.expect("no scan")["scan"]["gtin"], "09506000134352");
    let receipt = json!({"blocks": [{"type": "text", "text": "hello"}]});
    let (status, job) = post(&base, &tech, "/v1/devices/receipt-sim/print", receipt);
    assert_eq!(status, 202, "{job}");
    let id = job["job_id"].as_str().unwrap().to_owned();
    let done = wait_event(&mut ws, Duration::from_secs(15), |e| {
        e["type"] == "job" && e["job"] == id.as_str() && e["state"] == "done"
    });
    assert!(done.is_some());
    assert_eq!(daemon.stop().unwrap(), Some(0));
}

/// A daemon whose only device is a receipt printer at `addr`.
fn printer_only(dir: &std::path::Path, addr: &str) -> std::path::PathBuf {
    let device = format!("kind = \"receipt_printer\"\nname = \"till-1\"\naddress = \"{addr}\"");
    devices_config(dir, "status_poll_ms = 100", &[&device])
}

/// A daemon on `file` with its data under `dir`, its base URL and a token with `role`.
fn start_on(dir: &std::path::Path, file: &std::path::Path, role: &str) -> (Daemon, String, String) {
    let data = dir.join("data");
    let daemon = Daemon::start(&data, &[("EDGE_CONFIG", file.to_str().unwrap())]).unwrap();
    let base = daemon.base.clone();
    let token = issue_token(&data, role).unwrap();
    (daemon, base, token)
}

/// A configuration file of `[devices]` with `settings` and one `[[devices.list]]` per entry
/// of `devices` (their keys as TOML lines), no simulators.
fn devices_config(dir: &std::path::Path, settings: &str, devices: &[&str]) -> std::path::PathBuf {
    let file = dir.join("devices.toml");
    let mut text = format!("[devices]\nsimulate = false\n{settings}\n");
    for d in devices {
        text.push_str(&format!("\n[[devices.list]]\n{d}\n"));
    }
    std::fs::write(&file, text).unwrap();
    file
}

fn job_state(base: &str, token: &str, id: &str) -> String {
    get(base, token, &format!("/v1/print-jobs/{id}"))["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn wait_job(base: &str, token: &str, id: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let state = job_state(base, token, id);
        if state == want || Instant::now() > deadline {
            return state;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn queued_jobs_survive_a_restart_and_can_be_cancelled_and_reprinted() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let sim = SimPrinter::start().unwrap();
    sim.update_state(|s| s.paper = drivers::escpos::PaperLevel::Out);
    let file = printer_only(dir.path(), &sim.addr().to_string());
    let data = dir.path().join("data");
    let env = [("EDGE_CONFIG", file.to_str().unwrap())];
    let daemon = Daemon::start(&data, &env).unwrap();
    let token = issue_token(&data, "manager").unwrap();
    let base = daemon.base.clone();
    let doc = |t: &str| json!({"blocks": [{"type": "text", "text": t}, {"type": "cut"}]});
    let (_, a) = post(&base, &token, "/v1/devices/till-1/print", doc("job A"));
    let (_, b) = post(&base, &token, "/v1/devices/till-1/print", doc("job B"));
    let (a, b) = (a["job_id"].as_str().unwrap(), b["job_id"].as_str().unwrap());
    assert_eq!(wait_job(&base, &token, a, "waiting"), "waiting");
    // B is cancelled while it waits; A waits through a restart.
    let (status, v) = post(
        &base,
        &token,
        &format!("/v1/print-jobs/{b}/cancel"),
        json!({}),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["state"], "cancelled");
    assert_eq!(daemon.stop().unwrap(), Some(0));
    assert!(sim.printed().is_empty());

    let daemon = Daemon::start(&data, &env).unwrap();
    let base = daemon.base.clone();
    assert_eq!(job_state(&base, &token, a), "waiting");
    sim.update_state(|s| s.paper = drivers::escpos::PaperLevel::Ok);
    assert_eq!(wait_job(&base, &token, a, "done"), "done");
    let printed = sim.wait_for_jobs(1, Duration::from_secs(5));
    assert_eq!(printed.len(), 1);
    assert!(printed[0].text.contains("job A"), "{}", printed[0].text);
    assert_eq!(job_state(&base, &token, b), "cancelled");
    // A done job cannot be cancelled; it can be reprinted, as a new job.
    let (status, _) = post(
        &base,
        &token,
        &format!("/v1/print-jobs/{a}/cancel"),
        json!({}),
    );
    assert_eq!(status, 409);
    let (status, again) = post(
        &base,
        &token,
        &format!("/v1/print-jobs/{a}/reprint"),
        json!({}),
    );
    assert_eq!(status, 202, "{again}");
    let again = again["job_id"].as_str().unwrap();
    assert_ne!(again, a);
    assert_eq!(wait_job(&base, &token, again, "done"), "done");
    assert_eq!(sim.wait_for_jobs(2, Duration::from_secs(5)).len(), 2);
    assert!(sim.printed()[1].text.contains("job A"));
    assert!(!sim.printed().iter().any(|j| j.text.contains("job B")));
    assert_eq!(daemon.stop().unwrap(), Some(0));
}

#[test]
fn raw_bytes_need_a_technician_and_checks_report_the_printer_now() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let sim = SimPrinter::start().unwrap();
    let file = printer_only(dir.path(), &sim.addr().to_string());
    let data = dir.path().join("data");
    let daemon = Daemon::start(&data, &[("EDGE_CONFIG", file.to_str().unwrap())]).unwrap();
    let base = daemon.base.clone();
    let associate = issue_token(&data, "associate").unwrap();
    let tech = issue_token(&data, "technician").unwrap();
    wait_state(&base, &tech, "till-1", "online");

    // ESC @, a line of text, GS V 0 (full cut): vendor bytes as they are.
    let raw = json!({"hex": format!("1b40{}0a1d5600", hex_of(b"raw bytes from a tech"))});
    let (status, body) = post(&base, &associate, "/v1/devices/till-1/raw", raw.clone());
    assert_eq!(status, 403, "{body}");
    let (status, body) = post(
        &base,
        &tech,
        "/v1/devices/till-1/raw",
        json!({"hex": "1b4z"}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("hex"), "{body}");
    assert!(
        sim.printed().is_empty(),
        "refused raw bytes reached the printer"
    );
    let (status, body) = post(&base, &tech, "/v1/devices/till-1/raw", raw);
    assert_eq!(status, 200, "{body}");
    let jobs = sim.wait_for_jobs(1, Duration::from_secs(10));
    assert_eq!(jobs.len(), 1);
    assert!(
        jobs[0].text.contains("raw bytes from a tech"),
        "{}",
        jobs[0].text
    );
    assert!(jobs[0].cut());

    // A check asks the printer now, whatever the last poll said.
    let (status, body) = post(&base, &associate, "/v1/devices/till-1/check", json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], "online", "{body}");
    sim.update_state(|s| s.cover_open = true);
    let (status, body) = post(&base, &associate, "/v1/devices/till-1/check", json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], "cover_open", "{body}");
    let (status, body) = post(&base, &associate, "/v1/devices/nope/check", json!({}));
    assert_eq!(status, 404, "{body}");
    assert_eq!(daemon.stop().unwrap(), Some(0));
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn an_rfid_reader_that_goes_away_is_offline_and_reconnected_when_it_returns() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut cfg = SimConfig::sgtin_population(3);
    cfg.reads_per_second = 100;
    let sim = SimReader::start(cfg.clone()).unwrap();
    let addr = sim.addr();
    let file = dir.path().join("rfid.toml");
    let text = format!(
        "[devices]\nsimulate = false\nrfid_window_ms = 200\n\n[[devices.list]]\n\
         kind = \"rfid_reader\"\nname = \"door\"\naddress = \"{addr}\"\n"
    );
    std::fs::write(&file, text).unwrap();
    let data = dir.path().join("data");
    let daemon = Daemon::start(&data, &[("EDGE_CONFIG", file.to_str().unwrap())]).unwrap();
    let base = daemon.base.clone();
    let token = issue_token(&data, "associate").unwrap();
    let d = wait_state(&base, &token, "door", "online");
    assert_eq!(d["state"], "online", "{d}");

    sim.shutdown();
    let d = wait_state(&base, &token, "door", "offline");
    assert_eq!(d["state"], "offline", "{d}");

    let (status, body) = post(&base, &token, "/v1/devices/door/check", json!({}));
    assert_eq!(status, 503, "an unreachable reader is unavailable: {body}");
    assert!(
        body["detail"].as_str().unwrap_or_default().contains("door"),
        "{body}"
    );

    // The reader comes back on the same address; the daemon finds it again by itself.
    let sim = SimReader::bind(addr, cfg).unwrap();
    let d = wait_state(&base, &token, "door", "online");
    assert_eq!(d["state"], "online", "{d}");
    let mut ws = connect_events(&base, &token);
    let (status, _) = post(&base, &token, "/v1/devices/door/claim", json!({}));
    assert_eq!(status, 200);
    let reads = wait_event(&mut ws, Duration::from_secs(15), |e| {
        e["type"] == "tag_reads"
    });
    assert!(reads.is_some(), "no tag reads after the reconnect");
    assert!(sim.stats().sessions >= 1, "{:?}", sim.stats());
    assert_eq!(daemon.stop().unwrap(), Some(0));
}

/// PROTOCOLS.md §2.2: current ZPL firmware does not answer `~HS` while the head is open or
/// media or ribbon is out, so silence is "in error"; a refused connection is "offline".
#[test]
fn a_silent_label_printer_is_in_error_and_an_unreachable_one_offline() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let sim = SimLabelPrinter::start().unwrap();
    let device = format!(
        "kind = \"label_printer\"\nname = \"labels\"\naddress = \"{}\"",
        sim.addr()
    );
    let file = devices_config(dir.path(), "status_poll_ms = 100", &[&device]);
    let (daemon, base, token) = start_on(dir.path(), &file, "associate");
    let d = wait_state(&base, &token, "labels", "online");
    assert_eq!(d["state"], "online", "{d}");

    // Head open: the simulator, like the firmware, stays silent.
    sim.update_state(|s| s.head_open = true);
    let d = wait_state(&base, &token, "labels", "error");
    assert_eq!(d["state"], "error", "{d}");
    let detail = d["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("no host status"), "{d}");
    assert!(detail.contains("head open"), "{d}");
    let (status, body) = post(&base, &token, "/v1/devices/labels/check", json!({}));
    assert_eq!((status, &body["result"]), (200, &json!("error")), "{body}");

    // A label waits, with the reason, and prints when the head is closed.
    let label = json!({"width": 400, "length": 200, "fields": [
        {"type": "text", "x": 10, "y": 10, "height": 30, "text": "waits for the head"}
    ]});
    let (status, job) = post(&base, &token, "/v1/devices/labels/label", label);
    assert_eq!(status, 202, "{job}");
    let id = job["job_id"].as_str().unwrap().to_owned();
    assert_eq!(wait_job(&base, &token, &id, "waiting"), "waiting");
    let view = get(&base, &token, &format!("/v1/print-jobs/{id}"));
    let why = view["detail"].as_str().unwrap_or_default();
    assert!(why.starts_with("error: "), "{view}");
    assert!(why.contains("no host status"), "{view}");
    assert!(sim.labels().is_empty());
    sim.update_state(|s| s.head_open = false);
    assert_eq!(wait_job(&base, &token, &id, "done"), "done");
    let labels = sim.wait_for_labels(1, Duration::from_secs(5));
    assert_eq!(labels[0].data_of("A0"), ["waits for the head"]);
    assert_eq!(
        wait_state(&base, &token, "labels", "online")["state"],
        "online"
    );

    // Firmware that never answers is in error too.
    sim.update_state(|s| s.silent = true);
    assert_eq!(
        wait_state(&base, &token, "labels", "error")["state"],
        "error"
    );

    // The printer is gone: the connection is refused, and that is offline.
    drop(sim);
    let d = wait_state(&base, &token, "labels", "offline");
    assert_eq!(d["state"], "offline", "{d}");
    assert!(
        d["detail"].as_str().unwrap_or_default().contains("connect"),
        "{d}"
    );
    assert_eq!(daemon.stop().unwrap(), Some(0));
}

/// A drawer on a printer's kick port held open past `drawer_alarm_secs`: the alarm reaches the
/// WebSocket as a `left_open` drawer event and the drawer's state says so until it closes.
#[test]
fn a_drawer_held_open_past_the_alarm_time_is_left_open() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let sim = SimPrinter::start().unwrap();
    let printer = format!(
        "kind = \"receipt_printer\"\nname = \"till-1\"\naddress = \"{}\"",
        sim.addr()
    );
    let drawer = "kind = \"kick_drawer\"\nname = \"drawer-1\"\nprinter = \"till-1\"\n\
                  sensor_open_high = true";
    let settings = "status_poll_ms = 100\ndrawer_alarm_secs = 1";
    let file = devices_config(dir.path(), settings, &[&printer, drawer]);
    let (daemon, base, token) = start_on(dir.path(), &file, "associate");
    assert_eq!(
        wait_state(&base, &token, "drawer-1", "closed")["state"],
        "closed"
    );
    let mut ws = connect_events(&base, &token);

    let (status, body) = post(&base, &token, "/v1/devices/drawer-1/open", json!({}));
    assert_eq!(status, 200, "{body}");
    sim.update_state(|s| s.drawer_pin3_high = true);
    let opened_at = Instant::now();
    let open = wait_event(&mut ws, Duration::from_secs(10), |e| {
        e["type"] == "drawer" && e["device"] == "drawer-1" && e["state"] == "open"
    });
    assert!(open.is_some(), "no open event");
    let alarm = wait_event(&mut ws, Duration::from_secs(10), |e| {
        e["type"] == "drawer" && e["state"] == "left_open"
    });
    let alarm = alarm.expect("no left_open event");
    assert_eq!(alarm["device"], "drawer-1", "{alarm}");
    assert!(
        opened_at.elapsed() >= Duration::from_millis(900),
        "the alarm came {:?} after the opening, before its second",
        opened_at.elapsed()
    );
    let d = get(&base, &token, "/v1/devices/drawer-1");
    assert_eq!(d["state"], "left_open", "{d}");

    sim.update_state(|s| s.drawer_pin3_high = false);
    let closed = wait_event(&mut ws, Duration::from_secs(10), |e| {
        e["type"] == "drawer" && e["state"] == "closed"
    });
    assert!(closed.is_some(), "no closed event");
    assert_eq!(
        wait_state(&base, &token, "drawer-1", "closed")["state"],
        "closed"
    );
    assert_eq!(daemon.stop().unwrap(), Some(0));
}

/// Reads are aggregated per EPC over a window; when the field goes quiet the window still
/// closes on time, so every read the reader sent reaches the claimant well before the reader
/// would be taken for dead (16 s of silence).
#[test]
fn the_last_rfid_window_arrives_when_the_field_goes_quiet() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    // The reader appears only after the client has claimed it, so every read it sends is
    // visible to that client.
    let addr = format!("127.0.0.1:{}", e2e::free_port());
    let device = format!("kind = \"rfid_reader\"\nname = \"door\"\naddress = \"{addr}\"");
    let file = devices_config(dir.path(), "rfid_window_ms = 300", &[&device]);
    let (daemon, base, token) = start_on(dir.path(), &file, "associate");
    let mut ws = connect_events(&base, &token);
    let (status, _) = post(&base, &token, "/v1/devices/door/claim", json!({}));
    assert_eq!(status, 200);

    let mut cfg = SimConfig::sgtin_population(4);
    cfg.reads_per_second = 100;
    let sim = SimReader::bind(addr.as_str(), cfg).unwrap();
    let d = wait_state(&base, &token, "door", "online");
    assert_eq!(d["state"], "online", "{d}");
    let mut received = 0;
    let first = wait_event(&mut ws, Duration::from_secs(10), |e| {
        e["type"] == "tag_reads"
    });
    received += counts(&first.expect("no tag reads while the field is busy"));

    sim.set_silent(true);
    std::thread::sleep(Duration::from_millis(300));
    let sent = sim.stats().reads_sent;
    let quiet_at = Instant::now();
    while received < sent && quiet_at.elapsed() < Duration::from_secs(8) {
        if let Some(e) = wait_event(&mut ws, Duration::from_millis(500), |e| {
            e["type"] == "tag_reads"
        }) {
            received += counts(&e);
        }
    }
    assert_eq!(received, sent, "reads held back after the field went quiet");
    // Quiet, not dead: the windows were closed by time, not by the reader being dropped.
    let d = get(&base, &token, "/v1/devices/door");
    assert_eq!(d["state"], "online", "{d}");
    assert_eq!(d["stats"]["tag_reads"], sent, "{d}");
    assert_eq!(daemon.stop().unwrap(), Some(0));
}

/// The reads counted in a `tag_reads` event.
fn counts(event: &Value) -> u64 {
    event["reads"]
        .as_array()
        .map(|r| r.iter().filter_map(|t| t["count"].as_u64()).sum())
        .unwrap_or(0)
}

/// A receipt printer with a drawer on its kick port and a label printer, polled fast.
fn till_with_labels(
    dir: &std::path::Path,
    receipt: &SimPrinter,
    label: &SimLabelPrinter,
) -> std::path::PathBuf {
    let printer = format!(
        "kind = \"receipt_printer\"\nname = \"till-1\"\naddress = \"{}\"",
        receipt.addr()
    );
    let drawer = "kind = \"kick_drawer\"\nname = \"drawer-1\"\nprinter = \"till-1\"";
    let labels = format!(
        "kind = \"label_printer\"\nname = \"labels\"\naddress = \"{}\"",
        label.addr()
    );
    devices_config(dir, "status_poll_ms = 100", &[&printer, drawer, &labels])
}

/// A claimed device is the claimant's: other clients get 409 problem+json for print, label,
/// open and raw, and nothing reaches the device; the claimant and unclaimed devices work.
#[test]
fn a_claimed_device_refuses_other_clients() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (receipt, label) = (
        SimPrinter::start().unwrap(),
        SimLabelPrinter::start().unwrap(),
    );
    let file = till_with_labels(dir.path(), &receipt, &label);
    let (daemon, base, tech) = start_on(dir.path(), &file, "technician");
    let data = dir.path().join("data");
    let other = issue_token(&data, "associate").unwrap();
    let other_tech = issue_token(&data, "technician").unwrap();
    assert_eq!(
        wait_state(&base, &tech, "till-1", "online")["state"],
        "online"
    );
    assert_eq!(
        wait_state(&base, &tech, "labels", "online")["state"],
        "online"
    );

    // Unclaimed: anybody may open the drawer.
    let (status, body) = post(&base, &other, "/v1/devices/drawer-1/open", json!({}));
    assert_eq!(status, 200, "{body}");

    for device in ["till-1", "drawer-1", "labels"] {
        let (status, _) = post(
            &base,
            &tech,
            &format!("/v1/devices/{device}/claim"),
            json!({}),
        );
        assert_eq!(status, 200);
    }
    let receipt_doc = json!({"blocks": [{"type": "text", "text": "not yours"}, {"type": "cut"}]});
    let label_doc = json!({"width": 400, "length": 200, "fields": [
        {"type": "text", "x": 10, "y": 10, "height": 30, "text": "not yours"}
    ]});
    let raw = json!({"hex": "1b400a"});
    for (token, path, body) in [
        (&other, "/v1/devices/till-1/print", receipt_doc.clone()),
        (&other, "/v1/devices/labels/label", label_doc.clone()),
        (&other, "/v1/devices/drawer-1/open", json!({})),
        (&other_tech, "/v1/devices/till-1/raw", raw.clone()),
    ] {
        let r = client()
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .header("idempotency-key", new_key())
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 409, "{path}");
        let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert_eq!(kind, "application/problem+json", "{path}");
        let problem: Value = r.json().unwrap();
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("claimed by another"),
            "{path}: {problem}"
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(label.labels().is_empty(), "a refused label was printed");

    // The claimant goes ahead.
    let (status, job) = post(&base, &tech, "/v1/devices/till-1/print", receipt_doc);
    assert_eq!(status, 202, "{job}");
    let id = job["job_id"].as_str().unwrap().to_owned();
    assert_eq!(wait_job(&base, &tech, &id, "done"), "done");
    let (status, body) = post(&base, &tech, "/v1/devices/labels/label", label_doc);
    assert_eq!(status, 202, "{body}");
    assert_eq!(label.wait_for_labels(1, Duration::from_secs(10)).len(), 1);
    let (status, body) = post(&base, &tech, "/v1/devices/drawer-1/open", json!({}));
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(&base, &tech, "/v1/devices/till-1/raw", raw.clone());
    assert_eq!(status, 200, "{body}");
    let jobs = get(&base, &tech, "/v1/print-jobs?device=till-1");
    let jobs = jobs.as_array().unwrap();
    assert_eq!(
        jobs.len(),
        1,
        "only the claimant's receipt was queued: {jobs:?}"
    );
    let jobs = get(&base, &tech, "/v1/print-jobs?device=labels");
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{jobs}");

    // Released, the device is anybody's again.
    let (status, _) = post(&base, &tech, "/v1/devices/till-1/release", json!({}));
    assert_eq!(status, 200);
    let (status, body) = post(&base, &other_tech, "/v1/devices/till-1/raw", raw);
    assert_eq!(status, 200, "{body}");
    assert_eq!(daemon.stop().unwrap(), Some(0));
    let printed = receipt.printed();
    assert_eq!(
        printed
            .iter()
            .filter(|j| j.text.contains("not yours"))
            .count(),
        1
    );
}

/// Two requests to open the drawer with one idempotency key, at the same moment: the drawer
/// opens once, one answer is the replay of the other. The same for raw bytes.
#[test]
fn concurrent_retries_of_a_device_action_act_once() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (receipt, label) = (
        SimPrinter::start().unwrap(),
        SimLabelPrinter::start().unwrap(),
    );
    let file = till_with_labels(dir.path(), &receipt, &label);
    let (daemon, base, tech) = start_on(dir.path(), &file, "technician");
    assert_eq!(
        wait_state(&base, &tech, "till-1", "online")["state"],
        "online"
    );

    let race = |path: &str, body: Value| {
        let key = new_key();
        let barrier = std::sync::Barrier::new(2);
        let answers: Vec<(u16, bool, Value)> = std::thread::scope(|s| {
            let send = || {
                barrier.wait();
                let r = client()
                    .post(format!("{base}{path}"))
                    .bearer_auth(&tech)
                    .header("idempotency-key", &key)
                    .json(&body)
                    .send()
                    .unwrap();
                let replayed = r.headers().contains_key("idempotent-replayed");
                (
                    r.status().as_u16(),
                    replayed,
                    r.json().unwrap_or(Value::Null),
                )
            };
            let a = s.spawn(send);
            let b = s.spawn(send);
            vec![a.join().unwrap(), b.join().unwrap()]
        });
        assert!(answers.iter().all(|a| a.0 == 200), "{answers:?}");
        let replays = answers.iter().filter(|a| a.1).count();
        assert_eq!(replays, 1, "exactly one answer is a replay: {answers:?}");
        assert_eq!(answers[0].2, answers[1].2);
    };
    race("/v1/devices/drawer-1/open", json!({}));
    // ESC @ "once" LF, GS V 0: a whole job, so the simulator records each send.
    let raw = json!({"hex": format!("1b40{}0a1d5600", hex_of(b"once"))});
    race("/v1/devices/till-1/raw", raw);
    assert_eq!(daemon.stop().unwrap(), Some(0));

    // The daemon is gone, its connection closed: every job the simulator saw is finished.
    let printed = receipt.printed();
    let kicks = printed
        .iter()
        .flat_map(|j| &j.commands)
        .filter(|c| matches!(c, drivers::escpos::sim::SimCommand::Kick { .. }))
        .count();
    assert_eq!(kicks, 1, "the drawer was kicked {kicks} times: {printed:?}");
    let raws = printed.iter().filter(|j| j.text.contains("once")).count();
    assert_eq!(raws, 1, "the raw bytes were sent {raws} times");
}

/// A TCP server that answers every connection with random bytes (each OR-ed with `set_bits`)
/// until it is dropped; it reads nothing.
struct GarbageServer {
    addr: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connections: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl GarbageServer {
    fn start(set_bits: u8) -> GarbageServer {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let (stop2, count) = (stop.clone(), connections.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let stop3 = stop2.clone();
                std::thread::spawn(move || {
                    use std::io::Write;
                    let mut buf = [0u8; 512];
                    while !stop3.load(Ordering::SeqCst) {
                        getrandom::getrandom(&mut buf).unwrap();
                        buf.iter_mut().for_each(|b| *b |= set_bits);
                        if conn.write_all(&buf).is_err() {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                });
            }
        });
        GarbageServer {
            addr,
            stop,
            connections,
        }
    }

    fn connections(&self) -> u32 {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for GarbageServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A "printer" on 9100 and an "LLRP reader" on 5084 that send only random bytes: both devices
/// are offline with a reason, the daemon keeps answering and trying, and it stops cleanly.
#[test]
fn garbage_from_a_printer_and_a_reader_leaves_the_daemon_answering() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    // Bit 7 set: never an ESC/POS real-time status byte, so the printer's replies are all noise.
    let printer = GarbageServer::start(0x80);
    let reader = GarbageServer::start(0);
    let till = format!(
        "kind = \"receipt_printer\"\nname = \"till-1\"\naddress = \"{}\"",
        printer.addr
    );
    let door = format!(
        "kind = \"rfid_reader\"\nname = \"door\"\naddress = \"{}\"",
        reader.addr
    );
    let file = devices_config(dir.path(), "status_poll_ms = 100", &[&till, &door]);
    let (daemon, base, token) = start_on(dir.path(), &file, "associate");

    for device in ["till-1", "door"] {
        let d = wait_state(&base, &token, device, "offline");
        assert_eq!(d["state"], "offline", "{device}: {d}");
        assert!(!d["detail"].as_str().unwrap_or_default().is_empty(), "{d}");
    }
    // A receipt waits instead of being sent into the noise.
    let doc = json!({"blocks": [{"type": "text", "text": "into the noise?"}]});
    let (status, job) = post(&base, &token, "/v1/devices/till-1/print", doc);
    assert_eq!(status, 202, "{job}");
    let id = job["job_id"].as_str().unwrap().to_owned();
    assert_eq!(wait_job(&base, &token, &id, "waiting"), "waiting");

    // The daemon still answers, and keeps trying both devices.
    let before = (printer.connections(), reader.connections());
    std::thread::sleep(Duration::from_secs(3));
    let health = client().get(format!("{base}/v1/health")).send().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let list = get(&base, &token, "/v1/devices");
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    assert!(
        printer.connections() > before.0,
        "the printer was not tried again"
    );
    assert!(
        reader.connections() > before.1,
        "the reader was not tried again"
    );
    assert_eq!(daemon.stop().unwrap(), Some(0));
}

/// A printer configured for font B lays rows out on 64 columns; a kick-port drawer pulses for
/// its configured time; a receipt may carry a logo and a kick of its own.
#[test]
fn font_b_a_configured_kick_pulse_and_logo_and_kick_blocks() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let sim = SimPrinter::start().unwrap();
    let printer = format!(
        "kind = \"receipt_printer\"\nname = \"till-1\"\naddress = \"{}\"\nfont = \"B\"",
        sim.addr()
    );
    let drawer = "kind = \"kick_drawer\"\nname = \"drawer-1\"\nprinter = \"till-1\"\n\
                  pulse_ms = 60";
    let file = devices_config(dir.path(), "status_poll_ms = 100", &[&printer, drawer]);
    let (daemon, base, token) = start_on(dir.path(), &file, "associate");
    assert_eq!(
        wait_state(&base, &token, "till-1", "online")["state"],
        "online"
    );

    let (status, body) = post(&base, &token, "/v1/devices/drawer-1/open", json!({}));
    assert_eq!(status, 200, "{body}");
    let receipt = json!({"blocks": [
        {"type": "image", "width": 16, "height": 2, "data": "//8AAA==", "align": "center"},
        {"type": "row", "cells": [{"text": "Brot"}, {"text": "2,50", "align": "right"}]},
        {"type": "kick", "pin": 5, "on_ms": 50},
        {"type": "cut"}
    ]});
    let (status, job) = post(&base, &token, "/v1/devices/till-1/print", receipt);
    assert_eq!(status, 202, "{job}");
    let bad = json!({"blocks": [{"type": "image", "width": 16, "height": 2, "data": "AAAA"}]});
    let (status, problem) = post(&base, &token, "/v1/devices/till-1/print", bad);
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("blocks[0].data"), "{problem}");
    let id = job["job_id"].as_str().unwrap().to_owned();
    assert_eq!(wait_job(&base, &token, &id, "done"), "done");
    assert_eq!(daemon.stop().unwrap(), Some(0));

    use drivers::escpos::sim::SimCommand;
    let printed = sim.printed();
    let cmds: Vec<&SimCommand> = printed.iter().flat_map(|j| &j.commands).collect();
    let kick = |pin, on_ms, off_ms| SimCommand::Kick { pin, on_ms, off_ms };
    assert!(
        cmds.contains(&&kick(0, 60, 240)),
        "the drawer's pulse: {cmds:?}"
    );
    assert!(
        cmds.contains(&&kick(1, 50, 200)),
        "the receipt's kick: {cmds:?}"
    );
    let raster = SimCommand::Raster {
        width_bytes: 2,
        height: 2,
    };
    assert!(cmds.contains(&&raster), "the logo: {cmds:?}");
    let row = printed
        .iter()
        .flat_map(|j| j.text.lines())
        .find(|l| l.contains("Brot"))
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        row.chars().count(),
        64,
        "font B has 64 columns on 80 mm: {row:?}"
    );
    assert!(row.ends_with("2,50"), "{row:?}");
}
