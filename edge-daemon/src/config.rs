//! Configuration: a TOML file, its drop-in directory, environment overrides, then flags.
//!
//! Precedence, lowest first:
//! 1. built-in defaults (the embedded default: local data, localhost API, no cloud);
//! 2. the file given with `--config FILE`;
//! 3. every `*.toml` in `FILE.d/`, in name order;
//! 4. environment variables `EDGE_<SECTION>__<KEY>`, for example `EDGE_API__LISTEN=0.0.0.0:8080`
//!    or `EDGE_STORE_ID=store-0042`;
//! 5. command-line flags (`--data`, `--listen`, `--store-id`, `--mqtt`).
//!
//! Every setting, with its default, is documented in `docs/CONFIGURATION.md`; the test
//! `configuration_reference_lists_every_key` keeps that page and [`Config`] in step.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use protocol::StoreId;
use serde::{Deserialize, Serialize};

use crate::store::StoreSettings;

/// The whole configuration of the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// This store's identity. Provisioned per box; `dev-store` on the embedded default.
    pub store_id: StoreId,
    /// Where sled keeps its files and where the administration socket lives.
    pub data_dir: PathBuf,
    pub store: StoreSettings,
    pub api: ApiConfig,
    pub pairing: PairingConfig,
    pub modules: Modules,
    pub mqtt: MqttConfig,
    pub log: LogConfig,
    pub devices: crate::devices::config::DevicesConfig,
    pub image: ImageConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            store_id: StoreId::new("dev-store").expect("a valid literal store id"),
            data_dir: PathBuf::from("edge-data"),
            store: StoreSettings::default(),
            api: ApiConfig::default(),
            pairing: PairingConfig::default(),
            modules: Modules::default(),
            mqtt: MqttConfig::default(),
            log: LogConfig::default(),
            devices: Default::default(),
            image: ImageConfig::default(),
        }
    }
}

/// The LAN API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Largest body of a catalog load (`POST /v1/pos/catalog`), in bytes. The document in it
    /// is limited to 240 KiB on its own (it must fit one journal envelope); the body limit
    /// leaves room for the escaping of the document inside the request's JSON.
    pub catalog_body_limit_bytes: usize,
    /// A request that takes longer is answered 503 with a problem document.
    pub request_timeout_ms: u64,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace_ms: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 64 * 1024,
            catalog_body_limit_bytes: 512 * 1024,
            request_timeout_ms: 10_000,
            shutdown_grace_ms: 10_000,
        }
    }
}

/// Pairing of LAN devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PairingConfig {
    /// How long a pairing code can be approved, in seconds.
    pub code_ttl_secs: u64,
    /// Pairing requests allowed per client address per minute.
    pub per_client_per_minute: u32,
    /// Pairing requests allowed per minute from all clients together.
    pub total_per_minute: u32,
}

impl Default for PairingConfig {
    fn default() -> Self {
        PairingConfig {
            code_ttl_secs: 600,
            per_client_per_minute: 5,
            total_per_minute: 30,
        }
    }
}

/// Capability modules, one per rollout phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Modules {
    /// Phase 1, core POS.
    pub pos: bool,
    /// Phase 2, store inventory, loyalty, CRM sync.
    pub pos_plus: bool,
    /// Phase 3, omnichannel.
    pub omni: bool,
    /// Phase 4, omnichannel fulfilment.
    pub omni_plus: bool,
}

impl Default for Modules {
    fn default() -> Self {
        Modules {
            pos: true,
            pos_plus: false,
            omni: false,
            omni_plus: false,
        }
    }
}

/// The MQTT link to the cloud: the edge end's settings, documented in docs/CONFIGURATION.md.
pub type MqttConfig = cloud_bridge::edge::EdgeSettings;

/// Files the store-box image's own tools write for the daemon (images/README.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImageConfig {
    /// JSON `{ok, state, store_id, message}` from the box's boot-time provisioning check,
    /// shown as `provisioning` by `GET /v1/health`; none: not shown.
    pub provisioning_status: Option<PathBuf>,
    /// The update agent's JSON-lines record of A/B transitions; each new line is journaled as
    /// an `UpdateReported` event (see [`crate::update_report`]); none: not read.
    pub update_events: Option<PathBuf>,
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `auto` (JSON under systemd's journal, text otherwise), `text` or `json`.
    pub format: LogFormat,
    /// Filter directives in `RUST_LOG` syntax; the variable `EDGE_LOG` overrides it.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Auto,
            filter: "info".to_owned(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Auto,
    Text,
    Json,
}

/// Values from the command line, applied last.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub store_id: Option<StoreId>,
    pub mqtt: Option<String>,
    pub log_format: Option<LogFormat>,
}

/// A configuration that could not be loaded. Its message names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Environment variables with this prefix override settings.
pub const ENV_PREFIX: &str = "EDGE_";
/// Variables with [`ENV_PREFIX`] that are not settings.
const ENV_NOT_SETTINGS: &[&str] = &["log", "admin_socket", "config"];

/// Loads the configuration; see the module docs for the order.
pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    if let Some(file) = file {
        // A named file must exist; figment would silently skip it.
        std::fs::metadata(file).map_err(|source| ConfigError::Read {
            path: file.to_owned(),
            source,
        })?;
        fig = fig.merge(Toml::file_exact(file));
        for dropin in dropins(file)? {
            fig = fig.merge(Toml::file_exact(dropin));
        }
    }
    fig = fig.merge(Env::prefixed(ENV_PREFIX).split("__").filter(|k| {
        !ENV_NOT_SETTINGS
            .iter()
            .any(|n| k.as_str().eq_ignore_ascii_case(n))
    }));
    let mut cfg: Config = fig
        .extract()
        .map_err(|e| ConfigError::Invalid(describe(e)))?;
    if let Some(d) = &overrides.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(l) = overrides.listen {
        cfg.api.listen = l;
    }
    if let Some(s) = &overrides.store_id {
        cfg.store_id = s.clone();
    }
    if let Some(m) = &overrides.mqtt {
        cfg.mqtt.url = Some(m.clone());
    }
    if let Some(f) = overrides.log_format {
        cfg.log.format = f;
    }
    Ok(cfg)
}

/// The drop-in files for `file`: `FILE.d/*.toml`, sorted by name.
fn dropins(file: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let mut dir = file.as_os_str().to_owned();
    dir.push(".d");
    let dir = PathBuf::from(dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ConfigError::Read { path: dir, source }),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ConfigError::Read {
            path: dir.clone(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// One line per error: where (file or variable), which key, what is wrong.
fn describe(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                None
            } else {
                Some(e.path.join("."))
            };
            let source = e.metadata.as_ref().map(|m| match &m.source {
                Some(figment::Source::File(p)) => format!("{}", p.display()),
                Some(other) => format!("{} ({other})", m.name),
                None => m.name.to_string(),
            });
            let mut line = String::from("invalid configuration");
            if let Some(s) = source {
                line.push_str(&format!(" in {s}"));
            }
            if let Some(k) = key {
                line.push_str(&format!(", key `{k}`"));
            }
            line.push_str(&format!(": {}", e.kind));
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests;
