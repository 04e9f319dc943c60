//! Decodes arbitrary bytes as an envelope. The decoder must never panic, and whatever it accepts
//! must survive its own round trip.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::Envelope;

fuzz_target!(|data: &[u8]| {
    match Envelope::decode(data) {
        Ok(env) => {
            let bytes = env.encode();
            assert_eq!(Envelope::decode(&bytes).as_ref(), Ok(&env));
            // The encoder writes the shortest form; the decoder may accept longer (non-minimal
            // varints), never shorter.
            assert!(bytes.len() <= data.len());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
