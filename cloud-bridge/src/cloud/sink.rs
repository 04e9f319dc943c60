//! Where the cloud end forwards events: the OMS, as a JSON-lines file or an HTTP webhook.
//!
//! A sink accepts a batch of events in order; when [`Sink::accept`] returns, every event of the
//! batch is durable at the sink (the file is fsynced; the webhook answered 2xx or 409 for
//! each), except the events of a store the sink refused for good ([`Refusal`]) from the
//! refused one on. [`Sink::recover`] tells, after a restart, the highest sequence per store
//! already accepted, so the cloud end does not forward it twice.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::{Envelope, StoreId};
use serde_json::json;

use crate::mqtt::Backoff;

/// Why a sink could not be opened or take a batch.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("sink {0:?} is not file:PATH, http://... or https://...")]
    BadSpec(String),
    #[error("sink file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("webhook client: {0}")]
    Client(String),
}

/// An event the sink refused for good: the webhook answered a 4xx other than 408 (timeout),
/// 409 (already have it) and 429 (slow down). Retrying the same request cannot help, so the
/// cloud end parks the store (see [`super::forward::Forwarder::park`]) instead of retrying
/// forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub store: StoreId,
    pub seq: u64,
    pub status: u16,
    /// The start of the answer's body, for the operator.
    pub detail: String,
}

/// The JSON form of one event, as the OMS receives it.
pub fn event_json(env: &Envelope) -> serde_json::Value {
    json!({
        "store": env.store,
        "seq": env.seq,
        "id": env.id,
        "at": env.at.millis(),
        "kind": env.event.kind(),
        "event": env.event,
    })
}

/// The idempotency key of one event at the OMS.
pub fn idempotency_key(env: &Envelope) -> String {
    format!("{}:{}", env.store, env.seq)
}

/// A place that durably accepts events.
pub trait Sink: Send {
    /// Highest sequence already accepted, per store.
    fn recover(&mut self) -> Result<HashMap<StoreId, u64>, SinkError>;
    /// Accepts `batch` (in order per store); returns only when all of it is durable, except the
    /// events of each refused store from its [`Refusal`]'s sequence on. Retries transient
    /// failures itself.
    fn accept(&mut self, batch: &[Envelope]) -> Result<Vec<Refusal>, SinkError>;
}

/// Opens `file:PATH`, `http://...` or `https://...`.
pub fn open(spec: &str) -> Result<Box<dyn Sink>, SinkError> {
    if let Some(path) = spec.strip_prefix("file:") {
        Ok(Box::new(FileSink::open(Path::new(path))?))
    } else if spec.starts_with("http://") || spec.starts_with("https://") {
        Ok(Box::new(WebhookSink::new(spec)?))
    } else {
        Err(SinkError::BadSpec(spec.to_owned()))
    }
}

/// JSON lines appended to a file, fsynced per batch.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    file: File,
}

impl FileSink {
    pub fn open(path: &Path) -> Result<FileSink, SinkError> {
        let err = |source| SinkError::File {
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(err)?;
        Ok(FileSink {
            path: path.to_owned(),
            file,
        })
    }

    fn err(&self, source: std::io::Error) -> SinkError {
        SinkError::File {
            path: self.path.clone(),
            source,
        }
    }
}

impl Sink for FileSink {
    /// Reads the file; a torn last line (a crash mid-write) is cut off.
    fn recover(&mut self) -> Result<HashMap<StoreId, u64>, SinkError> {
        let mut seen = HashMap::new();
        let mut reader = BufReader::new(File::open(&self.path).map_err(|e| self.err(e))?);
        let mut good_len = 0u64;
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(|e| self.err(e))?;
            if n == 0 || !line.ends_with('\n') {
                break;
            }
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                break;
            };
            let store = v["store"].as_str().and_then(|s| StoreId::new(s).ok());
            if let (Some(store), Some(seq)) = (store, v["seq"].as_u64()) {
                let e = seen.entry(store).or_insert(0);
                *e = seq.max(*e);
            }
            good_len += n as u64;
        }
        let len = self.file.metadata().map_err(|e| self.err(e))?.len();
        if len > good_len {
            tracing::warn!(path = %self.path.display(), cut = len - good_len, "torn tail cut");
            self.file.set_len(good_len).map_err(|e| self.err(e))?;
            self.file.seek(SeekFrom::End(0)).map_err(|e| self.err(e))?;
        }
        Ok(seen)
    }

    fn accept(&mut self, batch: &[Envelope]) -> Result<Vec<Refusal>, SinkError> {
        let mut buf = Vec::with_capacity(batch.len() * 200);
        for env in batch {
            // A Value of owned data always serializes.
            serde_json::to_writer(&mut buf, &event_json(env)).unwrap_or_default();
            buf.push(b'\n');
        }
        self.file.write_all(&buf).map_err(|e| self.err(e))?;
        self.file.sync_data().map_err(|e| self.err(e))?;
        Ok(Vec::new())
    }
}

/// One POST per event with an `Idempotency-Key: STORE:SEQ` header, retried with jittered
/// backoff until the OMS answers 2xx (or 409, which an idempotent OMS answers for a key it
/// already has). A 5xx, 408, 429 or a transport error is retried; any other 4xx is a
/// [`Refusal`]. `https://` URLs use rustls with the Mozilla root certificates.
#[derive(Debug)]
pub struct WebhookSink {
    url: String,
    client: reqwest::blocking::Client,
    first_retry: Duration,
}

/// Whether an answer refuses the event for good.
fn permanent(status: reqwest::StatusCode) -> bool {
    status.is_client_error() && !matches!(status.as_u16(), 408 | 409 | 429)
}

impl WebhookSink {
    pub fn new(url: &str) -> Result<WebhookSink, SinkError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SinkError::Client(e.to_string()))?;
        Ok(WebhookSink {
            url: url.to_owned(),
            client,
            first_retry: Duration::from_millis(100),
        })
    }

    /// The same sink with another first retry delay (tests).
    pub fn with_first_retry(mut self, delay: Duration) -> WebhookSink {
        self.first_retry = delay;
        self
    }

    fn post_until_accepted(&self, env: &Envelope) -> Result<(), Refusal> {
        let mut backoff = Backoff::new(self.first_retry, Duration::from_secs(30));
        loop {
            let res = self
                .client
                .post(&self.url)
                .header("idempotency-key", idempotency_key(env))
                .json(&event_json(env))
                .send();
            match res {
                Ok(r) if r.status().is_success() || r.status().as_u16() == 409 => return Ok(()),
                Ok(r) if permanent(r.status()) => {
                    let status = r.status().as_u16();
                    let detail = r.text().unwrap_or_default().chars().take(300).collect();
                    return Err(Refusal {
                        store: env.store.clone(),
                        seq: env.seq,
                        status,
                        detail,
                    });
                }
                Ok(r) => tracing::warn!(status = %r.status(), seq = env.seq, "webhook refused"),
                Err(e) => tracing::warn!(error = %e, seq = env.seq, "webhook unreachable"),
            }
            std::thread::sleep(backoff.next_delay());
        }
    }
}

impl Sink for WebhookSink {
    /// The webhook keeps no local record; the cloud end's state file holds it.
    fn recover(&mut self) -> Result<HashMap<StoreId, u64>, SinkError> {
        Ok(HashMap::new())
    }

    fn accept(&mut self, batch: &[Envelope]) -> Result<Vec<Refusal>, SinkError> {
        let mut refused: Vec<Refusal> = Vec::new();
        for env in batch {
            if refused.iter().any(|r| r.store == env.store) {
                continue;
            }
            if let Err(r) = self.post_until_accepted(env) {
                refused.push(r);
            }
        }
        Ok(refused)
    }
}
