//! Connection details shared by both ends: the broker URL, TLS files, client options, and the
//! jittered exponential backoff between connection attempts.
//!
//! Credentials (the client key, a password) are read here and handed to rumqttc; nothing in
//! this module logs them, and [`MqttOptions`] is never formatted with `{:?}` anywhere in the
//! crate because its `Debug` shows the password.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rumqttc::{MqttOptions, Transport};
use serde::{Deserialize, Serialize};

/// What is wrong with the link's configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("broker URL {url:?} is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]: {why}")]
    BadUrl { url: String, why: &'static str },
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("mqtts needs a CA certificate file (mqtt.ca_file / --ca)")]
    MissingCa,
    #[error("a client certificate needs its key, and a key its certificate")]
    HalfClientAuth,
}

/// A parsed broker URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl BrokerUrl {
    /// Parses `mqtt://host[:port]` (default port 1883) or `mqtts://host[:port]` (8883).
    pub fn parse(url: &str) -> Result<BrokerUrl, ConfigError> {
        let bad = |why| ConfigError::BadUrl {
            url: url.to_owned(),
            why,
        };
        let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("mqtt://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("tcp://") {
            (false, r)
        } else {
            return Err(bad("unknown scheme"));
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.contains('@') {
            return Err(bad("a path or user info is not allowed"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("bad port"))?),
            None => (rest, if tls { 8883 } else { 1883 }),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(BrokerUrl {
            host: host.to_owned(),
            port,
            tls,
        })
    }
}

/// TLS and login settings, from the daemon's configuration or the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Security {
    /// PEM file of the CA that signed the broker's certificate (required for mqtts).
    pub ca_file: Option<PathBuf>,
    /// PEM file of this client's certificate (the per-store certificate in production).
    pub client_cert_file: Option<PathBuf>,
    /// PEM file of this client's private key.
    pub client_key_file: Option<PathBuf>,
    /// MQTT user name, if the broker wants one.
    pub username: Option<String>,
    /// File holding the MQTT password (kept out of configuration and logs).
    pub password_file: Option<PathBuf>,
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// Makes ring the process's TLS crypto provider, once. Both of rustls' providers are compiled
/// in (rumqttc's TLS stack asks for aws-lc-rs, reqwest's for ring), and with two rustls will not
/// choose: the first TLS connection would panic. A provider installed earlier is kept.
fn use_ring_for_tls() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Client options for `client_id` on `url`, with TLS and login from `sec`.
pub fn options(
    client_id: &str,
    url: &BrokerUrl,
    sec: &Security,
    keep_alive: Duration,
) -> Result<MqttOptions, ConfigError> {
    let mut opts = MqttOptions::new(client_id, url.host.clone(), url.port);
    opts.set_keep_alive(keep_alive.max(Duration::from_secs(1)))
        .set_clean_session(true)
        .set_max_packet_size(1024 * 1024, 1024 * 1024);
    if url.tls {
        use_ring_for_tls();
        let ca = read(
            "CA certificate",
            sec.ca_file.as_ref().ok_or(ConfigError::MissingCa)?,
        )?;
        let client_auth = match (&sec.client_cert_file, &sec.client_key_file) {
            (Some(c), Some(k)) => Some((read("client certificate", c)?, read("client key", k)?)),
            (None, None) => None,
            _ => return Err(ConfigError::HalfClientAuth),
        };
        opts.set_transport(Transport::tls(ca, client_auth, None));
    }
    if let Some(user) = &sec.username {
        let password = match &sec.password_file {
            Some(p) => String::from_utf8_lossy(&read("password file", p)?)
                .trim_end()
                .to_owned(),
            None => String::new(),
        };
        opts.set_credentials(user.clone(), password);
    }
    Ok(opts)
}

/// Jittered exponential backoff: each delay is uniform in `[d/2, d]`, and `d` doubles from
/// `min` up to `max`, so that 10,000 boxes do not come back in the same second.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        let min = min.max(Duration::from_millis(1));
        Backoff {
            min,
            max: max.max(min),
            current: min,
        }
    }

    /// The next delay to wait.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.current;
        self.current = (self.current * 2).min(self.max);
        let half = d / 2;
        half + half.mul_f64(unit_random())
    }

    /// After a good connection: start again from the minimum.
    pub fn reset(&mut self) {
        self.current = self.min;
    }
}

/// A uniform random number in `[0, 1)`.
pub fn unit_random() -> f64 {
    let mut b = [0u8; 8];
    // Without randomness the jitter degrades to a fixed midpoint, which is still a valid delay.
    if getrandom::getrandom(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_default_ports() {
        let u = BrokerUrl::parse("mqtt://broker").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.tls), ("broker", 1883, false));
        let u = BrokerUrl::parse("mqtts://b.example:9000/").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.tls), ("b.example", 9000, true));
        for bad in [
            "http://x",
            "mqtt://",
            "mqtt://h:port",
            "mqtt://u:p@h",
            "mqtt://h/x",
        ] {
            assert!(BrokerUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tls_needs_a_ca_and_both_halves_of_client_auth() {
        let url = BrokerUrl::parse("mqtts://h").unwrap();
        let k = Duration::from_secs(5);
        assert!(matches!(
            options("c", &url, &Security::default(), k),
            Err(ConfigError::MissingCa)
        ));
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, b"not checked here").unwrap();
        let sec = Security {
            ca_file: Some(ca.clone()),
            client_cert_file: Some(ca.clone()),
            ..Security::default()
        };
        assert!(matches!(
            options("c", &url, &sec, k),
            Err(ConfigError::HalfClientAuth)
        ));
        let sec = Security {
            ca_file: Some(dir.path().join("missing.pem")),
            ..Security::default()
        };
        let err = options("c", &url, &sec, k).unwrap_err().to_string();
        assert!(err.contains("missing.pem"), "{err}");
    }

    #[test]
    fn backoff_grows_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        let mut expected = 100;
        for _ in 0..6 {
            let d = b.next_delay().as_millis() as u64;
            assert!(d >= expected / 2 && d <= expected, "{d} vs {expected}");
            expected = (expected * 2).min(800);
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
