//! The box's update transitions into the journal, so the cloud link carries them.
//!
//! The update agent (`edge-image`, images/) appends one JSON object a line to
//! `/data/update/events.jsonl` at every A/B transition (armed, committed, rolling back, rolled
//! back with its reason, running, refused). When `image.update_events` names that file, the
//! daemon reads the lines it has not journaled yet every few seconds and journals each as
//! [`Event::UpdateReported`]; the journal pump sends it over MQTT with everything else, so a
//! rollback and its reason reach the cloud once the link is up.
//!
//! Exactly once: how far the file was read is kept in `DATA/update-report.offset`, written
//! after each batch is durable, and each line is journaled under an idempotency key made of its
//! offset and hash, so a crash between the two replays the batch without journaling it twice.
//! A line without its newline yet is left for the next round; a line that is not a JSON object
//! is skipped with a warning.

use std::convert::Infallible;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::Event;

use crate::store::{IdemRequest, Planned, Store, StoreError, WriteError};

/// The offset file, in the data directory.
pub const OFFSET_FILE: &str = "update-report.offset";
/// How often the file is looked at.
pub const POLL: Duration = Duration::from_secs(5);

/// Why a round of reading the agent's records failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateReportError {
    #[error("cannot read update records {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot record how far {path} was read: {source}")]
    Offset {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot journal an update record: {0}")]
    Store(#[from] StoreError),
}

fn read_offset(data_dir: &Path) -> u64 {
    std::fs::read_to_string(data_dir.join(OFFSET_FILE))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

fn write_offset(data_dir: &Path, offset: u64) -> Result<(), UpdateReportError> {
    let path = data_dir.join(OFFSET_FILE);
    let tmp = data_dir.join(format!("{OFFSET_FILE}.tmp"));
    let err = |source| UpdateReportError::Offset {
        path: path.clone(),
        source,
    };
    std::fs::write(&tmp, format!("{offset}\n")).map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)
}

/// Journals the complete lines of `file` after the remembered offset; returns how many records
/// were taken (journaled now, or found journaled before a crash).
pub fn pump(store: &Store, file: &Path, data_dir: &Path) -> Result<usize, UpdateReportError> {
    let read_err = |source| UpdateReportError::Read {
        path: file.to_owned(),
        source,
    };
    let mut f = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(read_err(e)),
    };
    let len = f.metadata().map_err(read_err)?.len();
    let mut offset = read_offset(data_dir);
    if offset > len {
        // The file was replaced by a shorter one: read it from the start.
        offset = 0;
    }
    if offset == len {
        return Ok(0);
    }
    f.seek(SeekFrom::Start(offset)).map_err(read_err)?;
    let mut text = Vec::new();
    f.take(len - offset)
        .read_to_end(&mut text)
        .map_err(read_err)?;
    let mut journaled = 0;
    let mut at = offset;
    for line in text.split_inclusive(|b| *b == b'\n') {
        if !line.ends_with(b"\n") {
            break;
        }
        let start = at;
        at += line.len() as u64;
        let body = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
        let Ok(serde_json::Value::Object(obj)) = serde_json::from_str(&body) else {
            tracing::warn!(file = %file.display(), offset = start, "not an update record; skipped");
            continue;
        };
        let state = obj.get("state").and_then(|v| v.as_str()).unwrap_or("");
        let event = Event::UpdateReported {
            state: state.to_owned(),
            unix_time: obj.get("unix_time").and_then(|v| v.as_u64()).unwrap_or(0),
            record: body.clone(),
        };
        let fingerprint = IdemRequest::fingerprint_of("UPDATE", "events.jsonl", line);
        let idem = IdemRequest {
            scope: "update-report".to_owned(),
            key: format!("{start}-{}", hex::encode(&fingerprint[..8])),
            fingerprint,
        };
        let planned = Planned {
            events: vec![event],
            ..Planned::default()
        };
        match store.write(Some(&idem), |_| Ok::<_, Infallible>(planned)) {
            Ok(_) => {}
            Err(WriteError::Store(e)) => return Err(e.into()),
            Err(WriteError::Rejected(never)) => match never {},
            // The key carries the line's hash, so the same key means the same line.
            Err(WriteError::IdempotencyConflict) => {}
        }
        tracing::info!(state, offset = start, "update transition journaled");
        journaled += 1;
    }
    if at != offset {
        write_offset(data_dir, at)?;
    }
    Ok(journaled)
}

/// Runs [`pump`] every [`POLL`] until the task is aborted; failures are logged and retried.
pub async fn run(store: Store, file: PathBuf, data_dir: PathBuf) {
    loop {
        let (s, f, d) = (store.clone(), file.clone(), data_dir.clone());
        match tokio::task::spawn_blocking(move || pump(&s, &f, &d)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "update records not journaled; retrying"),
            Err(e) => tracing::error!(error = %e, "update record task failed"),
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreSettings;
    use protocol::StoreId;
    use std::io::Write;

    fn reported(store: &Store) -> Vec<(String, u64, String)> {
        store
            .journal_after(0, 1000)
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.event {
                Event::UpdateReported {
                    state,
                    unix_time,
                    record,
                } => Some((state, unix_time, record)),
                _ => None,
            })
            .collect()
    }

    const ARMED: &str = r#"{"unix_time":100,"state":"armed","slot":"b","version":"2.0.0"}"#;
    const BACK: &str = r#"{"unix_time":200,"state":"rolled_back","slot":"a","reason":"down"}"#;

    #[test]
    fn each_complete_record_is_journaled_once_across_restarts_and_crashes() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("edge");
        let id = StoreId::new("store-0042").unwrap();
        let store = Store::open(&data, &id, &StoreSettings::default()).unwrap();
        let file = t.path().join("events.jsonl");
        assert_eq!(pump(&store, &file, &data).unwrap(), 0, "no file yet");

        let mut f = std::fs::File::create(&file).unwrap();
        write!(f, "{ARMED}\nnot json\n{}", &BACK[..20]).unwrap();
        assert_eq!(pump(&store, &file, &data).unwrap(), 1);
        let r = reported(&store);
        assert_eq!(r, vec![("armed".into(), 100, ARMED.into())]);
        assert_eq!(
            pump(&store, &file, &data).unwrap(),
            0,
            "the half line waits"
        );

        writeln!(f, "{}", &BACK[20..]).unwrap();
        assert_eq!(pump(&store, &file, &data).unwrap(), 1);
        assert_eq!(
            reported(&store)[1],
            ("rolled_back".into(), 200, BACK.into())
        );

        // A crash before the offset was written: the lines replay without a second event.
        std::fs::remove_file(data.join(OFFSET_FILE)).unwrap();
        assert_eq!(pump(&store, &file, &data).unwrap(), 2, "read again");
        assert_eq!(reported(&store).len(), 2, "journaled once");
        let end = std::fs::metadata(&file).unwrap().len();
        assert_eq!(read_offset(&data), end);

        // After a restart of the daemon nothing is journaled again.
        drop(store);
        let store = Store::open(&data, &id, &StoreSettings::default()).unwrap();
        assert_eq!(pump(&store, &file, &data).unwrap(), 0);
        assert_eq!(reported(&store).len(), 2);
    }
}
