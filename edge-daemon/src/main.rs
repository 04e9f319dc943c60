//! The `edge-daemon` binary: see the library's docs for the layout.

use std::process::ExitCode;

use clap::Parser;
use edge_daemon::admin::{self, AdminRequest, AdminResponse};
use edge_daemon::cli::{Cli, Command, PairCommand, TokenCommand};
use edge_daemon::config::{self, Config};
use edge_daemon::store::{Store, StoreError};
use edge_daemon::{daemon, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match config::load(cli.common.config.as_deref(), &cli.common.overrides()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("edge-daemon: {e}");
            return ExitCode::from(2);
        }
    };
    let request = match cli.command.unwrap_or(Command::Run) {
        Command::Run => return run(cfg),
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
