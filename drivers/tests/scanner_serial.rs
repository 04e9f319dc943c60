//! Serial scanners on a pseudo-terminal: the simulator writes scans on the master side, the
//! real `SerialScanner` reads them from the slave device path, as the daemon does.

use std::io::Write;
use std::time::{Duration, Instant};

use drivers::gs1::{Ai, Gs1Error, Gtin, ScanData, Symbology, Value};
use drivers::scanner::sim::SimSerialScanner;
use drivers::scanner::{FrameEnd, ScannerError, SerialConfig, SerialScanner, Terminator};

const WAIT: Duration = Duration::from_secs(2);

fn open(sim: &SimSerialScanner) -> SerialScanner {
    SerialScanner::open(&SerialConfig::new(sim.path())).expect("open the pty slave")
}

#[test]
fn typed_scans_arrive_through_the_pty() {
    let mut sim = SimSerialScanner::new().unwrap();
    let mut scanner = open(&sim);

    sim.scan_with(Some("]E0"), "5901234123457").unwrap();
    sim.scan_with(Some("]d2"), "0109506000134352\u{1d}10AB-12\u{1d}17261200")
        .unwrap();
    sim.scan("https://id.gs1.org/01/09506000134352/21/S%2F1")
        .unwrap();
    sim.scan("hello world").unwrap();

    let s = scanner.next_scan(WAIT).unwrap().unwrap();
    assert_eq!(s.end, FrameEnd::Suffix);
    let scan = s.interpret().unwrap();
    assert_eq!(scan.symbology, Some(Symbology::Ean13));
    assert_eq!(
        scan.data,
        ScanData::Gtin(Gtin::parse("5901234123457").unwrap())
    );

    let scan = scanner
        .next_scan(WAIT)
        .unwrap()
        .unwrap()
        .interpret()
        .unwrap();
    assert_eq!(scan.symbology, Some(Symbology::Gs1DataMatrix));
    assert_eq!(
        scan.data.element(Ai::BATCH),
        Some(&Value::Text("AB-12".into()))
    );
    assert!(matches!(scan.data.element(Ai::EXPIRY), Some(Value::Date(d)) if d.day.is_none()));

    let scan = scanner
        .next_scan(WAIT)
        .unwrap()
        .unwrap()
        .interpret()
        .unwrap();
    assert!(matches!(scan.data, ScanData::DigitalLink { .. }));
    assert_eq!(
        scan.data.element(Ai::SERIAL),
        Some(&Value::Text("S/1".into()))
    );

    let scan = scanner
        .next_scan(WAIT)
        .unwrap()
        .unwrap()
        .interpret()
        .unwrap();
    assert_eq!(scan.data, ScanData::Plain("hello world".into()));
}

#[test]
fn timeout_returns_none_and_partial_frames_wait_for_their_terminator() {
    let mut sim = SimSerialScanner::new().unwrap();
    let mut scanner = open(&sim);
    let t = Instant::now();
    assert!(scanner
        .next_scan(Duration::from_millis(120))
        .unwrap()
        .is_none());
    assert!(t.elapsed() >= Duration::from_millis(120) && t.elapsed() < Duration::from_secs(1));

    sim.send_raw(b"]C10109506").unwrap();
    assert!(scanner
        .next_scan(Duration::from_millis(100))
        .unwrap()
        .is_none());
    sim.send_raw(b"000134352\r").unwrap();
    let s = scanner.next_scan(WAIT).unwrap().unwrap();
    assert_eq!(s.data, b"]C10109506000134352");
    assert_eq!(
        s.interpret().unwrap().gtin(),
        Gtin::parse("09506000134352").ok()
    );
}

#[test]
fn bad_data_is_a_typed_error_with_the_raw_bytes_kept() {
    let mut sim = SimSerialScanner::new().unwrap();
    sim.aim_prefix = Some("]C1".into());
    let mut scanner = open(&sim);
    sim.scan("0109506000134353").unwrap();
    let raw = scanner.next_scan(WAIT).unwrap().unwrap();
    assert_eq!(raw.data, b"]C10109506000134353");
    assert_eq!(
        raw.interpret(),
        Err(Gs1Error::CheckDigit {
            ai: Ai::GTIN,
            position: 5,
            expected: 2,
            found: 3
        })
    );
}

#[test]
fn lf_terminator_and_max_length() {
    let mut sim = SimSerialScanner::new().unwrap();
    sim.suffix = b"\n".to_vec();
    let config = SerialConfig {
        terminator: Terminator::Lf,
        max_len: 8,
        ..SerialConfig::new(sim.path())
    };
    let mut scanner = SerialScanner::open(&config).unwrap();
    sim.scan("A\rB").unwrap();
    sim.scan("0123456789").unwrap();
    sim.scan("OK").unwrap();
    assert_eq!(scanner.next_scan(WAIT).unwrap().unwrap().data, b"A\rB");
    let over = scanner.next_scan(WAIT).unwrap().unwrap();
    assert_eq!(
        (over.data.as_slice(), over.end),
        (&b"01234567"[..], FrameEnd::Overflow)
    );
    assert_eq!(scanner.next_scan(WAIT).unwrap().unwrap().data, b"OK");
}

#[test]
fn many_scans_in_one_burst_and_reopen() {
    let mut sim = SimSerialScanner::new().unwrap();
    {
        let mut scanner = open(&sim);
        let mut burst = Vec::new();
        for i in 0..200u32 {
            let gtin = Gtin::with_check_digit(&format!("400000{i:06}")).unwrap();
            write!(burst, "]E0{}\r\n", gtin.short_form()).unwrap();
        }
        sim.send_raw(&burst).unwrap();
        for i in 0..200u32 {
            let raw = scanner.next_scan(WAIT).unwrap().expect("scan");
            let gtin = raw.interpret().unwrap().gtin().unwrap();
            assert_eq!(&gtin.as_str()[7..13], &format!("{i:06}"));
        }
    }
    // The daemon closes and reopens the device (e.g. after a restart of its device thread).
    let mut scanner = open(&sim);
    sim.scan("again").unwrap();
    assert_eq!(scanner.next_scan(WAIT).unwrap().unwrap().data, b"again");
}

#[test]
fn opening_a_missing_device_names_the_path() {
    let err = SerialScanner::open(&SerialConfig::new("/dev/does-not-exist-scanner")).unwrap_err();
    assert!(matches!(err, ScannerError::Open { .. }));
    assert!(err.to_string().contains("/dev/does-not-exist-scanner"));
}
