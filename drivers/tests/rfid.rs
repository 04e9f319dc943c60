//! The LLRP client against the simulated reader over real TCP on 127.0.0.1.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use drivers::rfid::aggregate::Aggregator;
use drivers::rfid::client::{ClientConfig, ClientError, LlrpClient};
use drivers::rfid::epc::{self, Epc};
use drivers::rfid::sim::{SimConfig, SimReader};

fn fast_config() -> ClientConfig {
    ClientConfig {
        keepalive_interval: Duration::from_millis(100),
        dead_after: Duration::from_millis(600),
        poll_interval: Duration::from_millis(20),
        ..ClientConfig::default()
    }
}

#[test]
fn full_session_with_50_tags_counts_match() {
    let mut cfg = SimConfig::sgtin_population(50);
    cfg.reads_per_second = 3_000;
    let sim = SimReader::start(cfg).unwrap();
    let mut client = LlrpClient::connect(sim.addr(), fast_config()).unwrap();
    assert_eq!(client.capabilities().map(|c| c.max_antennas), Some(4));

    let stop = client.stop_handle();
    let stopper = thread::spawn(move || {
        thread::sleep(Duration::from_millis(800));
        stop.stop();
    });
    let mut agg = Aggregator::new();
    for read in client.reads() {
        agg.add(&read.unwrap());
    }
    stopper.join().unwrap();
    let keepalives = client.stats().keepalives;
    let tail = client.stop().unwrap();
    agg.extend(&tail);

    // Every read the reader sent arrived and was counted, per EPC.
    let sent = sim.sent_counts();
    assert_eq!(sent.len(), 50);
    assert_eq!(agg.len(), 50);
    for (epc, n) in &sent {
        assert_eq!(agg.get(epc).map(|a| a.count), Some(*n), "EPC {epc:02x?}");
    }
    assert!(
        agg.total_reads() >= 1_000,
        "only {} reads",
        agg.total_reads()
    );

    // Reads carry what the content selector asked for, and decode as SGTIN-96.
    for a in agg.flush() {
        assert!(a.peak_rssi.is_some() && (1..=4).contains(&a.peak_antenna.unwrap()));
        assert!(a.first_seen_us <= a.last_seen_us && a.first_seen_us > 0);
        let Epc::Sgtin(s) = epc::decode(&a.epc).unwrap() else {
            panic!("not an SGTIN")
        };
        assert_eq!(s.company_prefix.to_string(), "0614141");
    }

    // Keepalives were sent and answered; the stop was clean.
    let stats = sim.stats();
    assert!(keepalives >= 3, "{keepalives} keepalives");
    assert!(stats.keepalive_acks >= 3 && stats.keepalive_acks == stats.keepalives_sent);
    assert_eq!((stats.stop_rospec, stats.close_connection), (1, 1));
    assert_eq!(stats.delete_rospec, 2); // delete-all at set-up, ours at the stop
    assert_eq!(stats.garbage, 0);
}

#[test]
fn silent_reader_is_detected() {
    let sim = SimReader::start(SimConfig::sgtin_population(5)).unwrap();
    let mut client = LlrpClient::connect(sim.addr(), fast_config()).unwrap();
    // Reads flow first.
    assert!(client.next_read().unwrap().is_some());
    sim.set_silent(true);
    let t0 = Instant::now();
    let err = loop {
        match client.next_read() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("stopped without a stop request"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, ClientError::ReaderSilent(d) if d >= Duration::from_millis(600)));
    assert!(t0.elapsed() < Duration::from_secs(3));
}

#[test]
fn a_quiet_field_returns_control_within_the_timeout() {
    let sim = SimReader::start(SimConfig::sgtin_population(2)).unwrap();
    let mut client = LlrpClient::connect(sim.addr(), fast_config()).unwrap();
    let first = client.next_read_within(Duration::from_secs(2)).unwrap();
    assert!(first.is_some(), "no read while the field is busy");
    sim.set_silent(true);
    // Drain what was already on its way, then time a quiet poll.
    while client
        .next_read_within(Duration::from_millis(100))
        .unwrap()
        .is_some()
    {}
    let t0 = Instant::now();
    let quiet = client.next_read_within(Duration::from_millis(150)).unwrap();
    let waited = t0.elapsed();
    assert!(quiet.is_none());
    assert!(!client.is_stopped());
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    client.stop_handle().stop();
    assert!(client
        .next_read_within(Duration::from_secs(5))
        .unwrap()
        .is_none());
    assert!(client.is_stopped());
}

#[test]
fn second_client_is_refused_and_first_keeps_reading() {
    let sim = SimReader::start(SimConfig::sgtin_population(3)).unwrap();
    let mut first = LlrpClient::connect(sim.addr(), fast_config()).unwrap();
    match LlrpClient::connect(sim.addr(), fast_config()) {
        Err(ClientError::ConnectionRefused(2)) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(first.next_read().unwrap().is_some());
    first.stop().unwrap();
    assert_eq!(sim.stats().refused, 1);
}

#[test]
fn garbage_and_dropped_clients_do_not_break_the_reader() {
    let sim = SimReader::start(SimConfig::sgtin_population(3)).unwrap();

    // Garbage that breaks framing: the reader closes the connection.
    let mut raw = TcpStream::connect(sim.addr()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut sink = Vec::new();
    let _ = raw.read_to_end(&mut sink);
    assert!(sink.len() >= 10, "the connection event came first");

    // A client that vanishes mid-inventory.
    let mut gone = LlrpClient::connect(sim.addr(), fast_config()).unwrap();
    assert!(gone.next_read().unwrap().is_some());
    drop(gone);

    // A well-framed message with a broken body gets an ERROR_MESSAGE, and the session lives.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut client = loop {
        match LlrpClient::connect(sim.addr(), fast_config()) {
            Ok(c) => break c,
            // The reader may not have seen the previous client leave yet.
            Err(ClientError::ConnectionRefused(2)) if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert!(client.next_read().unwrap().is_some());
    client.stop().unwrap();
    assert!(sim.stats().garbage >= 1);
}

#[test]
fn nothing_listening_is_an_io_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = LlrpClient::connect(port, fast_config()).unwrap_err();
    assert!(matches!(err, ClientError::Io(_)), "{err}");
}
