//! The command line: `edge-daemon [run]` and the technician's subcommands.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use protocol::{Role, StoreId, TokenId};

use crate::config::{LogFormat, Overrides};

/// The store edge daemon and its technician tools.
#[derive(Debug, Parser)]
#[command(name = "edge-daemon", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    /// What to do; `run` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every subcommand takes.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// TOML configuration file; `FILE.d/*.toml` drop-ins are read after it.
    #[arg(long, global = true, value_name = "FILE", env = "EDGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (sled database and admin socket) [default: edge-data]
    #[arg(long = "data", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the LAN API [default: 127.0.0.1:8080]
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// This store's id [default: dev-store]
    #[arg(long, global = true, value_name = "ID")]
    pub store_id: Option<StoreId>,
    /// MQTT broker URL of the cloud link, e.g. mqtt://broker:1883
    #[arg(long, global = true, value_name = "URL")]
    pub mqtt: Option<String>,
    /// Log format [default: auto: JSON under systemd, text otherwise]
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
}

impl Common {
    /// The flags as configuration overrides.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            listen: self.listen,
            store_id: self.store_id.clone(),
            mqtt: self.mqtt.clone(),
            log_format: self.log_format,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (the default).
    Run,
    /// Rebuild every projection from the journal and compare; exit status 1 on a mismatch.
    Verify,
    /// Issue, list and revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// List, approve and reject device pairings.
    #[command(subcommand)]
    Pair(PairCommand),
    /// Print the effective configuration as TOML and exit.
    Config,
    /// Technician diagnostics; they talk to devices directly, daemon running or not.
    #[command(subcommand)]
    Diag(DiagCommand),
}

/// `edge-daemon diag …`
#[derive(Debug, Subcommand)]
pub enum DiagCommand {
    /// Print a test page on an ESC/POS printer (`host:9100`).
    PrintTest {
        address: String,
        /// Paper width: 58mm or 80mm.
        #[arg(long, default_value = "80mm", value_parser = parse_paper)]
        paper: drivers::escpos::Paper,
    },
    /// Open a drawer on a printer's kick port.
    Kick {
        address: String,
        /// Kick connector pin, 2 or 5.
        #[arg(long, default_value_t = 2)]
        pin: u8,
    },
    /// Print the scans of a scanner as JSON lines: serial (`/dev/ttyACM0`) or, for a path
    /// under `/dev/input/`, a keyboard-wedge scanner (grabbed while listening).
    Scan {
        path: PathBuf,
        /// How long to listen.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// A wedge scanner's keyboard layout.
        #[arg(long, value_enum, default_value = "us")]
        layout: crate::devices::config::WedgeLayout,
        /// A wedge scanner's suffix key.
        #[arg(long, value_enum, default_value = "enter")]
        suffix: crate::devices::config::WedgeSuffix,
    },
    /// Run an RFID inventory on an LLRP reader (`host:5084`) and print the reads per EPC.
    Rfid {
        address: String,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Interpret scan data (AIM prefix, GTIN, GS1 element strings, Digital Link). Write the
    /// group separator as `\x1d` or `<GS>`.
    DecodeBarcode { data: String },
    /// Decode an EPC given in hex (SGTIN, SSCC, SGLN, GRAI, GIAI).
    DecodeEpc { hex: String },
    /// Check identity, versions, devices and the cloud; print the result on the receipt
    /// printer as a ticket.
    SelfTest {
        /// The receipt printer (`host:9100`); default: the first configured one.
        #[arg(long)]
        printer: Option<String>,
        /// Only print the report here, not on a printer.
        #[arg(long)]
        no_ticket: bool,
    },
}

fn parse_paper(s: &str) -> Result<drivers::escpos::Paper, String> {
    match s {
        "58mm" | "58" => Ok(drivers::escpos::Paper::Mm58),
        "80mm" | "80" => Ok(drivers::escpos::Paper::Mm80),
        other => Err(format!("{other:?} is not 58mm or 80mm")),
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token and print it once.
    Issue {
        /// associate, manager or technician
        #[arg(long)]
        role: Role,
        /// Who or what holds it, e.g. "technician laptop"
        #[arg(long, default_value = "issued on the box")]
        label: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id.
    Revoke { id: TokenId },
}

#[derive(Debug, Subcommand)]
pub enum PairCommand {
    /// List pairings waiting for approval.
    List,
    /// Approve the pairing showing CODE.
    Approve {
        code: String,
        /// The role to grant.
        #[arg(long, default_value = "associate")]
        role: Role,
    },
    /// Reject the pairing showing CODE.
    Reject { code: String },
}
