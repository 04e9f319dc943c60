//! Technician diagnostics: `edge-daemon diag …`. Each talks to a device directly, so it works
//! whether or not the daemon runs, and prints JSON for people and scripts alike.
//!
//! - `print-test ADDR`: a test page (styles, code pages, columns, barcodes, QR, cut).
//! - `kick ADDR`: pulse a drawer on a printer's kick port.
//! - `scan PATH`: print the scans of a serial scanner for a while.
//! - `rfid ADDR`: run an LLRP inventory for N seconds and print the aggregated reads.
//! - `decode-barcode DATA`, `decode-epc HEX`: interpret data without any device.
//! - `self-test`: identity, addresses, versions, device states and cloud reachability, printed on
//!   the receipt printer as a ticket and on standard output. Printers are asked for their status
//!   (a receipt printer's real-time status, a label printer's `~HS`), RFID readers and the MQTT
//!   broker are tried with a TCP connection, scanners and GPIO chips by their device node.
//!
//! # Current limitations
//! - The self-test opens its own connection to each printer; a printer that takes one TCP
//!   client at a time while the daemon holds it shows as unreachable or silent.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

use drivers::escpos::{encode, AnyPrinter, Paper, PrinterProfile};
use drivers::rfid::aggregate::Aggregator;
use drivers::rfid::client::{ClientConfig, LlrpClient};
use serde_json::{json, Value};

use crate::config::Config;
use crate::devices::config::DeviceSpec;
use crate::devices::document::{ReceiptBlock, ReceiptDocument, RowCell, TextAlign};
use crate::devices::printer::{error_chain, Backend, Label, Receipt};
use crate::devices::readers::ScannerPort;
use crate::devices::views;

/// A diagnostic that could not be carried out: what and why.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct DiagError {
    pub what: String,
    pub reason: String,
}

fn fail(what: impl Into<String>, e: &dyn std::error::Error) -> DiagError {
    DiagError {
        what: what.into(),
        reason: error_chain(e),
    }
}

fn text(t: &str) -> ReceiptBlock {
    ReceiptBlock::Text {
        text: t.into(),
        bold: false,
        double: false,
        underline: false,
        align: TextAlign::Left,
    }
}

fn heading(t: &str) -> ReceiptBlock {
    ReceiptBlock::Text {
        text: t.into(),
        bold: true,
        double: true,
        underline: false,
        align: TextAlign::Center,
    }
}

fn row(left: &str, right: &str) -> ReceiptBlock {
    ReceiptBlock::Row {
        cells: vec![
            RowCell {
                text: left.into(),
                width: None,
                align: TextAlign::Left,
            },
            RowCell {
                text: right.into(),
                width: None,
                align: TextAlign::Right,
            },
        ],
        bold: false,
    }
}

/// The test page: every feature a receipt uses.
pub fn test_page() -> ReceiptDocument {
    ReceiptDocument {
        blocks: vec![
            heading("TEST PAGE"),
            text(&format!("edge-daemon {}", env!("CARGO_PKG_VERSION"))),
            ReceiptBlock::Separator { char: None },
            text("Code pages: € é ü ß å Ø ñ ç"),
            ReceiptBlock::Text {
                text: "bold".into(),
                bold: true,
                double: false,
                underline: false,
                align: TextAlign::Left,
            },
            ReceiptBlock::Text {
                text: "underlined, right".into(),
                bold: false,
                double: false,
                underline: true,
                align: TextAlign::Right,
            },
            row("Columns: item", "12,34 €"),
            ReceiptBlock::Barcode {
                symbology: "code128".into(),
                data: "TEST-128".into(),
                align: TextAlign::Center,
            },
            ReceiptBlock::Barcode {
                symbology: "ean13".into(),
                data: "5901234123457".into(),
                align: TextAlign::Center,
            },
            ReceiptBlock::Qr {
                data: "edge-daemon test page".into(),
                align: TextAlign::Center,
            },
            ReceiptBlock::Cut { full: false },
        ],
    }
}

fn connect_printer(addr: &str) -> Result<AnyPrinter, DiagError> {
    crate::devices::printer::open_receipt_printer(addr)
        .map_err(|e| fail(format!("printer {addr}"), &e))
}

/// Prints `doc` on the ESC/POS printer at `addr`; answers with the status checked before.
pub fn print_document(addr: &str, paper: Paper, doc: &ReceiptDocument) -> Result<Value, DiagError> {
    let receipt = doc.to_receipt().map_err(|e| DiagError {
        what: format!("document field {}", e.field),
        reason: e.reason,
    })?;
    let bytes = encode(
        &receipt,
        &PrinterProfile::new(paper, drivers::escpos::Font::A),
    );
    let mut printer = connect_printer(addr)?;
    let status = printer
        .print_job(&bytes)
        .map_err(|e| fail(format!("printing on {addr}"), &e))?;
    Ok(
        json!({ "printer": addr, "printed": true, "bytes": bytes.len(),
        "status": format!("{status:?}") }),
    )
}

/// Kicks the drawer on `pin` (2 or 5) of the printer at `addr`.
pub fn kick(addr: &str, pin: u8) -> Result<Value, DiagError> {
    let kick = match pin {
        2 => drivers::escpos::DrawerKick::pin2(),
        5 => drivers::escpos::DrawerKick::pin5(),
        other => {
            return Err(DiagError {
                what: "--pin".into(),
                reason: format!("{other} is not 2 or 5"),
            })
        }
    };
    let mut printer = connect_printer(addr)?;
    printer
        .kick_drawer(&kick)
        .map_err(|e| fail(format!("kicking the drawer on {addr}"), &e))?;
    let status = printer
        .query_status()
        .map_err(|e| fail(format!("status of {addr}"), &e))?;
    Ok(json!({ "printer": addr, "pin": pin, "kicked": true,
        "drawer_pin3_high": status.drawer_pin3_high }))
}

/// Reads scans from a serial or wedge scanner for `duration`, calling `each` per scan.
pub fn scan(
    port: &ScannerPort,
    duration: Duration,
    mut each: impl FnMut(Value),
) -> Result<u64, DiagError> {
    let path = match port {
        ScannerPort::Serial(p) | ScannerPort::Wedge(p, _) => p.clone(),
    };
    let mut scanner = port
        .open()
        .map_err(|e| fail(format!("scanner {}", path.display()), &e))?;
    let until = Instant::now() + duration;
    let mut n = 0;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match scanner.next_scan(left.min(Duration::from_millis(200))) {
            Ok(Some(raw)) => {
                n += 1;
                each(views::scan_result(&raw.data));
            }
            Ok(None) => {}
            Err(e) => return Err(fail(format!("scanner {}", path.display()), &e)),
        }
    }
    Ok(n)
}

/// Runs an inventory on the LLRP reader at `addr` for `duration`; the reads aggregated per EPC.
pub fn rfid(addr: &str, duration: Duration) -> Result<Value, DiagError> {
    let mut client = LlrpClient::connect(addr, ClientConfig::default())
        .map_err(|e| fail(format!("reader {addr}"), &e))?;
    let stop = client.stop_handle();
    let timer = std::thread::spawn(move || {
        std::thread::sleep(duration);
        stop.stop();
    });
    let mut agg = Aggregator::new();
    let res = client.run(|r| agg.add(&r));
    let _ = timer.join();
    res.map_err(|e| fail(format!("reading from {addr}"), &e))?;
    let rest = client
        .stop()
        .map_err(|e| fail(format!("stopping {addr}"), &e))?;
    agg.extend(&rest);
    let total = agg.total_reads();
    let tags = agg.flush();
    Ok(
        json!({ "reader": addr, "seconds": duration.as_secs_f64(), "reads": total,
        "tags": tags.len(), "aggregates": views::tag_reads(&tags) }),
    )
}

/// Turns the escapes a shell user can type into bytes: `\x1d`, `<GS>` and `\\`.
pub fn unescape_scan(input: &str) -> Vec<u8> {
    let replaced = input.replace("<GS>", "\u{1d}").replace("<FNC1>", "\u{1d}");
    let mut out = Vec::with_capacity(replaced.len());
    let b = replaced.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            let hex = b
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Interprets scan data; `Err` carries the JSON of an invalid scan.
pub fn decode_barcode(input: &str) -> Result<Value, Value> {
    let v = views::scan_result(&unescape_scan(input));
    if v["kind"] == "invalid" {
        Err(v)
    } else {
        Ok(v)
    }
}

/// Decodes an EPC given in hex; `Err` carries the JSON with the error.
pub fn decode_epc(hex: &str) -> Result<Value, Value> {
    match drivers::rfid::epc::parse_hex(hex.trim()) {
        Ok(bytes) => {
            let v = views::epc_result(&bytes);
            if v["scheme"] == "unknown" {
                Err(v)
            } else {
                Ok(v)
            }
        }
        Err(e) => Err(json!({ "hex": hex, "error": e.to_string() })),
    }
}

/// Whether a device path exists, or a TCP connection to `addr` opens within `timeout`.
fn reachable(addr: &str, timeout: Duration) -> Result<(), String> {
    if let Some(path) = addr.strip_prefix('/') {
        let path = path.rsplit_once('@').map_or(path, |(p, _)| p);
        return match Path::new("/").join(path).exists() {
            true => Ok(()),
            false => Err("no such device".into()),
        };
    }
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve: {e}"))?
        .collect();
    let mut last = "no address".to_owned();
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// A printer's condition as its status query reports it (`online`, `paper_low`, `cover_open`,
/// `error: …`), or what its failure stands for (`offline: …`; a silent ZPL printer is `error`).
fn printer_condition<B: Backend>(address: &str) -> String {
    match B::connect(address).and_then(|mut conn| B::status(&mut conn)) {
        Ok(status) => match B::condition(&status) {
            (state, None) => state.to_owned(),
            (state, Some(detail)) => format!("{state}: {detail}"),
        },
        Err(e) => format!("{}: {}", B::failure_state(&e), error_chain(&e)),
    }
}

/// `host:port` of a broker URL (`mqtt://h:1883`, `mqtts://h`, `tcp://…`, `ssl://…`).
pub fn broker_address(url: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} has no scheme"))?;
    let default_port = match scheme {
        "mqtt" | "tcp" => 1883,
        "mqtts" | "ssl" => 8883,
        other => return Err(format!("unknown scheme {other:?}")),
    };
    let host_port = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = host_port.rsplit('@').next().unwrap_or_default();
    if host_port.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    let has_port = host_port
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    Ok(if has_port {
        host_port.to_owned()
    } else {
        format!("{host_port}:{default_port}")
    })
}

/// The self-test report: identity, addresses, versions, devices and cloud reachability.
pub fn self_test_report(cfg: &Config) -> Value {
    let timeout = Duration::from_secs(2);
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let devices: Vec<Value> = cfg
        .devices
        .list
        .iter()
        .map(|d| {
            let target = match d {
                DeviceSpec::ReceiptPrinter { address, .. }
                | DeviceSpec::LabelPrinter { address, .. }
                | DeviceSpec::RfidReader { address, .. } => Some(address.clone()),
                DeviceSpec::SerialScanner { path, .. }
                | DeviceSpec::WedgeScanner { path, .. }
                | DeviceSpec::GpioDrawer { chip: path, .. } => {
                    let state = if path.exists() { "present" } else { "missing" };
                    return json!({ "name": d.name(), "kind": d.kind(), "state": state });
                }
                DeviceSpec::KickDrawer { .. } => None,
            };
            let state = match (d, target.as_deref()) {
                (DeviceSpec::ReceiptPrinter { .. }, Some(a)) => printer_condition::<Receipt>(a),
                (DeviceSpec::LabelPrinter { .. }, Some(a)) => printer_condition::<Label>(a),
                (_, Some(a)) => match reachable(a, timeout) {
                    Ok(()) => "reachable".to_owned(),
                    Err(e) => format!("unreachable: {e}"),
                },
                (_, None) => "on its printer".to_owned(),
            };
            json!({ "name": d.name(), "kind": d.kind(), "state": state })
        })
        .collect();
    let cloud = match cfg.mqtt.url.as_deref() {
        None => "not configured (offline store)".to_owned(),
        Some(url) => match broker_address(url).and_then(|a| reachable(&a, timeout).map(|()| a)) {
            Ok(a) => format!("broker {a} reachable"),
            Err(e) => format!("broker unreachable: {e}"),
        },
    };
    json!({
        "store_id": cfg.store_id.as_str(),
        "hostname": host,
        "api_listen": cfg.api.listen.to_string(),
        "versions": {
            "edge_daemon": env!("CARGO_PKG_VERSION"),
            "store_layout": crate::store::LAYOUT_VERSION,
            "wire_schema": protocol::SCHEMA_VERSION,
        },
        "devices": devices,
        "cloud": cloud,
    })
}

/// The self-test ticket for the receipt printer.
pub fn self_test_ticket(report: &Value, printer_local_addr: Option<&str>) -> ReceiptDocument {
    let s = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string())
    };
    let mut blocks = vec![
        heading("SELF-TEST"),
        row("Store", &s(&report["store_id"])),
        row("Host", &s(&report["hostname"])),
        row("LAN API", &s(&report["api_listen"])),
    ];
    if let Some(a) = printer_local_addr {
        blocks.push(row("Box address", a));
    }
    blocks.push(ReceiptBlock::Separator { char: None });
    if let Some(versions) = report["versions"].as_object() {
        for (k, v) in versions {
            blocks.push(row(k, &s(v)));
        }
    }
    blocks.push(ReceiptBlock::Separator { char: None });
    for d in report["devices"].as_array().into_iter().flatten() {
        blocks.push(row(&s(&d["name"]), &s(&d["state"])));
    }
    blocks.push(ReceiptBlock::Separator { char: None });
    blocks.push(text(&format!("Cloud: {}", s(&report["cloud"]))));
    blocks.push(ReceiptBlock::Cut { full: false });
    ReceiptDocument { blocks }
}

/// The box's own address on the route to `addr`, as the printer sees it.
pub fn local_address_towards(addr: &str) -> Option<String> {
    let a = addr.to_socket_addrs().ok()?.next()?;
    let s = TcpStream::connect_timeout(&a, Duration::from_secs(2)).ok()?;
    s.local_addr().ok().map(|l| l.ip().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use drivers::escpos::sim::SimPrinter;

    #[test]
    fn the_test_page_prints_whole_on_the_simulator() {
        let sim = SimPrinter::start().unwrap();
        let out = print_document(&sim.addr().to_string(), Paper::Mm80, &test_page()).unwrap();
        assert_eq!(out["printed"], true);
        let jobs = sim.wait_for_jobs(1, Duration::from_secs(5));
        assert_eq!(jobs.len(), 1);
        assert!(jobs[0].text.contains("TEST PAGE"), "{}", jobs[0].text);
        assert!(jobs[0].text.contains("€ é ü ß å"), "{}", jobs[0].text);
        assert!(jobs[0].cut());
    }

    #[test]
    fn a_paper_out_printer_refuses_the_test_page() {
        let sim = SimPrinter::start().unwrap();
        sim.update_state(|s| s.paper = drivers::escpos::PaperLevel::Out);
        let err = print_document(&sim.addr().to_string(), Paper::Mm58, &test_page()).unwrap_err();
        assert!(err.to_string().contains("paper"), "{err}");
        assert!(sim.printed().is_empty());
    }

    #[test]
    fn kick_pulses_the_chosen_pin_and_rejects_others() {
        let sim = SimPrinter::start().unwrap();
        let v = kick(&sim.addr().to_string(), 5).unwrap();
        assert_eq!(v["kicked"], true);
        assert!(kick(&sim.addr().to_string(), 3).is_err());
    }

    #[test]
    fn barcode_escapes_are_understood() {
        assert_eq!(
            unescape_scan(r"]C1011\x1d10A<GS>x\\"),
            b"]C1011\x1d10A\x1dx\\"
        );
        let v = decode_barcode(r"]C10109506000134352\x1d10AB12").unwrap();
        assert_eq!(v["gtin"], "09506000134352");
        assert!(decode_barcode("]E05901234123458").is_err());
        assert!(decode_epc("3074257BF7194E4000001A85").is_ok());
        assert!(decode_epc("zz").is_err());
    }

    #[test]
    fn broker_addresses_get_default_ports() {
        assert_eq!(
            broker_address("mqtt://b.example").unwrap(),
            "b.example:1883"
        );
        assert_eq!(broker_address("mqtts://u:p@b:9999/x").unwrap(), "b:9999");
        assert!(broker_address("http://b").is_err());
        assert!(broker_address("b:1883").is_err());
    }

    #[test]
    fn the_self_test_ticket_names_devices_and_cloud() {
        let sim = SimPrinter::start().unwrap();
        sim.update_state(|s| s.paper = drivers::escpos::PaperLevel::NearEnd);
        let label = drivers::zpl::sim::SimLabelPrinter::start().unwrap();
        label.update_state(|s| s.head_open = true);
        let broker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut cfg = Config::default();
        cfg.devices.list = vec![
            DeviceSpec::ReceiptPrinter {
                name: "receipt-1".into(),
                address: sim.addr().to_string(),
                paper: Default::default(),
                font: Default::default(),
            },
            DeviceSpec::LabelPrinter {
                name: "labels-1".into(),
                address: label.addr().to_string(),
            },
        ];
        let report = self_test_report(&cfg);
        assert_eq!(report["devices"][0]["state"], "paper_low", "{report}");
        let label_state = report["devices"][1]["state"].as_str().unwrap();
        assert!(label_state.starts_with("error: "), "{report}");
        assert!(report["cloud"].as_str().unwrap().contains("not configured"));

        // The broker answers on a local port: reachable, and the ticket says so.
        let broker_addr = broker.local_addr().unwrap();
        cfg.mqtt.url = Some(format!("mqtt://{broker_addr}"));
        let report = self_test_report(&cfg);
        let cloud = format!("broker {broker_addr} reachable");
        assert_eq!(report["cloud"], cloud.as_str(), "{report}");
        let ticket = self_test_ticket(&report, Some("127.0.0.1"));
        print_document(&sim.addr().to_string(), Paper::Mm80, &ticket).unwrap();
        let jobs = sim.wait_for_jobs(1, Duration::from_secs(5));
        let printed = &jobs[0].text;
        assert!(printed.contains("SELF-TEST"), "{printed}");
        assert!(printed.contains(&format!("Cloud: {cloud}")), "{printed}");
        assert!(
            printed.contains("receipt-1") && printed.contains("paper_low"),
            "{printed}"
        );
        assert!(printed.contains(env!("CARGO_PKG_VERSION")), "{printed}");
        assert!(printed.contains("edge_daemon"), "{printed}");
        assert!(printed.contains(&cfg.api.listen.to_string()), "{printed}");
        assert!(
            printed.contains("LAN API") && printed.contains("Box address"),
            "{printed}"
        );

        // The broker is gone: its port refuses, and the ticket says unreachable.
        drop(broker);
        let report = self_test_report(&cfg);
        let cloud = report["cloud"].as_str().unwrap();
        assert!(cloud.starts_with("broker unreachable: "), "{report}");
        sim.take_jobs();
        let ticket = self_test_ticket(&report, None);
        print_document(&sim.addr().to_string(), Paper::Mm80, &ticket).unwrap();
        let jobs = sim.wait_for_jobs(1, Duration::from_secs(5));
        assert!(
            jobs[0].text.contains("Cloud: broker unreachable"),
            "{}",
            jobs[0].text
        );
    }
}
