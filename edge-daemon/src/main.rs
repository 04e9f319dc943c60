//! The `edge-daemon` binary: see the library's docs for the layout.

use std::process::ExitCode;

use clap::Parser;
use edge_daemon::admin::{self, AdminRequest, AdminResponse};
use edge_daemon::cli::{Cli, Command, DiagCommand, PairCommand, TokenCommand};
use edge_daemon::config::{self, Config};
use edge_daemon::store::{Store, StoreError};
use edge_daemon::{daemon, diag, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Decoding needs no configuration: a broken one must not stand in the way.
    if let Some(Command::Diag(
        cmd @ (DiagCommand::DecodeBarcode { .. } | DiagCommand::DecodeEpc { .. }),
    )) = &cli.command
    {
        return decode(cmd);
    }
    let cfg = match config::load(cli.common.config.as_deref(), &cli.common.overrides()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("edge-daemon: {e}");
            return ExitCode::from(2);
        }
    };
    let request = match cli.command.unwrap_or(Command::Run) {
        Command::Run => return run(cfg),
        Command::Diag(cmd) => return diagnose(&cfg, cmd),
        Command::Config => {
            match toml::to_string_pretty(&cfg) {
                Ok(text) => print!("{text}"),
                Err(e) => {
                    eprintln!("edge-daemon: cannot render the configuration: {e}");
                    return ExitCode::FAILURE;
                }
            }
            return ExitCode::SUCCESS;
        }
        Command::Verify => AdminRequest::Verify,
        Command::Token(TokenCommand::Issue { role, label }) => {
            AdminRequest::TokenIssue { role, label }
        }
        Command::Token(TokenCommand::List) => AdminRequest::TokenList,
        Command::Token(TokenCommand::Revoke { id }) => AdminRequest::TokenRevoke { id },
        Command::Pair(PairCommand::List) => AdminRequest::PairList,
        Command::Pair(PairCommand::Approve { code, role }) => {
            AdminRequest::PairApprove { code, role }
        }
        Command::Pair(PairCommand::Reject { code }) => AdminRequest::PairReject { code },
    };
    admin_command(&cfg, request)
}

fn run(cfg: Config) -> ExitCode {
    telemetry::init_tracing(&cfg.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("edge-daemon: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(daemon::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "edge-daemon failed");
            eprintln!("edge-daemon: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Sends `req` to the running daemon, or runs it on the store directly when none runs.
fn admin_command(cfg: &Config, req: AdminRequest) -> ExitCode {
    let is_verify = req == AdminRequest::Verify;
    let response = match admin::call(&cfg.data_dir, &req) {
        Ok(Some(resp)) => resp,
        Ok(None) => match Store::open_existing(&cfg.data_dir, &cfg.store) {
            Ok(store) => admin::execute(&store, req),
            Err(StoreError::Open { path, source }) => {
                eprintln!(
                    "edge-daemon: cannot open {} ({source}); if the daemon is running, its \
                     admin socket {} is not answering",
                    path.display(),
                    admin::socket_path(&cfg.data_dir).display()
                );
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("edge-daemon: {e}");
                return ExitCode::FAILURE;
            }
        },
        Err(e) => {
            eprintln!(
                "edge-daemon: cannot talk to the daemon at {}: {e}",
                admin::socket_path(&cfg.data_dir).display()
            );
            return ExitCode::FAILURE;
        }
    };
    match response {
        AdminResponse::Ok(value) => {
            let text = serde_json::to_string_pretty(&value).unwrap_or_default();
            println!("{text}");
            let consistent = value
                .get("problems")
                .and_then(|p| p.as_array())
                .map(Vec::is_empty);
            if is_verify {
                let events = value.get("events").and_then(|e| e.as_u64()).unwrap_or(0);
                if consistent != Some(true) {
                    eprintln!(
                        "edge-daemon: verify: {events} events replayed; the projections differ \
                         from the journal"
                    );
                    return ExitCode::FAILURE;
                }
                eprintln!("edge-daemon: verify: {events} events replayed; projections match");
            }
            ExitCode::SUCCESS
        }
        AdminResponse::Err(message) => {
            eprintln!("edge-daemon: {message}");
            ExitCode::FAILURE
        }
    }
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn decode(cmd: &DiagCommand) -> ExitCode {
    let res = match cmd {
        DiagCommand::DecodeBarcode { data } => diag::decode_barcode(data),
        DiagCommand::DecodeEpc { hex } => diag::decode_epc(hex),
        _ => return ExitCode::FAILURE,
    };
    match res {
        Ok(v) => {
            print_json(&v);
            ExitCode::SUCCESS
        }
        Err(v) => {
            print_json(&v);
            eprintln!(
                "edge-daemon: {}",
                v["error"].as_str().unwrap_or("cannot decode")
            );
            ExitCode::FAILURE
        }
    }
}

fn diagnose(cfg: &Config, cmd: DiagCommand) -> ExitCode {
    use std::time::Duration;
    let res = match cmd {
        DiagCommand::PrintTest { address, paper } => {
            diag::print_document(&address, paper, &diag::test_page())
        }
        DiagCommand::Kick { address, pin } => diag::kick(&address, pin),
        DiagCommand::Scan {
            path,
            seconds,
            layout,
            suffix,
        } => {
            use edge_daemon::devices::{config::DeviceSpec, readers::ScannerPort};
            let port = if path.starts_with("/dev/input/") {
                ScannerPort::Wedge(path, DeviceSpec::wedge_config(layout, suffix))
            } else {
                ScannerPort::Serial(path)
            };
            diag::scan(&port, Duration::from_secs(seconds), |v| {
                println!("{v}");
            })
            .map(|n| serde_json::json!({ "scans": n }))
        }
        DiagCommand::Rfid { address, seconds } => {
            diag::rfid(&address, Duration::from_secs(seconds))
        }
        cmd @ (DiagCommand::DecodeBarcode { .. } | DiagCommand::DecodeEpc { .. }) => {
            return decode(&cmd)
        }
        DiagCommand::SelfTest { printer, no_ticket } => self_test(cfg, printer, no_ticket),
    };
    match res {
        Ok(v) => {
            print_json(&v);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("edge-daemon: diag: {e}");
            ExitCode::FAILURE
        }
    }
}

fn self_test(
    cfg: &Config,
    printer: Option<String>,
    no_ticket: bool,
) -> Result<serde_json::Value, diag::DiagError> {
    let mut report = diag::self_test_report(cfg);
    if no_ticket {
        return Ok(report);
    }
    let printer = printer.or_else(|| {
        cfg.devices.list.iter().find_map(|d| match d {
            edge_daemon::devices::config::DeviceSpec::ReceiptPrinter { address, .. } => {
                Some(address.clone())
            }
            _ => None,
        })
    });
    let Some(printer) = printer else {
        return Err(diag::DiagError {
            what: "self-test ticket".into(),
            reason: "no receipt printer is configured; give --printer ADDR or --no-ticket".into(),
        });
    };
    let local = diag::local_address_towards(&printer);
    let ticket = diag::self_test_ticket(&report, local.as_deref());
    let printed = diag::print_document(&printer, drivers::escpos::Paper::Mm80, &ticket)?;
    report["ticket"] = printed;
    Ok(report)
}
