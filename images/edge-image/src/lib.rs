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
//! - [`flash`]: writes an image to a block device or a file with a progress bar and verifies
//!   it by reading it back; refuses a target that is mounted (or has a mounted partition).
//! - [`provision`]: checks a technician's provisioning file (store id, broker, credentials,
//!   certificates, devices) and writes it into a data partition's `config/` directory as a
//!   daemon drop-in plus the files its `mqtt.security` names; on the box, checks at every boot
//!   what the daemon will load, sets a wrong drop-in aside and writes a status file that the
//!   daemon's health endpoint shows.
//!
//! # Current limitations
//! - Transitions are reported to the journal, `status.json` and `events.jsonl` on the data
//!   partition; publishing them over MQTT is the cloud bridge's job and is not wired yet.
//! - The health check is plain HTTP to the daemon's `/v1/health`; "store opened and migrated,
//!   LAN API serving" is what that endpoint answering 200 with `"status":"ok"` means today.
//! - The daemon's data is not snapshotted before an update: a rollback relies on the store
//!   format staying backward-readable across one version.
//! - Only raw root images are carried (no deltas, no compression); the bundle is as large as
//!   the slot's file system.

pub mod agent;
pub mod bundle;
pub mod flash;
pub mod grubenv;
pub mod keys;
pub mod provision;

use std::io::{self, Read};

use sha2::{Digest, Sha256};

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
