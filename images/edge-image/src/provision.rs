//! Provisioning a box: the technician's provisioning file, checked and written into the data
//! partition's `config/` directory, where the box picks it up on its next boot.
//!
//! The provisioning file (TOML; relative certificate paths are relative to the file):
//!
//! ```toml
//! store_id = "store-0042"
//!
//! [mqtt]
//! url = "mqtts://broker.example:8883"
//! username = "store-0042"
//! password = "secret"
//! ca_cert = "certs/ca.pem"
//! client_cert = "certs/store-0042.pem"
//! client_key = "certs/store-0042.key"
//!
//! [devices]                      # the daemon's [devices] section, passed through
//! [[devices.list]]
//! kind = "receipt_printer"
//! name = "receipt-1"
//! address = "192.168.10.21:9100"
//! ```
//!
//! What is written under `DATA/config/`:
//! - `edge.toml.d/50-provision.toml` (the image links `/etc/edge/edge.toml.d` here), mode 0640:
//!   `store_id`, `mqtt.url`, `[mqtt.security]` naming the files below by the path they have on
//!   the box (`BOX/config/...`, `BOX` being where the box mounts its data partition, `/data`),
//!   the user name, and `[devices]`; the password itself stays out of it;
//! - `mqtt-password` (the password alone, no newline), mode 0600, the drop-in's
//!   `mqtt.security.password_file`;
//! - `certs/ca.pem`, `certs/client.pem`, `certs/client.key` (key mode 0600), the drop-in's
//!   `ca_file`, `client_cert_file`, `client_key_file`;
//! - `provisioned.json`: store id and time.
//!
//! The box's `provision-check` (`images/recipe/overlay/usr/lib/edge/provision-check`) runs
//! `edge-daemon config` on every boot and checks that the files the drop-in names exist.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The provisioning file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provisioning {
    pub store_id: String,
    #[serde(default)]
    pub mqtt: Option<Mqtt>,
    #[serde(default)]
    pub devices: Option<toml::Table>,
}

/// The cloud link.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mqtt {
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

/// A provisioning file that cannot be used, or a data partition that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(
        "provisioning file {0} not found: write one (see images/README.md, \"Provisioning\") \
         and pass it with --file"
    )]
    Missing(PathBuf),
    #[error("cannot read provisioning file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("provisioning file {path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path} is not a data partition: no {missing} in it (is the partition mounted?)")]
    NotData {
        path: PathBuf,
        missing: &'static str,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads and checks a provisioning file.
pub fn load(path: &Path) -> Result<Provisioning, ProvisionError> {
    let text = fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ProvisionError::Missing(path.to_owned())
        } else {
            ProvisionError::Read {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    let invalid = |reason: String| ProvisionError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let p: Provisioning = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if !store_id_ok(&p.store_id) {
        return Err(invalid(format!(
            "store_id {:?} must be 1-64 of a-z 0-9 - _",
            p.store_id
        )));
    }
    if placeholder(&p.store_id) {
        return Err(invalid(format!(
            "store_id {:?} is a placeholder, not a store",
            p.store_id
        )));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    if let Some(m) = &p.mqtt {
        let rest = m
            .url
            .strip_prefix("mqtts://")
            .or_else(|| m.url.strip_prefix("mqtt://"));
        match rest {
            Some(hostport) if !hostport.is_empty() && !hostport.contains('/') => {}
            _ => {
                return Err(invalid(format!(
                    "mqtt.url {:?} must be mqtt://host:port or mqtts://host:port",
                    m.url
                )))
            }
        }
        if m.url.starts_with("mqtts://") && m.ca_cert.is_none() {
            return Err(invalid(
                "mqtt.ca_cert is required for an mqtts:// broker (the CA that signed it)".into(),
            ));
        }
        if m.username.is_some() != m.password.is_some() {
            return Err(invalid(
                "mqtt.username and mqtt.password go together".into(),
            ));
        }
        if m.client_cert.is_some() != m.client_key.is_some() {
            return Err(invalid(
                "mqtt.client_cert and mqtt.client_key go together".into(),
            ));
        }
        for (key, file, marker) in [
            ("mqtt.ca_cert", &m.ca_cert, "-----BEGIN CERTIFICATE-----"),
            (
                "mqtt.client_cert",
                &m.client_cert,
                "-----BEGIN CERTIFICATE-----",
            ),
            ("mqtt.client_key", &m.client_key, "PRIVATE KEY-----"),
        ] {
            if let Some(f) = file {
                let full = base.join(f);
                let body = fs::read_to_string(&full)
                    .map_err(|e| invalid(format!("{key}: cannot read {}: {e}", full.display())))?;
                if !body.contains(marker) {
                    return Err(invalid(format!(
                        "{key}: {} is not PEM (no {marker:?})",
                        full.display()
                    )));
                }
            }
        }
    }
    if let Some(devices) = &p.devices {
        check_devices(devices).map_err(invalid)?;
    }
    Ok(p)
}

/// A store id the daemon accepts: 1-64 of `a-z 0-9 - _`.
fn store_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Ids of the image's and the daemon's defaults, never a real store.
fn placeholder(id: &str) -> bool {
    id == "unprovisioned" || id == "dev-store"
}

/// Light checks of the `[devices]` table; the box checks the rest with `edge-daemon config`.
fn check_devices(devices: &toml::Table) -> Result<(), String> {
    let Some(list) = devices.get("list") else {
        return Ok(());
    };
    let list = list
        .as_array()
        .ok_or("devices.list must be an array of tables ([[devices.list]])")?;
    let mut names = std::collections::BTreeSet::new();
    for (i, d) in list.iter().enumerate() {
        let t = d
            .as_table()
            .ok_or(format!("devices.list[{i}] must be a table"))?;
        let name = t
            .get("name")
            .and_then(|v| v.as_str())
            .ok_or(format!("devices.list[{i}] has no name"))?;
        if t.get("kind").and_then(|v| v.as_str()).is_none() {
            return Err(format!("device {name:?} has no kind"));
        }
        if !names.insert(name.to_owned()) {
            return Err(format!("device name {name:?} is used twice"));
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct DaemonDropIn<'a> {
    store_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mqtt: Option<DaemonMqtt<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    devices: Option<&'a toml::Table>,
}

#[derive(Serialize)]
struct DaemonMqtt<'a> {
    url: &'a str,
    security: DaemonSecurity<'a>,
}

/// The daemon's `[mqtt.security]` (cloud-bridge's `mqtt::Security`): files by box path.
#[derive(Serialize)]
struct DaemonSecurity<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_cert_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_key_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_file: Option<PathBuf>,
}

/// Where the box mounts its data partition; the drop-in names files by this path.
pub const BOX_DATA: &str = "/data";
/// The password file, under `DATA/config/`.
pub const PASSWORD_FILE: &str = "mqtt-password";
/// The drop-in, under `DATA/config/`.
pub const DROP_IN: &str = "edge.toml.d/50-provision.toml";
/// The store id alone, kept from a rejected drop-in, under `DATA/config/`.
pub const KEPT_STORE_ID: &str = "edge.toml.d/40-kept-store-id.toml";
/// Written while the box runs as the placeholder store: moves the daemon's data directory to
/// `unprovisioned/` inside the image's one, under `DATA/config/`.
pub const UNPROVISIONED_DATA: &str = "edge.toml.d/20-unprovisioned-data.toml";

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ProvisionError> {
    let err = |source| ProvisionError::Write {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    fs::rename(&tmp, path).map_err(err)
}

/// Writes a checked provisioning into a data partition mounted at `data` (here) that the box
/// mounts at `box_data` (normally [`BOX_DATA`]); returns the files written.
pub fn apply(
    p: &Provisioning,
    source: &Path,
    data: &Path,
    box_data: &Path,
) -> Result<Vec<PathBuf>, ProvisionError> {
    // A data partition made by build.sh has these; refuse an arbitrary directory.
    for (dir, missing) in [("edge", "edge/"), ("journal", "journal/")] {
        if !data.join(dir).is_dir() {
            return Err(ProvisionError::NotData {
                path: data.to_owned(),
                missing,
            });
        }
    }
    let config = data.join("config");
    let mkdir = |d: &Path| {
        fs::create_dir_all(d).map_err(|source| ProvisionError::Write {
            path: d.to_owned(),
            source,
        })
    };
    mkdir(&config.join("edge.toml.d"))?;
    mkdir(&config.join("certs"))?;
    let mut written = Vec::new();

    let on_box = |name: &str| box_data.join("config").join(name);
    let certs = [
        (
            p.mqtt.as_ref().and_then(|m| m.ca_cert.as_ref()),
            "certs/ca.pem",
            0o640,
        ),
        (
            p.mqtt.as_ref().and_then(|m| m.client_cert.as_ref()),
            "certs/client.pem",
            0o640,
        ),
        (
            p.mqtt.as_ref().and_then(|m| m.client_key.as_ref()),
            "certs/client.key",
            0o600,
        ),
    ];
    let has = |i: usize| certs[i].0.map(|_| on_box(certs[i].1));
    let drop_in = DaemonDropIn {
        store_id: &p.store_id,
        mqtt: p.mqtt.as_ref().map(|m| DaemonMqtt {
            url: &m.url,
            security: DaemonSecurity {
                ca_file: has(0),
                client_cert_file: has(1),
                client_key_file: has(2),
                username: m.username.as_deref(),
                password_file: m.password.as_ref().map(|_| on_box(PASSWORD_FILE)),
            },
        }),
        devices: p.devices.as_ref(),
    };
    let text = toml::to_string(&drop_in).map_err(|e| ProvisionError::Invalid {
        path: source.to_owned(),
        reason: e.to_string(),
    })?;
    let path = config.join(DROP_IN);
    let header = format!(
        "# Written by edge-image provision from {}\n",
        source.display()
    );
    write_file(&path, format!("{header}{text}").as_bytes(), 0o640)?;
    written.push(path);

    if let Some(pw) = p.mqtt.as_ref().and_then(|m| m.password.as_ref()) {
        let path = config.join(PASSWORD_FILE);
        write_file(&path, pw.as_bytes(), 0o600)?;
        written.push(path);
    }
    let base = source.parent().unwrap_or(Path::new("."));
    for (file, name, mode) in certs {
        if let Some(f) = file {
            let from = base.join(f);
            let bytes = fs::read(&from).map_err(|e| ProvisionError::Read {
                path: from.clone(),
                source: e,
            })?;
            let path = config.join(name);
            write_file(&path, &bytes, mode)?;
            written.push(path);
        }
    }
    let stamp = serde_json::json!({
        "store_id": p.store_id,
        "unix_time": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "tool": concat!("edge-image ", env!("CARGO_PKG_VERSION")),
    });
    let path = config.join("provisioned.json");
    write_file(&path, format!("{stamp}\n").as_bytes(), 0o640)?;
    written.push(path);
    Ok(written)
}

/// What the box's boot check found; written as JSON (`/run/edge/provisioning.json` on the
/// image) for the daemon's health endpoint, and printed as one line on the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoxStatus {
    /// True only when the box runs a provisioning that passed every check.
    pub ok: bool,
    pub state: BoxState,
    /// The store id the daemon will use (`unprovisioned` when nothing usable is there).
    pub store_id: Option<String>,
    /// One line for a person: what is wrong and what to do, or what is in use.
    pub message: String,
}

/// The outcomes of [`check_box`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxState {
    Provisioned,
    NotProvisioned,
    /// The drop-in was wrong and set aside (to `DATA/config/rejected/`), so the daemon still
    /// starts, unprovisioned, and says so on its health endpoint.
    Invalid,
    /// The daemon could not judge the drop-in (it did not run, or failed otherwise than with
    /// a configuration error): the drop-in stays where it is. A broken daemon in an update's
    /// trial boot must not cost the box its provisioning after the rollback.
    DaemonFailed,
}

/// Why `edge-daemon config` gave no configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectiveError {
    /// The daemon ran and refused the configuration (exit status 2): the drop-in is wrong.
    BadConfig(String),
    /// The daemon did not run, or failed for another reason: nothing is known of the drop-in.
    DaemonFailed(String),
}

/// Where [`check_box`] finds and sets aside the provisioning on the box.
#[derive(Debug, Clone)]
pub struct BoxPaths {
    /// The data partition's `config/` directory (`/data/config`).
    pub config: PathBuf,
    /// The daemon's data directory as the image configures it (`/data/edge`).
    pub data_dir: PathBuf,
}

impl BoxPaths {
    fn drop_in(&self) -> PathBuf {
        self.config.join(DROP_IN)
    }
    fn rejected(&self) -> PathBuf {
        self.config.join("rejected")
    }
}

/// Checks the daemon's effective configuration, the TOML that `edge-daemon config` prints:
/// a real store id, and for the cloud link every file it names present and PEM where it
/// should be, with a CA for an `mqtts://` broker. Returns the store id.
pub fn check_effective(config: &str) -> Result<String, String> {
    let t: toml::Table =
        toml::from_str(config).map_err(|e| format!("cannot parse `edge-daemon config`: {e}"))?;
    let store_id = t.get("store_id").and_then(|v| v.as_str()).unwrap_or("");
    if store_id.is_empty() || placeholder(store_id) {
        return Err(format!(
            "store_id is {store_id:?}, a placeholder, not a store"
        ));
    }
    let mqtt = t.get("mqtt").and_then(|v| v.as_table());
    let url = mqtt.and_then(|m| m.get("url")).and_then(|v| v.as_str());
    let sec = mqtt
        .and_then(|m| m.get("security"))
        .and_then(|v| v.as_table());
    let file = |key: &str| sec.and_then(|s| s.get(key)).and_then(|v| v.as_str());
    if let Some(url) = url {
        if url.starts_with("mqtts://") && file("ca_file").is_none() {
            return Err(format!(
                "mqtt.url {url:?} is TLS but mqtt.security.ca_file is not set"
            ));
        }
        for (key, marker) in [
            ("ca_file", Some("-----BEGIN CERTIFICATE-----")),
            ("client_cert_file", Some("-----BEGIN CERTIFICATE-----")),
            ("client_key_file", Some("PRIVATE KEY-----")),
            ("password_file", None),
        ] {
            let Some(path) = file(key) else { continue };
            let body = fs::read_to_string(path)
                .map_err(|e| format!("mqtt.security.{key}: cannot read {path}: {e}"))?;
            if let Some(marker) = marker {
                if !body.contains(marker) {
                    return Err(format!("mqtt.security.{key}: {path} is not PEM"));
                }
            }
        }
        if file("client_cert_file").is_some() != file("client_key_file").is_some() {
            return Err(
                "mqtt.security.client_cert_file and client_key_file go together".to_owned(),
            );
        }
    }
    Ok(store_id.to_owned())
}

/// The boot check of a box's provisioning. `effective` runs `edge-daemon config` (its
/// output, or its error message). A missing drop-in is "not provisioned"; a drop-in that
/// fails is moved to `config/rejected/` with the reason, so the daemon starts without it.
///
/// A data directory belongs to one store for good, so while the daemon runs as the
/// placeholder store (not provisioned, or provisioned wrongly with no store id to keep) its
/// data goes to `unprovisioned/` inside the image's data directory ([`UNPROVISIONED_DATA`]);
/// once the box is provisioned the daemon starts afresh, as its store, in the image's one.
pub fn check_box(
    paths: &BoxPaths,
    effective: impl FnMut() -> Result<String, EffectiveError>,
) -> Result<BoxStatus, ProvisionError> {
    let mut status = check_drop_in(paths, effective)?;
    let file = paths.config.join(UNPROVISIONED_DATA);
    let write_err = |source| ProvisionError::Write {
        path: file.clone(),
        source,
    };
    // The daemon runs as the placeholder store unless a store id was kept from a rejected
    // drop-in (that file is only ever written by `check_drop_in`).
    let as_placeholder = matches!(status.state, BoxState::NotProvisioned | BoxState::Invalid)
        && !paths.config.join(KEPT_STORE_ID).exists();
    if !as_placeholder {
        return match fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(write_err(e)),
            _ => Ok(status),
        };
    }
    let dir = paths.data_dir.join("unprovisioned");
    fs::create_dir_all(file.parent().unwrap_or(&paths.config)).map_err(write_err)?;
    let text = format!(
        "# Written by edge-image provision-check while the box is not provisioned: the data of\n\
         # the placeholder store stays apart from the store's own. Removed once provisioned.\n\
         data_dir = {}\n",
        toml::Value::String(dir.display().to_string())
    );
    write_file(&file, text.as_bytes(), 0o640)?;
    status.message.push_str(&format!(
        "; meanwhile the daemon keeps its data in {}",
        dir.display()
    ));
    Ok(status)
}

fn check_drop_in(
    paths: &BoxPaths,
    mut effective: impl FnMut() -> Result<String, EffectiveError>,
) -> Result<BoxStatus, ProvisionError> {
    let drop_in = paths.drop_in();
    let rejected = paths.rejected();
    if !drop_in.exists() {
        let earlier = fs::read_to_string(rejected.join("reason.txt")).ok();
        let message = match earlier {
            Some(reason) => format!(
                "PROVISIONING INVALID: {}; it was set aside in {}; provision the box again \
                 with 'edge-image provision --file PROVISION.toml --data-dir MOUNTED_DATA'",
                reason.trim(),
                rejected.display()
            ),
            None => format!(
                "NOT PROVISIONED: {} is missing; write it with 'edge-image provision --file \
                 PROVISION.toml --data-dir MOUNTED_DATA'",
                drop_in.display()
            ),
        };
        let state = if message.starts_with("NOT") {
            BoxState::NotProvisioned
        } else {
            BoxState::Invalid
        };
        return Ok(BoxStatus {
            ok: false,
            state,
            store_id: None,
            message,
        });
    }
    let checked = match effective() {
        Ok(text) => check_effective(&text),
        Err(EffectiveError::BadConfig(reason)) => Err(reason),
        Err(EffectiveError::DaemonFailed(reason)) => {
            return Ok(BoxStatus {
                ok: false,
                state: BoxState::DaemonFailed,
                store_id: None,
                message: format!(
                    "DAEMON FAILED: edge-daemon could not check {}: {}; the provisioning is \
                     left in place",
                    drop_in.display(),
                    reason.replace('\n', "; ")
                ),
            })
        }
    };
    let reason = match checked {
        Ok(store_id) => {
            // A good provisioning replaces any earlier rejected one.
            let _ = fs::remove_dir_all(&rejected);
            let _ = fs::remove_file(paths.config.join(KEPT_STORE_ID));
            return Ok(BoxStatus {
                ok: true,
                state: BoxState::Provisioned,
                message: format!("provisioned: store {store_id}"),
                store_id: Some(store_id),
            });
        }
        Err(reason) => reason.replace('\n', "; "),
    };
    let err = |path: &Path| {
        let path = path.to_owned();
        move |source| ProvisionError::Write { path, source }
    };
    fs::create_dir_all(&rejected).map_err(err(&rejected))?;
    let aside = rejected.join("50-provision.toml");
    fs::rename(&drop_in, &aside).map_err(err(&drop_in))?;
    write_file(
        &rejected.join("reason.txt"),
        format!("{reason}\n").as_bytes(),
        0o640,
    )?;
    // The data directory remembers its store and refuses to open for another one: keep a
    // usable store id from the rejected drop-in, so a box that ran as that store still starts.
    let kept_id = fs::read_to_string(&aside)
        .ok()
        .and_then(|t| toml::from_str::<toml::Table>(&t).ok())
        .and_then(|t| t.get("store_id")?.as_str().map(str::to_owned))
        .filter(|id| store_id_ok(id) && !placeholder(id));
    let kept_path = paths.config.join(KEPT_STORE_ID);
    let mut runs_as = "unprovisioned".to_owned();
    if let Some(id) = kept_id {
        let text = format!(
            "# Kept by edge-image provision-check from the rejected {}\nstore_id = \"{id}\"\n",
            aside.display()
        );
        write_file(&kept_path, text.as_bytes(), 0o640)?;
        if effective().is_ok() {
            runs_as = format!("offline as store {id}");
        } else {
            let _ = fs::remove_file(&kept_path);
        }
    }
    Ok(BoxStatus {
        ok: false,
        state: BoxState::Invalid,
        store_id: None,
        message: format!(
            "PROVISIONING INVALID: {reason}; set aside in {}, the daemon starts {runs_as}; \
             provision the box again with 'edge-image provision --file PROVISION.toml \
             --data-dir MOUNTED_DATA'",
            aside.display()
        ),
    })
}

/// Writes `status` as JSON to `path` (atomically), creating its directory.
pub fn write_status(status: &BoxStatus, path: &Path) -> Result<(), ProvisionError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|source| ProvisionError::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    let text = serde_json::to_string(status).unwrap_or_default();
    write_file(path, format!("{text}\n").as_bytes(), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_dir(t: &Path) -> PathBuf {
        let d = t.join("data");
        fs::create_dir_all(d.join("edge")).unwrap();
        fs::create_dir_all(d.join("journal")).unwrap();
        d
    }

    const GOOD: &str = r#"
store_id = "store-0042"

[mqtt]
url = "mqtts://broker.example:8883"
username = "store-0042"
password = "s3cret"
ca_cert = "ca.pem"

[devices]
simulate = false

[[devices.list]]
kind = "receipt_printer"
name = "receipt-1"
address = "10.0.2.2:9100"
"#;

    #[test]
    fn provisions_a_data_partition() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("p.toml");
        fs::write(&file, GOOD).unwrap();
        fs::write(t.path().join("ca.pem"), "-----BEGIN CERTIFICATE-----\nx\n").unwrap();
        let p = load(&file).unwrap();
        let data = data_dir(t.path());
        let written = apply(&p, &file, &data, Path::new(BOX_DATA)).unwrap();
        assert_eq!(written.len(), 4);
        let drop_in = fs::read_to_string(data.join("config").join(DROP_IN)).unwrap();
        let v: toml::Table = toml::from_str(&drop_in).unwrap();
        assert_eq!(v["store_id"].as_str(), Some("store-0042"));
        assert_eq!(
            v["mqtt"]["url"].as_str(),
            Some("mqtts://broker.example:8883")
        );
        assert_eq!(
            v["mqtt"]["security"]["ca_file"].as_str(),
            Some("/data/config/certs/ca.pem"),
            "named by its path on the box"
        );
        assert_eq!(
            v["devices"]["list"][0]["address"].as_str(),
            Some("10.0.2.2:9100")
        );
        assert!(
            !drop_in.contains("s3cret"),
            "the password stays out of the daemon config"
        );
        use std::os::unix::fs::PermissionsExt;
        let pw = data.join("config").join(PASSWORD_FILE);
        assert_eq!(fs::read_to_string(&pw).unwrap(), "s3cret");
        assert_eq!(
            fs::metadata(&pw).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(data.join("config/certs/ca.pem").exists());
    }

    /// The drop-in as the daemon reads it: the image's `/etc/edge/edge.toml` with its
    /// `edge.toml.d` linked to the data partition, loaded by `edge_daemon::config::load`.
    #[test]
    fn the_daemon_loads_the_provisioned_security_settings() {
        let t = tempfile::tempdir().unwrap();
        let with_tls = GOOD.replace(
            "ca_cert = \"ca.pem\"",
            "ca_cert = \"ca.pem\"\nclient_cert = \"me.pem\"\nclient_key = \"me.key\"",
        );
        fs::write(t.path().join("me.pem"), "-----BEGIN CERTIFICATE-----\nme\n").unwrap();
        fs::write(t.path().join("me.key"), "-----BEGIN PRIVATE KEY-----\nk\n").unwrap();
        // The box mounts the partition at `data` here, so the named files can be opened.
        let (data, edge_toml) = provisioned_box(t.path(), &with_tls);
        let cfg =
            edge_daemon::config::load(Some(&edge_toml), &edge_daemon::config::Overrides::default())
                .unwrap();
        assert_eq!(cfg.store_id.as_str(), "store-0042");
        assert_eq!(cfg.data_dir, Path::new("/data/edge"), "image default kept");
        assert_eq!(cfg.mqtt.url.as_deref(), Some("mqtts://broker.example:8883"));
        let sec = &cfg.mqtt.security;
        assert_eq!(sec.username.as_deref(), Some("store-0042"));
        let config = data.join("config");
        assert_eq!(sec.ca_file.as_deref(), Some(&*config.join("certs/ca.pem")));
        assert_eq!(
            sec.client_cert_file.as_deref(),
            Some(&*config.join("certs/client.pem"))
        );
        assert_eq!(
            sec.client_key_file.as_deref(),
            Some(&*config.join("certs/client.key"))
        );
        assert_eq!(
            sec.password_file.as_deref(),
            Some(&*config.join(PASSWORD_FILE))
        );
        let read = |p: &Option<PathBuf>| fs::read_to_string(p.as_ref().unwrap()).unwrap();
        assert!(read(&sec.ca_file).contains("\nca\n"));
        assert!(read(&sec.client_cert_file).contains("\nme\n"));
        assert!(read(&sec.client_key_file).contains("PRIVATE KEY"));
        assert_eq!(read(&sec.password_file), "s3cret");
        assert_eq!(cfg.devices.list.len(), 1);
    }

    #[test]
    fn a_missing_file_gives_one_clear_message() {
        let t = tempfile::tempdir().unwrap();
        let err = load(&t.path().join("nope.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("nope.toml not found"), "{msg}");
        assert!(msg.contains("--file"), "{msg}");
    }

    const TWICE: &str = "store_id = \"s1\"\n\
        [[devices.list]]\nkind = \"x\"\nname = \"a\"\n\
        [[devices.list]]\nkind = \"x\"\nname = \"a\"\n";

    #[test]
    fn wrong_files_say_what_is_wrong() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("p.toml");
        let cases = [
            ("store_id = \"Store 42\"\n", "store_id"),
            ("store_id = \"unprovisioned\"\n", "placeholder"),
            ("store_id = \"s1\"\nbroker = \"x\"\n", "unknown field"),
            (
                "store_id = \"s1\"\n[mqtt]\nurl = \"http://x\"\n",
                "mqtt.url",
            ),
            (
                "store_id = \"s1\"\n[mqtt]\nurl = \"mqtt://h:1\"\nca_cert = \"no.pem\"\n",
                "no.pem",
            ),
            (
                "store_id = \"s1\"\n[mqtt]\nurl = \"mqtt://h:1\"\nusername = \"u\"\n",
                "together",
            ),
            (
                "store_id = \"s1\"\n[mqtt]\nurl = \"mqtts://h:8883\"\n",
                "mqtt.ca_cert is required",
            ),
            (TWICE, "twice"),
            ("store_id = ", "not valid"),
        ];
        for (text, expect) in cases {
            fs::write(&file, text).unwrap();
            let msg = load(&file).unwrap_err().to_string();
            assert!(msg.contains(expect), "{text:?}: {msg}");
            assert!(msg.contains("p.toml"), "names the file: {msg}");
        }
        fs::write(t.path().join("bad.pem"), "hello").unwrap();
        fs::write(
            &file,
            "store_id = \"s1\"\n[mqtt]\nurl = \"mqtt://h:1\"\nca_cert = \"bad.pem\"\n",
        )
        .unwrap();
        let msg = load(&file).unwrap_err().to_string();
        assert!(msg.contains("not PEM"), "{msg}");
    }

    #[test]
    fn refuses_a_directory_that_is_not_a_data_partition() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("p.toml");
        fs::write(&file, "store_id = \"s1\"\n").unwrap();
        let p = load(&file).unwrap();
        let err = apply(&p, &file, t.path(), Path::new(BOX_DATA)).unwrap_err();
        assert!(matches!(err, ProvisionError::NotData { .. }), "{err}");
        assert!(!t.path().join("config").exists(), "nothing written");
    }

    /// A box's data partition provisioned from `text` (with `ca.pem` beside it), mounted at
    /// the same path on the "box", and the image's edge.toml with its drop-in directory linked
    /// there, as on the box. Returns the data directory and the edge.toml path.
    fn provisioned_box(t: &Path, text: &str) -> (PathBuf, PathBuf) {
        let file = t.join("p.toml");
        fs::write(&file, text).unwrap();
        fs::write(t.join("ca.pem"), "-----BEGIN CERTIFICATE-----\nca\n").unwrap();
        let p = load(&file).unwrap();
        let data = data_dir(t);
        apply(&p, &file, &data, &data).unwrap();
        let etc = t.join("etc");
        fs::create_dir_all(&etc).unwrap();
        let image_toml = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../recipe/overlay/etc/edge/edge.toml"
        );
        fs::copy(image_toml, etc.join("edge.toml")).unwrap();
        std::os::unix::fs::symlink(data.join("config/edge.toml.d"), etc.join("edge.toml.d"))
            .unwrap();
        (data, etc.join("edge.toml"))
    }

    /// What `edge-daemon config` prints, through the daemon's own loader.
    fn daemon_config(edge_toml: &Path) -> Result<String, EffectiveError> {
        let overrides = edge_daemon::config::Overrides::default();
        let cfg = edge_daemon::config::load(Some(edge_toml), &overrides)
            .map_err(|e| EffectiveError::BadConfig(e.to_string()))?;
        toml::to_string_pretty(&cfg).map_err(|e| EffectiveError::BadConfig(e.to_string()))
    }

    #[test]
    fn a_daemon_that_cannot_run_leaves_the_provisioning_in_place() {
        let t = tempfile::tempdir().unwrap();
        let (data, _) = provisioned_box(t.path(), GOOD);
        let paths = BoxPaths {
            config: data.join("config"),
            data_dir: data.join("edge"),
        };
        let broken = || Err(EffectiveError::DaemonFailed("broken daemon".into()));
        let st = check_box(&paths, broken).unwrap();
        assert!(!st.ok);
        assert_eq!(st.state, BoxState::DaemonFailed);
        assert!(st.message.contains("broken daemon"), "{}", st.message);
        assert!(paths.drop_in().exists(), "the drop-in stays");
        assert!(!data.join("config/rejected").exists());
    }

    #[test]
    fn the_box_check_passes_a_good_provisioning() {
        let t = tempfile::tempdir().unwrap();
        let (data, edge_toml) = provisioned_box(t.path(), GOOD);
        let paths = BoxPaths {
            config: data.join("config"),
            data_dir: data.join("edge"),
        };
        let st = check_box(&paths, || daemon_config(&edge_toml)).unwrap();
        assert!(st.ok, "{st:?}");
        assert_eq!(st.state, BoxState::Provisioned);
        assert_eq!(st.store_id.as_deref(), Some("store-0042"));
        assert_eq!(st.message, "provisioned: store store-0042");
        let json = t.path().join("run/edge/provisioning.json");
        write_status(&st, &json).unwrap();
        let back: BoxStatus = serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(back, st);
    }

    #[test]
    fn the_box_check_sets_aside_a_drop_in_whose_files_are_gone() {
        let t = tempfile::tempdir().unwrap();
        let (data, edge_toml) = provisioned_box(t.path(), GOOD);
        fs::remove_file(data.join("config/certs/ca.pem")).unwrap();
        let paths = BoxPaths {
            config: data.join("config"),
            data_dir: data.join("edge"),
        };
        let st = check_box(&paths, || daemon_config(&edge_toml)).unwrap();
        assert!(!st.ok);
        assert_eq!(st.state, BoxState::Invalid);
        assert!(
            st.message.contains("mqtt.security.ca_file"),
            "{}",
            st.message
        );
        assert!(st.message.contains("ca.pem"), "{}", st.message);
        assert!(!paths.drop_in().exists(), "set aside");
        assert!(data.join("config/rejected/50-provision.toml").exists());
        // Without the drop-in the daemon's configuration loads: it starts offline, as the
        // store whose data it holds.
        let cfg = daemon_config(&edge_toml).unwrap();
        assert!(cfg.contains("store_id = \"store-0042\""), "{cfg}");
        assert!(!cfg.contains("mqtts"), "{cfg}");
        assert!(
            st.message.contains("starts offline as store store-0042"),
            "{}",
            st.message
        );
        // The next boot still says why, not merely "not provisioned".
        let again = check_box(&paths, || daemon_config(&edge_toml)).unwrap();
        assert_eq!(again.state, BoxState::Invalid);
        assert!(again.message.contains("ca.pem"), "{}", again.message);
        // Provisioning again, correctly, clears it all.
        fs::write(
            data.join("config/certs/ca.pem"),
            "-----BEGIN CERTIFICATE-----\n",
        )
        .unwrap();
        fs::rename(
            data.join("config/rejected/50-provision.toml"),
            paths.drop_in(),
        )
        .unwrap();
        let fixed = check_box(&paths, || daemon_config(&edge_toml)).unwrap();
        assert!(fixed.ok, "{fixed:?}");
        assert!(!data.join("config/rejected").exists());
        assert!(!data.join("config").join(KEPT_STORE_ID).exists());
    }

    #[test]
    fn the_box_check_names_a_key_the_daemon_refuses() {
        let t = tempfile::tempdir().unwrap();
        let (data, edge_toml) = provisioned_box(t.path(), GOOD);
        let drop_in = data.join("config").join(DROP_IN);
        let text = fs::read_to_string(&drop_in).unwrap();
        fs::write(&drop_in, format!("{text}\n[api]\nlisten_on = 1\n")).unwrap();
        let paths = BoxPaths {
            config: data.join("config"),
            data_dir: data.join("edge"),
        };
        let st = check_box(&paths, || daemon_config(&edge_toml)).unwrap();
        assert_eq!(st.state, BoxState::Invalid);
        assert!(st.message.contains("api.listen_on"), "{}", st.message);
        assert!(st.message.contains("50-provision.toml"), "{}", st.message);
    }

    #[test]
    fn the_box_check_says_not_provisioned_without_a_drop_in() {
        let t = tempfile::tempdir().unwrap();
        let paths = BoxPaths {
            config: t.path().join("config"),
            data_dir: t.path().join("edge"),
        };
        let st = check_box(&paths, || panic!("not run without a drop-in")).unwrap();
        assert_eq!(st.state, BoxState::NotProvisioned);
        assert!(st.message.starts_with("NOT PROVISIONED"), "{}", st.message);
        assert!(
            st.message.contains("edge-image provision"),
            "{}",
            st.message
        );
    }

    /// The box's paths as the image has them, the data partition at `data`.
    fn image_box(data: &Path) -> BoxPaths {
        BoxPaths {
            config: data.join("config"),
            data_dir: PathBuf::from("/data/edge"),
        }
    }

    /// The store and data directory the daemon would run with.
    fn assert_runs_as(edge_toml: &Path, store: &str, data_dir: &str) {
        let cfg = daemon_config(edge_toml).unwrap();
        assert!(cfg.contains(&format!("store_id = \"{store}\"")), "{cfg}");
        assert!(cfg.contains(&format!("data_dir = \"{data_dir}\"")), "{cfg}");
    }

    #[test]
    fn an_unprovisioned_box_keeps_its_data_apart_until_provisioned() {
        let t = tempfile::tempdir().unwrap();
        let (data, edge_toml) = provisioned_box(t.path(), GOOD);
        let paths = image_box(&data);
        let drop_in = paths.drop_in();
        let kept = t.path().join("50-provision.toml");
        fs::rename(&drop_in, &kept).unwrap();
        let st = check_box(&paths, || daemon_config(&edge_toml)).unwrap();
        assert_eq!(st.state, BoxState::NotProvisioned);
        assert!(
            st.message.contains("/data/edge/unprovisioned"),
            "{}",
            st.message
        );
        assert_runs_as(&edge_toml, "unprovisioned", "/data/edge/unprovisioned");
        // Provisioned afterwards: the store's own data directory, the placeholder's left alone.
        fs::rename(&kept, &drop_in).unwrap();
        let st = check_box(&paths, || daemon_config(&edge_toml)).unwrap();
        assert!(st.ok, "{st:?}");
        assert!(!paths.config.join(UNPROVISIONED_DATA).exists());
        assert_runs_as(&edge_toml, "store-0042", "/data/edge");
    }

    #[test]
    fn a_wrong_provisioning_with_a_store_id_keeps_the_store_s_data_directory() {
        let t = tempfile::tempdir().unwrap();
        let (data, edge_toml) = provisioned_box(t.path(), GOOD);
        let paths = image_box(&data);
        let drop_in = paths.drop_in();
        let text = fs::read_to_string(&drop_in).unwrap();
        fs::write(&drop_in, text.replace("url =", "ulr =")).unwrap();
        let st = check_box(&paths, || daemon_config(&edge_toml)).unwrap();
        assert_eq!(st.state, BoxState::Invalid);
        assert!(st.message.contains("mqtt.ulr"), "{}", st.message);
        assert!(!paths.config.join(UNPROVISIONED_DATA).exists());
        assert_runs_as(&edge_toml, "store-0042", "/data/edge");
    }

    #[test]
    fn the_effective_configuration_needs_a_ca_for_tls_and_a_real_store() {
        let e = check_effective("store_id = \"s1\"\n[mqtt]\nurl = \"mqtts://h:8883\"\n");
        assert!(e.unwrap_err().contains("ca_file is not set"));
        let e = check_effective("store_id = \"unprovisioned\"\n");
        assert!(e.unwrap_err().contains("placeholder"));
        assert_eq!(check_effective("store_id = \"s1\"\n").unwrap(), "s1");
    }
}
