//! The local administration socket, and the operations it serves.
//!
//! sled allows one process per database, so while the daemon runs the technician's CLI
//! (`edge-daemon token issue`, `pair approve`, `verify`, …) talks to it over a Unix socket at
//! `DATA/admin.sock`. The socket is created with mode 0600 and every connection's peer
//! credentials are checked: only root or the daemon's own user may use it. When the daemon is
//! not running, the CLI opens the store itself and runs the same [`execute`].
//!
//! The protocol is one JSON [`AdminRequest`] line in, one JSON [`AdminResponse`] line out.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use protocol::event::Actor;
use protocol::{Role, TokenId};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::auth::{self, AuthError};
use crate::clock::{now, rfc3339};
use crate::store::{Planned, Reader, Store, WriteError};

/// The socket's file name inside the data directory.
pub const SOCKET_NAME: &str = "admin.sock";

/// The socket path for a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// An operation the CLI asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AdminRequest {
    TokenIssue { role: Role, label: String },
    TokenList,
    TokenRevoke { id: TokenId },
    PairList,
    PairApprove { code: String, role: Role },
    PairReject { code: String },
    Verify,
}

/// The answer: a JSON value, or an error message for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminResponse {
    Ok(serde_json::Value),
    Err(String),
}

/// Runs `req` against `store`. Blocking: call from a blocking thread.
pub fn execute(store: &Store, req: AdminRequest) -> AdminResponse {
    match execute_inner(store, req) {
        Ok(v) => AdminResponse::Ok(v),
        Err(e) => AdminResponse::Err(e),
    }
}

fn write<T>(
    store: &Store,
    decide: impl FnOnce(&Reader<'_>) -> Result<(Vec<protocol::Event>, T), AuthError>,
) -> Result<T, String> {
    let mut out = None;
    let res = store.write(None, |r| {
        let (events, value) = decide(r)?;
        out = Some(value);
        Ok::<_, AuthError>(Planned {
            events,
            ..Default::default()
        })
    });
    match res {
        Ok(_) => out.ok_or_else(|| "the write produced no result".to_owned()),
        Err(WriteError::Rejected(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn execute_inner(store: &Store, req: AdminRequest) -> Result<serde_json::Value, String> {
    use serde_json::json;
    match req {
        AdminRequest::TokenIssue { role, label } => {
            let (id, token) = write(store, |r| {
                let (events, id, token) = auth::issue_token(r, role, &label, Actor::Admin)?;
                Ok((events, (id, token)))
            })?;
            Ok(json!({ "id": id.to_string(), "role": role, "label": label, "token": token }))
        }
        AdminRequest::TokenList => {
            let tokens = store.reader().tokens().map_err(|e| e.to_string())?;
            Ok(serde_json::Value::Array(
                tokens
                    .into_iter()
                    .map(|t| {
                        json!({ "id": t.id.to_string(), "label": t.label, "role": t.role,
                            "active": t.active, "revoked": t.revoked,
                            "created_at": rfc3339(t.created_at) })
                    })
                    .collect(),
            ))
        }
        AdminRequest::TokenRevoke { id } => {
            write(store, |r| {
                Ok((auth::revoke_token(r, id, Actor::Admin, None)?, ()))
            })?;
            Ok(json!({ "id": id.to_string(), "revoked": true }))
        }
        AdminRequest::PairList => {
            let open = store
                .reader()
                .open_pairings(now())
                .map_err(|e| e.to_string())?;
            Ok(serde_json::Value::Array(
                open.into_iter()
                    .map(|p| {
                        json!({ "pairing_id": p.id.to_string(), "code": p.code,
                            "device_name": p.device_name,
                            "expires_at": rfc3339(p.expires_at) })
                    })
                    .collect(),
            ))
        }
        AdminRequest::PairApprove { code, role } => {
            let rec = write(store, |r| {
                auth::approve_pairing(r, &code, role, Actor::Admin, None, now())
            })?;
            Ok(
                json!({ "pairing_id": rec.id.to_string(), "device_name": rec.device_name,
                "state": "approved", "role": role }),
            )
        }
        AdminRequest::PairReject { code } => {
            let rec = write(store, |r| {
                auth::reject_pairing(r, &code, Actor::Admin, now())
            })?;
            Ok(
                json!({ "pairing_id": rec.id.to_string(), "device_name": rec.device_name,
                "state": "rejected" }),
            )
        }
        AdminRequest::Verify => {
            let report = store.verify().map_err(|e| e.to_string())?;
            serde_json::to_value(report).map_err(|e| e.to_string())
        }
    }
}

/// Binds the socket (replacing a stale one) with mode 0600.
pub fn bind(data_dir: &Path) -> std::io::Result<UnixListener> {
    let path = socket_path(data_dir);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serves the socket until the task is dropped.
pub async fn serve(listener: UnixListener, store: Store, socket: PathBuf) {
    let owner = std::fs::metadata(&socket).map(|m| m.uid()).unwrap_or(0);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "admin socket accept failed");
                continue;
            }
        };
        let store = store.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_one(stream, store, owner).await {
                tracing::warn!(error = %e, "admin connection failed");
            }
        });
    }
}

async fn serve_one(stream: UnixStream, store: Store, owner: u32) -> std::io::Result<()> {
    let uid = stream.peer_cred()?.uid();
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await?;
    let resp = if uid != 0 && uid != owner {
        AdminResponse::Err(format!(
            "uid {uid} may not use the admin socket (root only)"
        ))
    } else {
        match serde_json::from_str::<AdminRequest>(&line) {
            Ok(req) => {
                tracing::info!(op = ?req_name(&req), uid, "admin request");
                tokio::task::spawn_blocking(move || execute(&store, req))
                    .await
                    .unwrap_or_else(|e| AdminResponse::Err(e.to_string()))
            }
            Err(e) => AdminResponse::Err(format!("malformed admin request: {e}")),
        }
    };
    let mut out = serde_json::to_vec(&resp).unwrap_or_default();
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}

fn req_name(req: &AdminRequest) -> &'static str {
    match req {
        AdminRequest::TokenIssue { .. } => "token_issue",
        AdminRequest::TokenList => "token_list",
        AdminRequest::TokenRevoke { .. } => "token_revoke",
        AdminRequest::PairList => "pair_list",
        AdminRequest::PairApprove { .. } => "pair_approve",
        AdminRequest::PairReject { .. } => "pair_reject",
        AdminRequest::Verify => "verify",
    }
}

/// Sends one request to a running daemon. `Ok(None)` means no daemon listens on the socket.
pub fn call(data_dir: &Path, req: &AdminRequest) -> std::io::Result<Option<AdminResponse>> {
    use std::io::{BufRead, Write};
    let path = socket_path(data_dir);
    let mut stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let mut line = serde_json::to_vec(req).map_err(std::io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut answer = String::new();
    std::io::BufReader::new(stream).read_line(&mut answer)?;
    serde_json::from_str(&answer)
        .map(Some)
        .map_err(std::io::Error::other)
}
