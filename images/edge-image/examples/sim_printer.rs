//! A simulated ESC/POS receipt printer for `images/test-boot.sh`: listens on ADDR, waits for a
//! job whose text contains MARKER, prints it and exits 0; exits 1 after TIMEOUT_SECS without.
//!
//! `cargo run -p edge-image --example sim_printer -- 127.0.0.1:9100 MARKER 600`

use std::process::ExitCode;
use std::time::{Duration, Instant};

use drivers::escpos::sim::SimPrinter;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, marker, timeout] = args.as_slice() else {
        eprintln!("usage: sim_printer ADDR MARKER TIMEOUT_SECS");
        return ExitCode::from(2);
    };
    let Ok(timeout) = timeout.parse::<u64>() else {
        eprintln!("sim_printer: TIMEOUT_SECS {timeout:?} is not a number of seconds");
        return ExitCode::from(2);
    };
    let printer = match SimPrinter::bind(addr.as_str()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sim_printer: cannot listen on {addr}: {e}");
            return ExitCode::from(2);
        }
    };
    println!("sim_printer: listening on {}", printer.addr());
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut seen = 0;
    while Instant::now() < deadline {
        let jobs = printer.printed();
        for job in &jobs[seen..] {
            if !job.text.trim().is_empty() {
                println!(
                    "sim_printer: job ({} commands, cut: {})",
                    job.commands.len(),
                    job.cut()
                );
                for line in job.text.lines() {
                    println!("sim_printer: | {line}");
                }
            }
            if job.text.contains(marker.as_str()) {
                println!("sim_printer: RECEIVED the receipt with {marker}");
                return ExitCode::SUCCESS;
            }
        }
        seen = jobs.len();
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("sim_printer: no receipt with {marker} within {timeout} s");
    ExitCode::FAILURE
}
