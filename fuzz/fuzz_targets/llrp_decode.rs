//! Decodes arbitrary bytes as a stream of LLRP messages. The decoder must never panic, and
//! every message it accepts must survive its own round trip.

#![no_main]

use drivers::rfid::llrp::{Deframer, LlrpError, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut d = Deframer::new();
    d.push(data);
    loop {
        match d.next_message() {
            Ok(Some((h, m))) => {
                // Decoding may normalise (e.g. a lossy UTF-8 description); the normal form
                // must be a fixed point of encode ∘ decode.
                let bytes = m.encode(h.id);
                let (h2, m2) = Message::decode(&bytes).expect("own encoding decodes");
                assert_eq!((h2.id, h2.msg_type), (h.id, h.msg_type));
                assert_eq!(m2.encode(h.id), bytes);
            }
            Ok(None) => break,
            // A garbage header ends the stream; a bad body was consumed, go on.
            Err(LlrpError::Version(_) | LlrpError::MessageLength(_)) => break,
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
