//! Interprets arbitrary bytes as what an ESC/POS printer sends back: real-time status replies,
//! Automatic Status Back messages and stray bytes. No parser may panic; whatever is accepted
//! must match the fixed bits of its message type.

#![no_main]

use drivers::escpos::status::{is_realtime_reply, next_incoming, Incoming, StatusRequest};
use drivers::escpos::PrinterStatus;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The whole input as one ASB message.
    if let Ok(status) = PrinterStatus::from_asb(data) {
        assert_eq!(data.len(), 4);
        let _ = status.ready();
    }

    // The first four bytes as replies to DLE EOT 1..4.
    if let Some(four) = data.get(..4) {
        let replies = [four[0], four[1], four[2], four[3]];
        match PrinterStatus::from_realtime(replies) {
            Ok(_) => assert!(replies.iter().all(|&b| is_realtime_reply(b))),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }

    // Every byte as a reply to each request.
    for &b in data {
        for request in StatusRequest::ALL {
            let mut status = PrinterStatus::default();
            assert_eq!(
                status.apply_realtime(request, b).is_ok(),
                is_realtime_reply(b)
            );
        }
    }

    // The input as a stream: every message is consumed and accepted messages re-parse.
    let mut rest = data;
    while let Some((msg, used)) = next_incoming(rest) {
        assert!(used >= 1 && used <= rest.len());
        match msg {
            Incoming::Realtime(b) => assert!(is_realtime_reply(b)),
            Incoming::Asb(m) => assert!(PrinterStatus::from_asb(&m).is_ok()),
            Incoming::Garbage(_) => {}
        }
        rest = &rest[used..];
    }
    assert!(rest.len() < 4);
});
