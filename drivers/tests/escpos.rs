//! ESC/POS printing against the simulated printer over real TCP.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use drivers::escpos::sim::{SimCommand, SimPrinter, SimState};
use drivers::escpos::{
    Barcode, Cut, DrawerKick, DrawerPin, FilePrinter, PaperLevel, PrinterError, PrinterProfile,
    QrCode, RasterImage, Receipt, Style, TcpPrinter, Timeouts,
};

const WAIT: Duration = Duration::from_secs(3);

fn timeouts() -> Timeouts {
    Timeouts {
        status: Duration::from_millis(500),
        ..Timeouts::default()
    }
}

fn connect(sim: &SimPrinter) -> TcpPrinter {
    TcpPrinter::connect(&sim.addr().to_string(), timeouts()).unwrap()
}

fn receipt() -> Receipt {
    let mut r = Receipt::new();
    r.line("Bäckerei Müller", Style::plain().bold().double())
        .row("Café crème", "3,50 €")
        .row("Brötchen süß", "0,80 €")
        .separator()
        .row("Summe", "4,30 €")
        .line("Grüße aus Malmö, Señor Øster", Style::plain())
        .barcode(Barcode::code128("R-2026-0042").unwrap())
        .barcode(Barcode::ean13("5901234123457").unwrap())
        .qr(QrCode::new("https://example.com/r/42").unwrap())
        .image(RasterImage::from_fn(64, 16, |x, y| (x + y) % 2 == 0).unwrap())
        .kick(DrawerKick::pin2())
        .cut(Cut::Partial);
    r
}

#[test]
fn receipt_prints_with_non_ascii_text_and_cut() {
    let sim = SimPrinter::start().unwrap();
    let mut printer = connect(&sim);
    let status = printer
        .print_receipt(&receipt(), &PrinterProfile::default())
        .unwrap();
    assert!(status.ready());

    let jobs = sim.wait_for_jobs(1, WAIT);
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    for expected in [
        "Bäckerei Müller",
        "Café crème",
        "3,50 €",
        "Brötchen süß",
        "Grüße aus Malmö, Señor Øster",
    ] {
        assert!(
            job.text.contains(expected),
            "{expected:?} missing from {:?}",
            job.text
        );
    }
    let summe = job.text.lines().find(|l| l.starts_with("Summe")).unwrap();
    assert_eq!(
        summe.chars().count(),
        48,
        "row fills the 80 mm font A line: {summe:?}"
    );
    assert!(summe.ends_with("4,30 €"));
    assert!(job.text.contains(&"-".repeat(48)));
    assert!(job.cut());
    assert_eq!(
        job.commands,
        [
            SimCommand::Barcode {
                symbology: 73,
                data: b"{BR-2026-0042".to_vec()
            },
            SimCommand::Barcode {
                symbology: 67,
                data: b"590123412345".to_vec()
            },
            SimCommand::Qr {
                data: b"https://example.com/r/42".to_vec()
            },
            SimCommand::Raster {
                width_bytes: 8,
                height: 16
            },
            SimCommand::Kick {
                pin: 0,
                on_ms: 100,
                off_ms: 400
            },
            SimCommand::Cut { partial: true },
        ]
    );
    assert!(
        sim.state().drawer_pin3_high,
        "the kick opened the simulated drawer"
    );
}

#[test]
fn two_jobs_on_one_connection_are_separated_by_cut() {
    let sim = SimPrinter::start().unwrap();
    let mut printer = connect(&sim);
    let profile = PrinterProfile::default();
    for text in ["first", "second"] {
        let mut r = Receipt::new();
        r.line(text, Style::plain()).cut(Cut::Full);
        printer.print_receipt(&r, &profile).unwrap();
    }
    let jobs = sim.wait_for_jobs(2, WAIT);
    assert_eq!(
        jobs.iter().map(|j| j.text.trim()).collect::<Vec<_>>(),
        ["first", "second"]
    );
    assert_eq!(sim.take_jobs().len(), 2);
    assert!(sim.printed().is_empty());
}

#[test]
fn status_reflects_simulator_state() {
    let sim = SimPrinter::start().unwrap();
    let mut printer = connect(&sim);
    assert!(printer.query_status().unwrap().ready());

    sim.update_state(|s| s.paper = PaperLevel::NearEnd);
    let s = printer.query_status().unwrap();
    assert_eq!(s.paper, PaperLevel::NearEnd);
    assert!(s.ready(), "near end still prints");

    sim.set_state(SimState {
        cover_open: true,
        drawer_pin3_high: true,
        ..SimState::default()
    });
    let s = printer.query_status().unwrap();
    assert!(s.cover_open && s.offline && s.drawer_pin3_high);

    sim.set_state(SimState {
        offline: true,
        ..SimState::default()
    });
    let s = printer.query_status().unwrap();
    assert!(s.offline && !s.cover_open && s.paper == PaperLevel::Ok);
}

#[test]
fn paper_out_refuses_to_print_and_sends_nothing() {
    let sim = SimPrinter::start().unwrap();
    sim.update_state(|s| s.paper = PaperLevel::Out);
    let mut printer = connect(&sim);
    let err = printer
        .print_receipt(&receipt(), &PrinterProfile::default())
        .unwrap_err();
    assert!(matches!(err, PrinterError::PaperOut), "{err:?}");

    sim.set_state(SimState {
        cover_open: true,
        paper: PaperLevel::Out,
        ..SimState::default()
    });
    let err = printer
        .print_receipt(&receipt(), &PrinterProfile::default())
        .unwrap_err();
    assert!(
        matches!(err, PrinterError::CoverOpen),
        "cover open wins: {err:?}"
    );

    sim.set_state(SimState {
        offline: true,
        ..SimState::default()
    });
    let err = printer.print_job(b"hello\n").unwrap_err();
    assert!(matches!(err, PrinterError::Offline), "{err:?}");

    drop(printer);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        sim.printed().is_empty(),
        "nothing was sent: {:?}",
        sim.printed()
    );
}

#[test]
fn stale_reply_in_buffer_is_drained() {
    let sim = SimPrinter::start().unwrap();
    let mut printer = connect(&sim);
    // Make sure the simulator registered the connection, then leave an old "offline" reply
    // and an ASB message waiting in our receive buffer.
    printer.query_status().unwrap();
    sim.send_unsolicited(&[0x1A, 0x18, 0x00, 0x0F, 0x00]);
    std::thread::sleep(Duration::from_millis(100));
    let s = printer.query_status().unwrap();
    assert!(s.ready(), "stale bytes were used: {s:?}");
}

#[test]
fn stray_bytes_before_the_reply_are_skipped() {
    let sim = SimPrinter::start().unwrap();
    sim.update_state(|s| s.paper = PaperLevel::NearEnd);
    let mut printer = connect(&sim);
    // Arrives in the same write as the reply, after the drain: garbage and an ASB message.
    sim.inject_before_next_reply(&[0xFF, 0x00, 0x18, 0x00, 0x0F, 0x00]);
    let s = printer.query_status().unwrap();
    assert_eq!(s.paper, PaperLevel::NearEnd);
    assert!(s.online());
    let asb = printer.last_asb().expect("the ASB message was recognised");
    assert_eq!(asb.paper, PaperLevel::Out);
}

#[test]
fn silent_printer_times_out_with_typed_error() {
    let sim = SimPrinter::start().unwrap();
    sim.update_state(|s| s.silent = true);
    let mut printer = connect(&sim);
    let start = Instant::now();
    let err = printer.query_status().unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(err, PrinterError::NoStatusReply { n: 1, .. }),
        "{err:?}"
    );
    assert!(took >= Duration::from_millis(450), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let err = printer.print_job(b"x").unwrap_err();
    assert!(matches!(err, PrinterError::NoStatusReply { .. }), "{err:?}");
}

#[test]
fn kick_reaches_the_drawer() {
    let sim = SimPrinter::start().unwrap();
    let mut printer = connect(&sim);
    printer.kick_drawer(&DrawerKick::pin5()).unwrap();
    drop(printer);
    let jobs = sim.wait_for_jobs(1, WAIT);
    assert_eq!(
        jobs[0].commands,
        [SimCommand::Kick {
            pin: 1,
            on_ms: 100,
            off_ms: 400
        }]
    );
    let mut printer = connect(&sim);
    assert!(printer.query_status().unwrap().drawer_open(true));

    sim.update_state(|s| s.drawer_pin3_high = false);
    sim.update_state(|s| s.offline = true);
    printer.kick_drawer_realtime(DrawerPin::Pin2, 2).unwrap();
    drop(printer);
    let jobs = sim.wait_for_jobs(2, WAIT);
    assert_eq!(
        jobs[1].commands,
        [SimCommand::RealtimeKick { pin: 0, t: 2 }]
    );
    assert!(
        sim.state().drawer_pin3_high,
        "a real-time kick works while offline"
    );
}

#[test]
fn garbage_does_not_kill_the_simulator() {
    let sim = SimPrinter::start().unwrap();
    {
        let mut raw = TcpStream::connect(sim.addr()).unwrap();
        let mut x: u32 = 0x1234_5678;
        let mut junk = Vec::new();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            junk.push(x.to_le_bytes()[0]);
        }
        // Truncated commands, huge declared lengths, then hang up mid-command.
        junk.extend_from_slice(&[0x1D, 0x76, 0x30, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2]);
        raw.write_all(&junk).unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    let mut printer = connect(&sim);
    assert!(printer.query_status().unwrap().ready());
}

#[test]
fn connect_failure_is_typed() {
    let sim = SimPrinter::start().unwrap();
    let addr = sim.addr().to_string();
    drop(sim);
    let err = TcpPrinter::connect(&addr, timeouts()).unwrap_err();
    assert!(matches!(err, PrinterError::Connect { .. }), "{err:?}");
}

#[test]
fn file_printer_writes_jobs_and_reports_no_reply() {
    let dir = std::env::temp_dir().join(format!("escpos-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lp0");
    std::fs::write(&path, b"").unwrap();
    let t = Timeouts {
        status: Duration::from_millis(100),
        ..Timeouts::default()
    };
    let mut printer = FilePrinter::open(&path, t).unwrap();
    printer.write_raw(b"\x1b@hello\n").unwrap();
    // A plain file never answers: the printer counts as offline.
    let err = printer.query_status().unwrap_err();
    assert!(
        matches!(err, PrinterError::NoStatusReply { n: 1, .. }),
        "{err:?}"
    );
    let written = std::fs::read(&path).unwrap();
    assert!(written.starts_with(b"\x1b@hello\n"), "{written:?}");
    let err = FilePrinter::open(dir.join("missing"), t).unwrap_err();
    assert!(matches!(err, PrinterError::Open { .. }), "{err:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_serial_printer_on_a_pty_prints_whole_jobs_and_reports_paper_out() {
    use drivers::escpos::{AnyPrinter, PrinterAddress};
    let sim = SimPrinter::start_serial().unwrap();
    let path = sim.path().unwrap().to_str().unwrap().to_owned();
    let address = PrinterAddress::parse(&format!("{path}@9600")).unwrap();
    assert!(matches!(address, PrinterAddress::Serial { baud: 9600, .. }));
    let mut printer = AnyPrinter::open_address(&address, timeouts()).unwrap();
    let status = printer.query_status().unwrap();
    assert!(status.ready(), "{status:?}");
    let bytes = drivers::escpos::encode(&receipt(), &PrinterProfile::default());
    printer.print_job(&bytes).unwrap();
    let jobs = sim.wait_for_jobs(1, WAIT);
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].text.contains("Bäckerei Müller"), "{}", jobs[0].text);
    assert!(jobs[0].cut());
    sim.update_state(|s| s.paper = PaperLevel::Out);
    let err = printer.print_job(&bytes).unwrap_err();
    assert!(matches!(err, PrinterError::PaperOut), "{err:?}");
    assert_eq!(sim.printed().len(), 1, "a refused job sends nothing");
}

#[test]
fn printer_addresses_name_their_transport() {
    use drivers::escpos::{PrinterAddress, DEFAULT_BAUD};
    assert_eq!(
        PrinterAddress::parse("10.0.0.5:9100").unwrap(),
        PrinterAddress::Tcp("10.0.0.5:9100".into())
    );
    assert!(matches!(
        PrinterAddress::parse("/dev/usb/lp0").unwrap(),
        PrinterAddress::UsbClass(_)
    ));
    assert_eq!(
        PrinterAddress::parse("/dev/ttyUSB0").unwrap(),
        PrinterAddress::Serial {
            path: "/dev/ttyUSB0".into(),
            baud: DEFAULT_BAUD
        }
    );
    for bad in [
        "printer",
        "host:",
        ":9100",
        "host:0",
        "/dev/ttyS0@fast",
        "/dev/ttyS0@1",
    ] {
        assert!(PrinterAddress::parse(bad).is_err(), "{bad}");
    }
}
