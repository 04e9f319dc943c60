//! `cloud-bridge`: the cloud end of the store link, for operators.
//!
//! - `run --mqtt URL --sink SINK`: consume every store's events and forward them to the OMS.
//! - `command --mqtt URL --store ID (module|config|catalog) ...`: send one command, wait for
//!   its result.
//! - `fleet --mqtt URL [--once --json] [--metrics ADDR]`: every store's presence and telemetry.
//!
//! Exit status: 0 success, 1 a command was rejected, 2 bad usage or configuration, 3 the link
//! or the sink failed (including no command result in time).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use cloud_bridge::cloud::consume::{self, RunSettings, RunStats};
use cloud_bridge::cloud::fleet::Fleet;
use cloud_bridge::cloud::{http, send, sink};
use cloud_bridge::edge::now;
use cloud_bridge::mqtt::{self, BrokerUrl, Security};
use protocol::command::CouponUsage;
use protocol::command::{CatalogKind, CatalogPayload, Command, CommandBody, Module, Outcome};
use protocol::{topics, CommandId, CustomerId, StoreId};
use rumqttc::{AsyncClient, Event, Packet, QoS};

#[derive(Debug, Parser)]
#[command(
    name = "cloud-bridge",
    version,
    about = "The cloud end of the store link"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Args)]
struct Broker {
    /// Broker URL, mqtt://HOST[:PORT] or mqtts://HOST[:PORT].
    #[arg(long, env = "CLOUD_BRIDGE_MQTT")]
    mqtt: String,
    /// CA certificate (PEM) for mqtts.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Client certificate (PEM).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// Client key (PEM).
    #[arg(long)]
    key: Option<PathBuf>,
    /// MQTT user name.
    #[arg(long)]
    username: Option<String>,
    /// File holding the MQTT password.
    #[arg(long)]
    password_file: Option<PathBuf>,
}

impl Broker {
    fn parts(&self) -> Result<(BrokerUrl, Security), mqtt::ConfigError> {
        let sec = Security {
            ca_file: self.ca.clone(),
            client_cert_file: self.cert.clone(),
            client_key_file: self.key.clone(),
            username: self.username.clone(),
            password_file: self.password_file.clone(),
        };
        Ok((BrokerUrl::parse(&self.mqtt)?, sec))
    }
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Consume every store's events and forward them to the sink.
    Run {
        #[command(flatten)]
        broker: Broker,
        /// file:PATH (JSON lines) or http(s)://... (webhook).
        #[arg(long)]
        sink: String,
        /// Shared subscription group; instances in one group split the load.
        #[arg(long, default_value = "oms")]
        group: String,
        /// JSON file recording the highest forwarded sequence per store.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Milliseconds a gap may stay open before the store is asked to resend.
        #[arg(long, default_value_t = 1000)]
        gap_timeout_ms: u64,
        /// Serve Prometheus metrics on this address.
        #[arg(long)]
        metrics: Option<SocketAddr>,
    },
    /// Send one command to one store and print its result as JSON.
    Command {
        #[command(flatten)]
        broker: Broker,
        #[arg(long)]
        store: StoreId,
        /// Command id, to send a command again; new if absent.
        #[arg(long)]
        id: Option<CommandId>,
        /// Seconds to wait for the result.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        #[command(subcommand)]
        what: What,
    },
    /// Every store's presence, backlog, versions and device faults.
    Fleet {
        #[command(flatten)]
        broker: Broker,
        /// Print one snapshot and exit.
        #[arg(long)]
        once: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// With --once: milliseconds to collect retained messages.
        #[arg(long, default_value_t = 1500)]
        collect_ms: u64,
        /// Seconds between tables.
        #[arg(long, default_value_t = 10)]
        every: u64,
        /// Serve Prometheus metrics on this address.
        #[arg(long)]
        metrics: Option<SocketAddr>,
    },
}

#[derive(Debug, Subcommand)]
enum What {
    /// Switch a module on or off.
    Module {
        /// pos, pos_plus, omni or omni_plus.
        name: Module,
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Set a configuration value.
    Config { key: String, value: String },
    /// Send a catalog snapshot or delta from a JSON file.
    Catalog {
        #[arg(long)]
        file: PathBuf,
        #[arg(long, value_parser = ["snapshot", "delta"])]
        kind: String,
        /// The catalog version this produces.
        #[arg(long)]
        version: u64,
        /// For a delta: the version it applies to.
        #[arg(long)]
        base_version: Option<u64>,
        /// For a snapshot in parts: this part's number, from 0 (with --parts).
        #[arg(long, requires = "parts")]
        part: Option<u32>,
        /// For a snapshot in parts: how many parts it has (with --part).
        #[arg(long, requires = "part")]
        parts: Option<u32>,
    },
    /// Report a coupon's redemptions across the fleet; the box's limits count them.
    Coupon {
        #[arg(long)]
        code: String,
        /// Every redemption the cloud knows of.
        #[arg(long)]
        total: u32,
        /// The count includes the store's journal up to this sequence.
        #[arg(long)]
        through_seq: u64,
        /// A customer's redemptions, as CUSTOMER_ID=COUNT; repeatable.
        #[arg(long = "customer", value_parser = parse_customer_count)]
        customers: Vec<(CustomerId, u32)>,
    },
}

fn parse_customer_count(s: &str) -> Result<(CustomerId, u32), String> {
    let (id, n) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected CUSTOMER_ID=COUNT"))?;
    let id = id
        .parse()
        .map_err(|_| format!("{id:?}: not a customer id (UUID)"))?;
    let n = n.parse().map_err(|_| format!("{n:?}: not a count"))?;
    Ok((id, n))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CLOUD_BRIDGE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cloud-bridge: cannot start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match rt.block_on(dispatch(cli.cmd)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cloud-bridge: {e:#}");
            ExitCode::from(if e.is::<mqtt::ConfigError>() { 2 } else { 3 })
        }
    }
}

async fn dispatch(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Run {
            broker,
            sink: spec,
            group,
            state,
            gap_timeout_ms,
            metrics,
        } => {
            let (url, security) = broker.parts()?;
            let sink = sink::open(&spec)?;
            let stats = Arc::new(RunStats::default());
            if let Some(addr) = metrics {
                let s = stats.clone();
                tokio::spawn(http::serve_metrics(addr, Arc::new(move || s.render())));
            }
            let settings = RunSettings {
                url,
                security,
                group,
                state,
                gap_timeout: Duration::from_millis(gap_timeout_ms),
                max_held: 100_000,
            };
            consume::run(settings, sink, stats).await?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Command {
            broker,
            store,
            id,
            timeout,
            what,
        } => {
            let (url, security) = broker.parts()?;
            let body = match what {
                What::Module { name, state } => CommandBody::SetModule {
                    module: name,
                    enabled: state == "on",
                },
                What::Config { key, value } => CommandBody::SetConfig { key, value },
                What::Catalog {
                    file,
                    kind,
                    version,
                    base_version,
                    part,
                    parts,
                } => {
                    let json = std::fs::read_to_string(&file)
                        .with_context(|| format!("cannot read {}", file.display()))?;
                    serde_json::from_str::<serde_json::Value>(&json)
                        .with_context(|| format!("{} is not JSON", file.display()))?;
                    let kind = match (kind.as_str(), part.zip(parts)) {
                        ("delta", None) => CatalogKind::Delta,
                        ("delta", Some(_)) => {
                            anyhow::bail!("--part: a delta does not come in parts")
                        }
                        (_, Some((part, parts))) => CatalogKind::SnapshotPart { part, parts },
                        (_, None) => CatalogKind::Snapshot,
                    };
                    CommandBody::Catalog(CatalogPayload {
                        kind,
                        version,
                        base_version,
                        json,
                    })
                }
                What::Coupon {
                    code,
                    total,
                    through_seq,
                    customers,
                } => CommandBody::CouponUsage(CouponUsage {
                    code,
                    total,
                    per_customer: customers,
                    through_seq,
                }),
            };
            let cmd = Command {
                id: id.unwrap_or_else(CommandId::random),
                store,
                issued_at: now(),
                body,
            };
            let r = send::send(&url, &security, &cmd, Duration::from_secs(timeout)).await?;
            println!("{}", serde_json::to_string(&r)?);
            Ok(match r.outcome {
                Outcome::Applied => ExitCode::SUCCESS,
                Outcome::Rejected { .. } => ExitCode::from(1),
            })
        }
        Cmd::Fleet {
            broker,
            once,
            json,
            collect_ms,
            every,
            metrics,
        } => {
            let (url, security) = broker.parts()?;
            fleet(url, security, once, json, collect_ms, every, metrics).await
        }
    }
}

async fn fleet(
    url: BrokerUrl,
    security: Security,
    once: bool,
    json: bool,
    collect_ms: u64,
    every: u64,
    metrics: Option<SocketAddr>,
) -> anyhow::Result<ExitCode> {
    let client_id = format!("cloud-fleet-{}", uuid::Uuid::new_v4().simple());
    let opts = mqtt::options(&client_id, &url, &security, Duration::from_secs(30))?;
    let (client, mut events) = AsyncClient::new(opts, 64);
    let fleet = Arc::new(Mutex::new(Fleet::default()));
    if let Some(addr) = metrics {
        let f = fleet.clone();
        let render = move || f.lock().unwrap_or_else(|p| p.into_inner()).metrics();
        tokio::spawn(http::serve_metrics(addr, Arc::new(render)));
    }
    let f = fleet.clone();
    let poll = async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    for t in [topics::all_status(), topics::all_telemetry()] {
                        let _ = client.try_subscribe(t, QoS::AtLeastOnce);
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => f
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .on_message(&p.topic, &p.payload),
                Ok(_) => {}
                Err(e) => {
                    if once {
                        return Err(anyhow::anyhow!("broker: {e}"));
                    }
                    tracing::warn!(error = %e, "broker connection lost");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    };
    let print = |fleet: &Mutex<Fleet>| -> anyhow::Result<()> {
        let f = fleet.lock().unwrap_or_else(|p| p.into_inner());
        if json {
            println!("{}", serde_json::to_string_pretty(&f.stores())?);
        } else {
            print!("{}", f.table());
        }
        Ok(())
    };
    if once {
        if let Ok(Err(e)) = tokio::time::timeout(Duration::from_millis(collect_ms), poll).await {
            return Err(e);
        }
        print(&fleet)?;
        return Ok(ExitCode::SUCCESS);
    }
    let poller = tokio::spawn(poll);
    let mut tick = tokio::time::interval(Duration::from_secs(every.max(1)));
    loop {
        tick.tick().await;
        if poller.is_finished() {
            break;
        }
        print(&fleet)?;
    }
    poller.await??;
    Ok(ExitCode::SUCCESS)
}
