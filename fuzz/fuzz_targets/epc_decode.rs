//! Decodes arbitrary bytes as an EPC. The decoder must never panic; an accepted SGTIN-96 must
//! re-encode to the same bytes.

#![no_main]

use drivers::rfid::epc::{self, Epc, Serial, SgtinScheme};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match epc::decode(data) {
        Ok(e) => {
            let _ = e.pure_identity_uri();
            if let Epc::Sgtin(s) = &e {
                let gtin = s.gtin14();
                assert_eq!(gtin.len(), 14);
                if let (SgtinScheme::Sgtin96, Serial::Numeric(n)) = (s.scheme, &s.serial) {
                    let cp = s.company_prefix.to_string();
                    let item = s.item_reference.to_string();
                    let bytes = epc::encode_sgtin96(s.filter, &cp, &item, *n).unwrap();
                    assert_eq!(&bytes[..], data);
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
