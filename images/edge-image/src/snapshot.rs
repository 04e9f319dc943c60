//! The daemon's data across an update: a snapshot before the trial boot, restored after a
//! rollback, so the old version never opens data that the new version has migrated.
//!
//! [`guard`] runs on every boot before the daemon starts (`edge-update-data.service`), from the
//! slot that is booting, and decides from GRUB's environment:
//! - trial boot (`pending_slot` is the running slot, `boot_tries=1`): copy the data directory
//!   (`/data/edge`) to `STATUS/data-snapshot/edge`, with owners, modes and the version it was
//!   taken for (`STATUS/data-snapshot/version`). Written to `data-snapshot.tmp` and renamed, so
//!   a half-made snapshot is never used. Skipped, and said so, when the data partition has not
//!   room for the copy plus [`HEADROOM`];
//! - rollback (`rollback_reason` set, by GRUB or by the agent): move the trial's data directory
//!   aside to `STATUS/trial-data-VERSION` and put the snapshot in its place. Nothing written
//!   during the trial is discarded: sales made on the trial boot are in that directory, for
//!   recovery, and the rollback report names it ([`RESTORED`], read by
//!   [`crate::agent::boot_check`]). Each step is a rename on one file system, and a restore cut
//!   short by a power cut finishes on the next boot (the rollback reason stays set until the
//!   agent reports it);
//! - otherwise, a snapshot left from a committed update is removed (the agent also removes it
//!   when it commits).

use std::fs;
use std::io;
use std::os::unix::fs::{lchown, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::agent::{AgentError, Layout, Slot};
use crate::grubenv::Env;

/// The snapshot directory, under the status directory.
pub const SNAPSHOT: &str = "data-snapshot";
/// Written by a restore for the agent's rollback report; removed when reported.
pub const RESTORED: &str = "restored.json";
/// Free space the data partition must keep after a snapshot.
pub const HEADROOM: u64 = 16 << 20;

/// What [`guard`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guarded {
    /// Trial boot: the data directory was copied.
    Snapshot { version: String, bytes: u64 },
    /// Trial boot, but no snapshot: why.
    Skipped { version: String, reason: String },
    /// After a rollback: the snapshot is the data directory again; the trial's is kept.
    Restored {
        version: String,
        trial_data: PathBuf,
    },
    /// Nothing to do.
    Nothing,
}

/// The marker a restore leaves for the rollback report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restored {
    pub version: String,
    pub trial_data: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> AgentError + '_ {
    move |source| AgentError::Status {
        path: path.to_owned(),
        source,
    }
}

/// Decides and does what the boot needs for the data directory `data`; see the module docs.
pub fn guard(layout: &Layout, running: Slot, data: &Path) -> Result<Guarded, AgentError> {
    let env = Env::read(&layout.env)?;
    let status = &layout.status_dir;
    let snap = status.join(SNAPSHOT);
    let version = env.get("pending_version").to_owned();
    if !env.get("rollback_reason").is_empty() {
        if !snap.join("edge").is_dir() {
            return Ok(Guarded::Nothing);
        }
        return restore(status, &snap, data, &version);
    }
    if env.get("pending_slot") == running.name() && env.get("boot_tries") == "1" {
        return take(status, &snap, data, &version);
    }
    if env.get("pending_slot").is_empty() {
        discard(status)?;
    }
    Ok(Guarded::Nothing)
}

/// Removes a snapshot that is no longer needed (the update committed).
pub fn discard(status: &Path) -> Result<(), AgentError> {
    for name in [SNAPSHOT.to_owned(), format!("{SNAPSHOT}.tmp")] {
        let p = status.join(name);
        if p.exists() {
            fs::remove_dir_all(&p).map_err(io_err(&p))?;
        }
    }
    Ok(())
}

fn take(status: &Path, snap: &Path, data: &Path, version: &str) -> Result<Guarded, AgentError> {
    discard(status)?;
    if !data.is_dir() {
        return Ok(Guarded::Skipped {
            version: version.to_owned(),
            reason: format!("{} does not exist", data.display()),
        });
    }
    let bytes = tree_size(data).map_err(io_err(data))?;
    let free = free_bytes(status).map_err(io_err(status))?;
    if bytes + HEADROOM > free {
        return Ok(Guarded::Skipped {
            version: version.to_owned(),
            reason: format!(
                "{} holds {bytes} bytes, the data partition has {free} free \
                 ({HEADROOM} must stay free)",
                data.display()
            ),
        });
    }
    let tmp = status.join(format!("{SNAPSHOT}.tmp"));
    fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
    copy_tree(data, &tmp.join("edge")).map_err(io_err(data))?;
    let vfile = tmp.join("version");
    fs::write(&vfile, format!("{version}\n")).map_err(io_err(&vfile))?;
    fs::rename(&tmp, snap).map_err(io_err(snap))?;
    sync_dir(status).map_err(io_err(status))?;
    Ok(Guarded::Snapshot {
        version: version.to_owned(),
        bytes,
    })
}

fn restore(status: &Path, snap: &Path, data: &Path, version: &str) -> Result<Guarded, AgentError> {
    let name = if version.is_empty() {
        "unknown"
    } else {
        version
    };
    let mut trial = status.join(format!("trial-data-{name}"));
    let mut n = 1;
    while trial.exists() {
        n += 1;
        trial = status.join(format!("trial-data-{name}.{n}"));
    }
    let mpath = status.join(RESTORED);
    if data.exists() {
        // The marker first: a restore cut short after the rename below finds it next boot.
        let marker = Restored {
            version: version.to_owned(),
            trial_data: trial.clone(),
        };
        let text = serde_json::to_string(&marker).unwrap_or_default();
        fs::write(&mpath, format!("{text}\n")).map_err(io_err(&mpath))?;
        sync_dir(status).map_err(io_err(status))?;
        fs::rename(data, &trial).map_err(io_err(data))?;
    } else if let Some(r) = fs::read_to_string(&mpath)
        .ok()
        .and_then(|t| serde_json::from_str::<Restored>(&t).ok())
    {
        trial = r.trial_data;
    }
    fs::rename(snap.join("edge"), data).map_err(io_err(data))?;
    fs::remove_dir_all(snap).map_err(io_err(snap))?;
    if let Some(parent) = data.parent() {
        sync_dir(parent).map_err(io_err(parent))?;
    }
    sync_dir(status).map_err(io_err(status))?;
    Ok(Guarded::Restored {
        version: version.to_owned(),
        trial_data: trial,
    })
}

/// Takes the restore marker, if any, for the rollback report.
pub fn take_restored(status: &Path) -> Option<Restored> {
    let path = status.join(RESTORED);
    let r = serde_json::from_str(&fs::read_to_string(&path).ok()?).ok();
    let _ = fs::remove_file(&path);
    r
}

/// Bytes in the regular files under `dir`.
fn tree_size(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.path().symlink_metadata()?;
        if meta.is_dir() {
            total += tree_size(&entry.path())?;
        } else if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
}

fn free_bytes(dir: &Path) -> io::Result<u64> {
    fs::create_dir_all(dir)?;
    let st = rustix::fs::statvfs(dir).map_err(io::Error::from)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Copies `from` to `to` (which must not exist): directories, regular files (synced) and
/// symbolic links, with modes and owners; sockets and the like (the admin socket) are left out.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    let meta = from.symlink_metadata()?;
    fs::create_dir(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let m = src.symlink_metadata()?;
        if m.is_dir() {
            copy_tree(&src, &dst)?;
        } else if m.is_file() {
            fs::copy(&src, &dst)?;
            fs::File::open(&dst)?.sync_all()?;
            own(&dst, &m)?;
        } else if m.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
            own(&dst, &m)?;
        }
    }
    fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    own(to, &meta)?;
    sync_dir(to)
}

/// Gives `path` the owner of `like` (only root can; others keep their own).
fn own(path: &Path, like: &fs::Metadata) -> io::Result<()> {
    match lchown(path, Some(like.uid()), Some(like.gid())) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(()),
        other => other,
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_keeps_modes_and_owners_and_leaves_sockets_out() {
        let t = tempfile::tempdir().unwrap();
        let from = t.path().join("edge");
        fs::create_dir_all(from.join("sled/blobs")).unwrap();
        fs::write(from.join("sled/db"), b"db").unwrap();
        fs::write(from.join("sled/blobs/1"), b"blob").unwrap();
        fs::set_permissions(from.join("sled/db"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(&from, fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink("sled/db", from.join("link")).unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(from.join("admin.sock")).unwrap();
        let root = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) == 0;
        if root {
            lchown(from.join("sled/db"), Some(990), Some(990)).unwrap();
        }
        let to = t.path().join("copy");
        copy_tree(&from, &to).unwrap();
        assert_eq!(fs::read(to.join("sled/blobs/1")).unwrap(), b"blob");
        assert_eq!(
            fs::read_link(to.join("link")).unwrap(),
            Path::new("sled/db")
        );
        assert!(!to.join("admin.sock").exists(), "sockets are not copied");
        let db = fs::metadata(to.join("sled/db")).unwrap();
        assert_eq!(db.mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&to).unwrap().mode() & 0o777, 0o700);
        if root {
            assert_eq!((db.uid(), db.gid()), (990, 990), "owner kept");
        }
        assert_eq!(tree_size(&from).unwrap(), 6);
    }

    #[test]
    fn no_snapshot_without_room_and_the_reason_says_so() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("edge");
        fs::create_dir_all(&data).unwrap();
        let free = free_bytes(t.path()).unwrap();
        // A sparse file as large as the free space: the copy would not fit.
        fs::File::create(data.join("big"))
            .unwrap()
            .set_len(free)
            .unwrap();
        let status = t.path().join("update");
        let g = take(&status, &status.join(SNAPSHOT), &data, "2.0.0").unwrap();
        match g {
            Guarded::Skipped { version, reason } => {
                assert_eq!(version, "2.0.0");
                assert!(reason.contains("free"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!status.join(SNAPSHOT).exists());
        assert!(!status.join(format!("{SNAPSHOT}.tmp")).exists());
    }
}
