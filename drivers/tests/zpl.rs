//! ZPL labels against the simulated label printer over real TCP.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use drivers::escpos::Timeouts;
use drivers::zpl::sim::{LabelSimState, SimLabelPrinter};
use drivers::zpl::{Gs1Element, Label, LabelPrinterError, TcpLabelPrinter};

const WAIT: Duration = Duration::from_secs(3);

fn connect(sim: &SimLabelPrinter) -> TcpLabelPrinter {
    let t = Timeouts {
        status: Duration::from_millis(500),
        ..Timeouts::default()
    };
    TcpLabelPrinter::connect(&sim.addr().to_string(), t).unwrap()
}

fn shipping_label() -> Label {
    let mut l = Label::new(812, 1218);
    l.text(40, 40, 40, "Ship to: Müller GmbH, Straße 5 ^~_");
    l.gs1_128(
        40,
        120,
        200,
        vec![
            Gs1Element::new("01", "05060917510011").unwrap(),
            Gs1Element::new("10", "628S93R").unwrap(),
            Gs1Element::new("17", "241000").unwrap(),
        ],
    )
    .unwrap();
    l.code128(40, 400, 100, "PKG-0042").unwrap();
    l.qr(560, 40, 6, "https://id.gs1.org/01/09506000134352")
        .unwrap();
    l.boxed(20, 20, 772, 1178, 4);
    l.quantity(2);
    l
}

#[test]
fn label_prints_with_decoded_text_and_barcodes() {
    let sim = SimLabelPrinter::start().unwrap();
    let mut printer = connect(&sim);
    let status = printer.print_label(&shipping_label()).unwrap();
    assert!(status.ready());
    let labels = sim.wait_for_labels(1, WAIT);
    assert_eq!(labels.len(), 1);
    let l = &labels[0];
    assert!(l.zpl.is_ascii());
    assert_eq!(l.data_of("A0"), ["Ship to: Müller GmbH, Straße 5 ^~_"]);
    assert_eq!(
        l.data_of("BC"),
        [">;>8010506091751001110628S93R>817241000", "PKG-0042"]
    );
    assert_eq!(l.data_of("BQ"), ["QA,https://id.gs1.org/01/09506000134352"]);
    assert_eq!(l.quantity, 2);
}

#[test]
fn head_open_refuses_and_sends_nothing() {
    let sim = SimLabelPrinter::start().unwrap();
    // A printer that still answers while in error reports the fault by name.
    sim.set_state(LabelSimState {
        head_open: true,
        silent_in_error: false,
        ..Default::default()
    });
    let mut printer = connect(&sim);
    let err = printer.print_label(&shipping_label()).unwrap_err();
    assert!(matches!(err, LabelPrinterError::HeadOpen), "{err:?}");

    sim.set_state(LabelSimState {
        paper_out: true,
        silent_in_error: false,
        ..Default::default()
    });
    let err = printer.print_label(&shipping_label()).unwrap_err();
    assert!(matches!(err, LabelPrinterError::PaperOut), "{err:?}");

    sim.set_state(LabelSimState {
        paused: true,
        ..Default::default()
    });
    let err = printer.print_label(&shipping_label()).unwrap_err();
    assert!(matches!(err, LabelPrinterError::Paused), "{err:?}");

    std::thread::sleep(Duration::from_millis(100));
    assert!(sim.labels().is_empty());
}

#[test]
fn silence_in_error_times_out_as_in_error() {
    let sim = SimLabelPrinter::start().unwrap();
    sim.update_state(|s| s.ribbon_out = true);
    let mut printer = connect(&sim);
    let start = Instant::now();
    let err = printer.print_label(&shipping_label()).unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(err, LabelPrinterError::NoStatusReply(_)),
        "{err:?}"
    );
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert!(sim.labels().is_empty());
}

#[test]
fn stale_and_stray_bytes_around_the_reply() {
    let sim = SimLabelPrinter::start().unwrap();
    let mut printer = connect(&sim);
    assert!(printer.query_status().unwrap().ready());
    // A stale "paper out" reply waits in the buffer: draining must discard it.
    let stale = LabelSimState {
        paper_out: true,
        silent_in_error: false,
        ..Default::default()
    };
    sim.send_unsolicited(&stale.host_status().unwrap());
    std::thread::sleep(Duration::from_millis(100));
    assert!(printer.query_status().unwrap().ready());
    // Junk in the same write as the reply is skipped.
    sim.inject_before_next_reply(b"\r\n\x03garbage\x02");
    assert!(printer.query_status().unwrap().ready());
}

#[test]
fn garbage_does_not_kill_the_simulator() {
    let sim = SimLabelPrinter::start().unwrap();
    {
        let mut raw = TcpStream::connect(sim.addr()).unwrap();
        let mut junk: Vec<u8> = (0..50_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
            .collect();
        junk.extend_from_slice(b"^XA^FH^FD_Z_^FS^PQx^FO^XZ^XA~hs^XA");
        raw.write_all(&junk).unwrap();
    }
    let mut printer = connect(&sim);
    assert!(printer.query_status().unwrap().ready());
    let labels = sim.wait_for_labels(1, WAIT);
    assert!(labels.iter().any(|l| l.zpl.starts_with("^XA^FH^FD_Z_")));
}
