//! Interprets arbitrary bytes as scan data (AIM identifier, GTIN, GS1 element strings, Digital
//! Link). It must never panic; whatever it accepts must be self-consistent.

#![no_main]

use drivers::gs1::{parse, Gtin, ScanData};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(scan) => {
            if let ScanData::Gtin(g) = &scan.data {
                assert_eq!(Gtin::parse(g.as_str()), Ok(*g));
            }
            if let Some(g) = scan.gtin() {
                assert_eq!(g.as_str().len(), 14);
            }
            let _ = format!("{scan:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
