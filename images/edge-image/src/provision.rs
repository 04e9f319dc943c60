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
//! - `edge.toml.d/50-provision.toml`: `store_id`, `mqtt.url`, `[devices]` (the image links
//!   `/etc/edge/edge.toml.d` here), mode 0640;
//! - `mqtt-credentials.toml` (username, password), mode 0600;
//! - `certs/ca.pem`, `certs/client.pem`, `certs/client.key` (key mode 0600);
//! - `provisioned.json`: store id and time.

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
    let id_ok = !p.store_id.is_empty()
        && p.store_id.len() <= 64
        && p.store_id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !id_ok {
        return Err(invalid(format!(
            "store_id {:?} must be 1-64 of a-z 0-9 - _",
            p.store_id
        )));
    }
    if p.store_id == "unprovisioned" || p.store_id == "dev-store" {
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
}

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

/// Writes a checked provisioning into a data partition mounted at `data`; returns the files.
pub fn apply(p: &Provisioning, source: &Path, data: &Path) -> Result<Vec<PathBuf>, ProvisionError> {
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

    let drop_in = DaemonDropIn {
        store_id: &p.store_id,
        mqtt: p.mqtt.as_ref().map(|m| DaemonMqtt { url: &m.url }),
        devices: p.devices.as_ref(),
    };
    let text = toml::to_string(&drop_in).map_err(|e| ProvisionError::Invalid {
        path: source.to_owned(),
        reason: e.to_string(),
    })?;
    let path = config.join("edge.toml.d/50-provision.toml");
    let header = format!(
        "# Written by edge-image provision from {}\n",
        source.display()
    );
    write_file(&path, format!("{header}{text}").as_bytes(), 0o640)?;
    written.push(path);

    if let Some(m) = &p.mqtt {
        let base = source.parent().unwrap_or(Path::new("."));
        if let (Some(u), Some(pw)) = (&m.username, &m.password) {
            let mut t = toml::Table::new();
            t.insert("username".into(), u.clone().into());
            t.insert("password".into(), pw.clone().into());
            let path = config.join("mqtt-credentials.toml");
            write_file(&path, t.to_string().as_bytes(), 0o600)?;
            written.push(path);
        }
        for (file, name, mode) in [
            (&m.ca_cert, "ca.pem", 0o640),
            (&m.client_cert, "client.pem", 0o640),
            (&m.client_key, "client.key", 0o600),
        ] {
            if let Some(f) = file {
                let from = base.join(f);
                let bytes = fs::read(&from).map_err(|e| ProvisionError::Read {
                    path: from.clone(),
                    source: e,
                })?;
                let path = config.join("certs").join(name);
                write_file(&path, &bytes, mode)?;
                written.push(path);
            }
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
        let written = apply(&p, &file, &data).unwrap();
        assert_eq!(written.len(), 4);
        let drop_in =
            fs::read_to_string(data.join("config/edge.toml.d/50-provision.toml")).unwrap();
        let v: toml::Table = toml::from_str(&drop_in).unwrap();
        assert_eq!(v["store_id"].as_str(), Some("store-0042"));
        assert_eq!(
            v["mqtt"]["url"].as_str(),
            Some("mqtts://broker.example:8883")
        );
        assert_eq!(
            v["devices"]["list"][0]["address"].as_str(),
            Some("10.0.2.2:9100")
        );
        assert!(
            !drop_in.contains("s3cret"),
            "credentials stay out of the daemon config"
        );
        use std::os::unix::fs::PermissionsExt;
        let creds = fs::metadata(data.join("config/mqtt-credentials.toml")).unwrap();
        assert_eq!(creds.permissions().mode() & 0o777, 0o600);
        assert!(data.join("config/certs/ca.pem").exists());
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
        let err = apply(&p, &file, t.path()).unwrap_err();
        assert!(matches!(err, ProvisionError::NotData { .. }), "{err}");
        assert!(!t.path().join("config").exists(), "nothing written");
    }
}
