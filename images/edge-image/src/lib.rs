//! Store-box images in the field: signed A/B update bundles and the update agent, flashing a
//! disk image with read-back verification, and provisioning a box's data partition.
//!
//! Layout:
//! - [`bundle`]: an update bundle is a directory with `manifest.json`, `manifest.sig` (ed25519
//!   over the manifest's exact bytes, hex) and `rootfs.ext4`; [`bundle::verify`] checks the
//!   signature, then the manifest, then the root image's size and SHA-256, before anything is
//!   written anywhere.
//! - [`keys`]: ed25519 key files (hex, one line).
//! - [`grubenv`]: GRUB's 1024-byte environment block, read and written the way `grub-editenv`
//!   does (in place, same size), holding the A/B state `active_slot`, `pending_slot`,
//!   `boot_tries`, `rollback_reason` that `images/recipe/grub.cfg` acts on.
//! - [`agent`]: `install` writes a verified bundle into the inactive slot, reads it back and
//!   arms a single boot of it; `boot_check` runs on every boot and commits the pending slot only
//!   when the daemon reports healthy before a deadline, otherwise disarms it and reboots into
//!   the old slot; it also reports a rollback that GRUB made by itself. A version already
//!   running or once rolled back is refused, so a bundle left in place cannot loop. Every
//!   transition (armed, committed, rolling back, rolled back, running, refused) is appended to a
//!   JSON-lines status log and written to a status file.
//! - [`snapshot`]: before an update's trial boot the daemon's data directory is copied; after a
//!   rollback the copy is put back and the trial's own data is kept aside for recovery.
//! - [`flash`]: writes an image to a block device or a file with a progress bar and verifies
//!   it by reading it back from the device (not the page cache); refuses a target that is
//!   mounted, has a mounted partition, is swap, is held by the kernel (`O_EXCL`) or is the disk
//!   the running system's root file system lives on.
//! - [`read_back`], [`drop_cached`], [`open_for_writing`]: what [`flash`] and
//!   [`agent::install`] share to write a device and verify it.
//! - [`provision`]: checks a technician's provisioning file (store id, broker, credentials,
//!   certificates, devices) and writes it into a data partition's `config/` directory as a
//!   daemon drop-in plus the files its `mqtt.security` names; on the box, checks at every boot
//!   what the daemon will load, sets a wrong drop-in aside and writes a status file that the
//!   daemon's health endpoint shows; while the box runs as the placeholder store, keeps that
//!   store's data apart from the data directory the real store will own.
//!
//! # Current limitations
//! - Transitions are reported to the journal, `status.json` and `events.jsonl` on the data
//!   partition; the daemon journals `events.jsonl` (`image.update_events`) for the cloud link,
//!   so they go out only while a daemon runs.
//! - The health check is plain HTTP to the daemon's `/v1/health`; "store opened and migrated,
//!   LAN API serving" is what that endpoint answering 200 with `"status":"ok"` means today.
//! - The data snapshot before a trial boot is a full copy of the data directory, skipped (and
//!   said so) when the data partition has no room for it; then a rollback relies on the store
//!   format staying backward-readable across one version. Only images with this agent take
//!   snapshots: the first update away from an older image has none.
//! - Only raw root images are carried (no deltas, no compression); the bundle is as large as
//!   the slot's file system.

pub mod agent;
pub mod bundle;
pub mod flash;
pub mod grubenv;
pub mod keys;
pub mod provision;
pub mod snapshot;

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Which part of a write-and-verify a progress callback is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Write,
    ReadBack,
}

impl Phase {
    /// What a progress bar says during this phase.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Write => "writing",
            Phase::ReadBack => "reading back",
        }
    }
}

/// Opens `path` for reading and writing. A block device is opened with `O_EXCL`, so the
/// kernel itself refuses (`EBUSY`) one that is mounted, holds a mounted partition, is swap, a
/// RAID or LVM member, or is held open exclusively by anyone else; a regular file is created
/// when absent.
pub fn open_for_writing(path: &Path, is_block: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(!is_block).truncate(false);
    if is_block {
        o.custom_flags(rustix::fs::OFlags::EXCL.bits() as i32);
    }
    o.open(path)
}

/// Drops the page-cache pages of `f` (synced first, so they are clean): the next read of
/// them comes from the device. The cache of a block device is shared by all its open files.
pub fn drop_cached(f: &File) -> io::Result<()> {
    rustix::fs::fadvise(f, 0, None, rustix::fs::Advice::DontNeed).map_err(io::Error::from)
}

/// Reads the first `len` bytes of `path` back from the device rather than from the page
/// cache, and returns (bytes read, hex SHA-256); `progress` gets each chunk's size. The pages
/// read are dropped again afterwards, so a 1 GiB read-back does not evict the box's cache.
pub fn read_back(path: &Path, len: u64, progress: impl FnMut(u64)) -> io::Result<(u64, String)> {
    let f = File::open(path)?;
    drop_cached(&f)?;
    let r = sha256_reader((&f).take(len), progress);
    let _ = drop_cached(&f);
    r
}

/// Streams `reader` to its end and returns (bytes read, lowercase hex SHA-256).
pub fn sha256_reader(
    mut reader: impl Read,
    mut on_chunk: impl FnMut(u64),
) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
        on_chunk(n as u64);
    }
    Ok((total, hex::encode(hasher.finalize())))
}
