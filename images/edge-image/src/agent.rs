//! The update agent: install a verified bundle into the inactive slot, and on every boot commit
//! or abandon a pending update.
//!
//! State machine (variables in GRUB's environment, see [`crate::grubenv`]):
//! 1. `install`: disarm any armed update (`pending_slot=""`) *before* writing, write the root
//!    image into the slot not running, read it back and compare its hash, then arm it:
//!    `pending_slot=X boot_tries=0`.
//! 2. GRUB, next boot: pending and `boot_tries=0` → `boot_tries=1`, boot X. Pending and
//!    `boot_tries=1` (X was booted and never committed: crash, hang, power cut) → clear
//!    `pending_slot`, set `rollback_reason`, boot `active_slot`. No update pending → boot
//!    `active_slot`; ordinary power cuts never count.
//! 3. `boot_check` on X: healthy before the deadline → `active_slot=X`, pending cleared
//!    (committed). Not healthy → pending cleared, `rollback_reason` set, reboot into the old
//!    slot. On the old slot, `boot_check` finds `rollback_reason`, reports it and clears it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::bundle::Verified;
use crate::grubenv::{Env, EnvError};
use crate::{drop_cached, open_for_writing, read_back, Phase};

/// A root slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    A,
    B,
}

impl Slot {
    /// The name GRUB's environment and the kernel command line use.
    pub fn name(self) -> &'static str {
        match self {
            Slot::A => "a",
            Slot::B => "b",
        }
    }

    /// The other slot.
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    fn parse(s: &str) -> Option<Slot> {
        match s {
            "a" => Some(Slot::A),
            "b" => Some(Slot::B),
            _ => None,
        }
    }

    /// The slot named by `edge.slot=` on a kernel command line.
    pub fn from_cmdline(cmdline: &str) -> Option<Slot> {
        cmdline
            .split_whitespace()
            .find_map(|w| w.strip_prefix("edge.slot="))
            .and_then(Slot::parse)
    }
}

/// Where the agent finds the boot environment, the slots and its status directory.
#[derive(Debug, Clone)]
pub struct Layout {
    pub env: PathBuf,
    pub slot_a: PathBuf,
    pub slot_b: PathBuf,
    pub status_dir: PathBuf,
}

impl Layout {
    /// The device (or file) of a slot.
    pub fn slot_path(&self, slot: Slot) -> &Path {
        match slot {
            Slot::A => &self.slot_a,
            Slot::B => &self.slot_b,
        }
    }
}

/// One reported state transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Transition {
    /// A bundle was written to `slot`, read back and armed for one boot.
    Armed { slot: Slot, version: String },
    /// The pending update in `slot` is healthy and now the active slot.
    Committed { slot: Slot, version: String },
    /// The pending update was abandoned on its trial boot; the box reboots into the old slot.
    RollingBack {
        slot: Slot,
        version: String,
        reason: String,
    },
    /// The box is back on its old slot after an update failed; `reason` says why.
    RolledBack {
        slot: Slot,
        version: String,
        reason: String,
        /// Set when the data directory was restored from the snapshot taken before the trial
        /// boot: the trial's own data directory, kept here with whatever was written during
        /// the trial (sales included), for recovery. See [`crate::snapshot`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trial_data: Option<PathBuf>,
    },
    /// Nothing pending; running the committed slot.
    Running { slot: Slot },
    /// A bundle was refused (signature, manifest, hash, slot); nothing was armed.
    Refused { reason: String },
}

/// What went wrong in the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error("cannot tell which slot is running: no edge.slot=a|b on the kernel command line")]
    UnknownSlot,
    #[error(
        "an update in slot {pending} is on trial (running {running}, committed {active}); \
         wait for it to commit or roll back"
    )]
    Trial {
        pending: String,
        running: &'static str,
        active: String,
    },
    #[error("slot {slot} ({path}) holds {capacity} bytes, the root image needs {needed}")]
    TooSmall {
        slot: &'static str,
        path: PathBuf,
        capacity: u64,
        needed: u64,
    },
    #[error("cannot write slot {slot} ({path}): {source}")]
    Write {
        slot: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("the root image changed while it was written (now {found}, verified {expected})")]
    SourceChanged { found: String, expected: String },
    #[error("read-back of slot {slot} gives SHA-256 {found}, expected {expected}; not armed")]
    ReadBack {
        slot: &'static str,
        found: String,
        expected: String,
    },
    #[error("version {0} is already running; nothing to install")]
    AlreadyRunning(String),
    #[error("version {0} was rolled back on this box before; it is not installed again")]
    RolledBackBefore(String),
    #[error("cannot record the update status in {path}: {source}")]
    Status { path: PathBuf, source: io::Error },
}

/// Appends transitions to `events.jsonl` and keeps the latest in `status.json`.
#[derive(Debug, Clone)]
pub struct Reporter {
    dir: PathBuf,
}

/// A transition with its time, as written to the status files.
#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    pub unix_time: u64,
    #[serde(flatten)]
    pub transition: Transition,
}

impl Reporter {
    pub fn new(dir: &Path) -> Reporter {
        Reporter {
            dir: dir.to_owned(),
        }
    }

    /// Records one transition (and prints it for the journal).
    pub fn report(&self, transition: &Transition) -> Result<(), AgentError> {
        let status = |path: PathBuf| move |source| AgentError::Status { path, source };
        let record = Record {
            unix_time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            transition: transition.clone(),
        };
        let line = serde_json::to_string(&record).unwrap_or_default();
        println!("edge-update: {line}");
        fs::create_dir_all(&self.dir).map_err(status(self.dir.clone()))?;
        let events = self.dir.join("events.jsonl");
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&events)
            .map_err(status(events.clone()))?;
        writeln!(f, "{line}").map_err(status(events.clone()))?;
        f.sync_all().map_err(status(events))?;
        let latest = self.dir.join("status.json");
        let tmp = self.dir.join("status.json.tmp");
        fs::write(&tmp, format!("{line}\n")).map_err(status(tmp.clone()))?;
        fs::rename(&tmp, &latest).map_err(status(latest))?;
        Ok(())
    }

    /// Every recorded transition, oldest first.
    pub fn history(&self) -> Vec<Record> {
        fs::read_to_string(self.dir.join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

fn capacity(path: &Path, f: &mut File) -> io::Result<Option<u64>> {
    use std::os::unix::fs::FileTypeExt;
    if fs::metadata(path)?.file_type().is_block_device() {
        let end = f.seek(SeekFrom::End(0))?;
        f.seek(SeekFrom::Start(0))?;
        Ok(Some(end))
    } else {
        Ok(None)
    }
}

/// Writes a verified bundle into the slot not running and arms it for one boot.
pub fn install(
    bundle: &Verified,
    layout: &Layout,
    running: Slot,
    reporter: &Reporter,
    mut progress: impl FnMut(Phase, u64),
) -> Result<Slot, AgentError> {
    let mut env = Env::read(&layout.env)?;
    let active = Slot::parse(env.get("active_slot")).unwrap_or(Slot::A);
    if running != active {
        return Err(AgentError::Trial {
            pending: env.get("pending_slot").to_owned(),
            running: running.name(),
            active: active.name().to_owned(),
        });
    }
    let target = running.other();
    // Disarm first: a half-written slot must never be booted.
    env.set("pending_slot", "")?;
    env.set("boot_tries", "0")?;
    env.write(&layout.env)?;

    let entry = &bundle.manifest.rootfs;
    let src_path = bundle.rootfs_path();
    let dst_path = layout.slot_path(target);
    let slot = target.name();
    let write_err = |source| AgentError::Write {
        slot,
        path: dst_path.to_owned(),
        source,
    };
    // O_EXCL on a block device: the kernel refuses a slot that is mounted or held.
    let is_block = fs::metadata(dst_path)
        .map(|m| std::os::unix::fs::FileTypeExt::is_block_device(&m.file_type()))
        .map_err(write_err)?;
    let mut dst = open_for_writing(dst_path, is_block).map_err(write_err)?;
    if let Some(cap) = capacity(dst_path, &mut dst).map_err(write_err)? {
        if cap < entry.size {
            return Err(AgentError::TooSmall {
                slot,
                path: dst_path.to_owned(),
                capacity: cap,
                needed: entry.size,
            });
        }
    }
    // Hash what is written: the bundle was verified, but the file could change underneath.
    let written = copy_hashing(&src_path, &mut dst, entry.size, &mut |n| {
        progress(Phase::Write, n)
    })
    .map_err(write_err)?;
    if written != entry.sha256 {
        return Err(AgentError::SourceChanged {
            found: written,
            expected: entry.sha256.clone(),
        });
    }
    dst.sync_all().map_err(write_err)?;
    // The read-back must come from the device, not from the pages the write left cached.
    drop_cached(&dst).map_err(write_err)?;
    drop(dst);

    let (_, found) =
        read_back(dst_path, entry.size, |n| progress(Phase::ReadBack, n)).map_err(|source| {
            AgentError::Read {
                path: dst_path.to_owned(),
                source,
            }
        })?;
    if found != entry.sha256 {
        return Err(AgentError::ReadBack {
            slot,
            found,
            expected: entry.sha256.clone(),
        });
    }

    env.set("pending_slot", slot)?;
    env.set("pending_version", &bundle.manifest.version)?;
    env.set("boot_tries", "0")?;
    env.set("rollback_reason", "")?;
    env.write(&layout.env)?;
    reporter.report(&Transition::Armed {
        slot: target,
        version: bundle.manifest.version.clone(),
    })?;
    Ok(target)
}

/// Copies `len` bytes of `src` to the start of `dst`, returning the hex SHA-256 of what went.
fn copy_hashing(
    src: &Path,
    dst: &mut File,
    len: u64,
    progress: &mut dyn FnMut(u64),
) -> io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = File::open(src)?.take(len);
    dst.seek(SeekFrom::Start(0))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n])?;
        progress(n as u64);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Decides, on a boot, what to do about a pending update. `healthy` is asked until it says
/// yes or `deadline` passes. Returns the transition; the caller reboots on `RollingBack`.
pub fn boot_check(
    layout: &Layout,
    running: Slot,
    reporter: &Reporter,
    deadline: Duration,
    poll: Duration,
    mut healthy: impl FnMut() -> Result<(), String>,
) -> Result<Transition, AgentError> {
    let mut env = Env::read(&layout.env)?;
    let reason = env.get("rollback_reason").to_owned();
    if !reason.is_empty() {
        let version = env.get("pending_version").to_owned();
        reject_version(&layout.status_dir, &version)?;
        env.set("rollback_reason", "")?;
        env.set("pending_version", "")?;
        env.write(&layout.env)?;
        let t = Transition::RolledBack {
            slot: running,
            version,
            reason,
            trial_data: crate::snapshot::take_restored(&layout.status_dir).map(|r| r.trial_data),
        };
        reporter.report(&t)?;
        return Ok(t);
    }
    if env.get("pending_slot") != running.name() {
        let t = Transition::Running { slot: running };
        reporter.report(&t)?;
        return Ok(t);
    }
    let version = env.get("pending_version").to_owned();
    let start = Instant::now();
    let mut last;
    loop {
        match healthy() {
            Ok(()) => {
                env.set("active_slot", running.name())?;
                env.set("pending_slot", "")?;
                env.set("pending_version", "")?;
                env.set("boot_tries", "0")?;
                env.write(&layout.env)?;
                // The pre-update snapshot of the data is not needed any more.
                crate::snapshot::discard(&layout.status_dir)?;
                let t = Transition::Committed {
                    slot: running,
                    version,
                };
                reporter.report(&t)?;
                return Ok(t);
            }
            Err(e) => last = e,
        }
        if start.elapsed() >= deadline {
            break;
        }
        std::thread::sleep(poll.min(deadline.saturating_sub(start.elapsed())));
    }
    let reason = format!(
        "version {version:?} in slot {} not healthy within {} s: {last}",
        running.name(),
        deadline.as_secs()
    );
    reject_version(&layout.status_dir, &version)?;
    env.set("pending_slot", "")?;
    env.set("boot_tries", "0")?;
    env.set("rollback_reason", &reason)?;
    env.write(&layout.env)?;
    let t = Transition::RollingBack {
        slot: running,
        version,
        reason,
    };
    reporter.report(&t)?;
    Ok(t)
}

/// The file listing versions that were rolled back, one a line; they are not installed again.
pub const REJECTED: &str = "rejected-versions";

fn reject_version(status_dir: &Path, version: &str) -> Result<(), AgentError> {
    if version.is_empty() || rejected(status_dir).iter().any(|v| v == version) {
        return Ok(());
    }
    let path = status_dir.join(REJECTED);
    let err = |source| AgentError::Status {
        path: path.clone(),
        source,
    };
    fs::create_dir_all(status_dir).map_err(err)?;
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(err)?;
    writeln!(f, "{version}").map_err(err)?;
    f.sync_all().map_err(err)
}

fn rejected(status_dir: &Path) -> Vec<String> {
    fs::read_to_string(status_dir.join(REJECTED))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Refuses a version the box already runs or once rolled back (no update loops).
pub fn check_wanted(
    version: &str,
    running_version: Option<&str>,
    status_dir: &Path,
) -> Result<(), AgentError> {
    if running_version.map(str::trim) == Some(version) {
        return Err(AgentError::AlreadyRunning(version.to_owned()));
    }
    if rejected(status_dir).iter().any(|v| v == version) {
        return Err(AgentError::RolledBackBefore(version.to_owned()));
    }
    Ok(())
}

/// Asks the daemon's `GET /v1/health` over plain HTTP: healthy is 200 with `"status":"ok"`.
pub fn http_health(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET /v1/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("{addr}: {e}"))?;
    let mut reply = String::new();
    s.take(64 * 1024)
        .read_to_string(&mut reply)
        .map_err(|e| format!("{addr}: {e}"))?;
    let status = reply.lines().next().unwrap_or("");
    let body_ok = reply.contains("\"status\":\"ok\"");
    if status.split_whitespace().nth(1) == Some("200") && body_ok {
        Ok(())
    } else {
        Err(format!("health answered {status:?}"))
    }
}

/// Verifies a bundle with the trusted key and only then installs it.
pub fn verify_and_install(
    dir: &Path,
    key: &ed25519_dalek::VerifyingKey,
    compatible: &str,
    layout: &Layout,
    running: Slot,
    reporter: &Reporter,
    progress: impl FnMut(Phase, u64),
) -> Result<(Verified, Slot), InstallError> {
    let verified = crate::bundle::verify(dir, key, compatible)?;
    let slot = install(&verified, layout, running, reporter, progress)?;
    Ok((verified, slot))
}

/// A refused bundle or a failed installation.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Bundle(#[from] crate::bundle::BundleError),
    #[error(transparent)]
    Agent(#[from] AgentError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{self, COMPATIBLE_X86_64};
    use ed25519_dalek::SigningKey;

    struct Box_ {
        _t: tempfile::TempDir,
        layout: Layout,
        reporter: Reporter,
        bundle: PathBuf,
        key: SigningKey,
    }

    const OLD: u8 = 0xAA;

    fn new_box() -> Box_ {
        let t = tempfile::tempdir().unwrap();
        let p = t.path();
        let layout = Layout {
            env: p.join("grubenv"),
            slot_a: p.join("slot-a"),
            slot_b: p.join("slot-b"),
            status_dir: p.join("update"),
        };
        let mut env = Env::default();
        env.set("active_slot", "a").unwrap();
        env.set("pending_slot", "").unwrap();
        env.set("boot_tries", "0").unwrap();
        env.write(&layout.env).unwrap();
        fs::write(&layout.slot_a, vec![OLD; 300_000]).unwrap();
        fs::write(&layout.slot_b, vec![OLD; 300_000]).unwrap();
        let root = p.join("new-root.img");
        let new_root: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        fs::write(&root, &new_root).unwrap();
        let key = SigningKey::from_bytes(&[9; 32]);
        let bundle = p.join("bundle");
        bundle::create(&root, "2.0.0", COMPATIBLE_X86_64, &key, &bundle).unwrap();
        let reporter = Reporter::new(&layout.status_dir);
        Box_ {
            _t: t,
            layout,
            reporter,
            bundle,
            key,
        }
    }

    fn install_it(b: &Box_) -> Result<Slot, InstallError> {
        install_watching(b, |_, _| {})
    }

    fn install_watching(b: &Box_, progress: impl FnMut(Phase, u64)) -> Result<Slot, InstallError> {
        verify_and_install(
            &b.bundle,
            &b.key.verifying_key(),
            COMPATIBLE_X86_64,
            &b.layout,
            Slot::A,
            &b.reporter,
            progress,
        )
        .map(|(_, s)| s)
    }

    fn check(
        b: &Box_,
        running: Slot,
        deadline_ms: u64,
        healthy: impl FnMut() -> Result<(), String>,
    ) -> Transition {
        let deadline = Duration::from_millis(deadline_ms);
        let poll = Duration::from_millis(5);
        boot_check(&b.layout, running, &b.reporter, deadline, poll, healthy).unwrap()
    }

    fn env(b: &Box_) -> Env {
        Env::read(&b.layout.env).unwrap()
    }

    /// What grub.cfg does at boot, for the tests: returns the slot booted.
    fn grub_boot(b: &Box_) -> Slot {
        let mut e = env(b);
        let mut slot = Slot::parse(e.get("active_slot")).unwrap();
        if let Some(p) = Slot::parse(e.get("pending_slot")) {
            if e.get("boot_tries") == "0" {
                e.set("boot_tries", "1").unwrap();
                slot = p;
            } else {
                let reason = format!("slot {} was booted once and never committed", p.name());
                e.set("rollback_reason", &reason).unwrap();
                e.set("pending_slot", "").unwrap();
                e.set("boot_tries", "0").unwrap();
            }
            e.write(&b.layout.env).unwrap();
        }
        slot
    }

    #[test]
    fn slot_from_the_kernel_command_line() {
        assert_eq!(Slot::from_cmdline("ro quiet edge.slot=b x"), Some(Slot::B));
        assert_eq!(Slot::from_cmdline("ro edge.slot=c"), None);
        assert_eq!(Slot::from_cmdline("ro"), None);
    }

    #[test]
    fn a_tampered_bundle_is_refused_before_anything_is_written() {
        let b = new_box();
        let env_before = fs::read(&b.layout.env).unwrap();
        let mut root = fs::read(b.bundle.join(bundle::ROOTFS)).unwrap();
        root[123] ^= 0xFF;
        fs::write(b.bundle.join(bundle::ROOTFS), &root).unwrap();
        let err = install_it(&b).unwrap_err();
        assert!(err.to_string().contains("SHA-256"), "{err}");
        assert_eq!(fs::read(&b.layout.slot_b).unwrap(), vec![OLD; 300_000]);
        assert_eq!(fs::read(&b.layout.env).unwrap(), env_before);
        assert!(b.reporter.history().is_empty());
    }

    #[test]
    fn a_bundle_signed_by_another_key_is_refused_before_anything_is_written() {
        let mut b = new_box();
        b.key = SigningKey::from_bytes(&[10; 32]);
        let err = install_it(&b).unwrap_err();
        assert!(err.to_string().contains("signature"), "{err}");
        assert_eq!(fs::read(&b.layout.slot_b).unwrap(), vec![OLD; 300_000]);
    }

    #[test]
    fn install_reports_progress_of_the_write_and_of_the_read_back() {
        let b = new_box();
        let mut seen = [0u64; 2];
        install_watching(&b, |phase, n| {
            seen[(phase == Phase::ReadBack) as usize] += n
        })
        .unwrap();
        assert_eq!(seen, [200_000, 200_000], "[written, read back]");
    }

    #[test]
    fn a_good_update_is_booted_once_and_committed_when_healthy() {
        let b = new_box();
        assert_eq!(install_it(&b).unwrap(), Slot::B);
        let slot_b = fs::read(&b.layout.slot_b).unwrap();
        assert_eq!(
            &slot_b[..200_000],
            &fs::read(b.bundle.join(bundle::ROOTFS)).unwrap()[..]
        );
        assert_eq!(
            env(&b).get("active_slot"),
            "a",
            "not committed before it ran"
        );
        assert_eq!(grub_boot(&b), Slot::B);
        let t = check(&b, Slot::B, 5000, || Ok(()));
        assert!(
            matches!(t, Transition::Committed { slot: Slot::B, .. }),
            "{t:?}"
        );
        assert_eq!(env(&b).get("active_slot"), "b");
        // A power cut afterwards boots b again, and again: boots are not counted.
        assert_eq!(grub_boot(&b), Slot::B);
        assert_eq!(grub_boot(&b), Slot::B);
        let states: Vec<_> = b
            .reporter
            .history()
            .into_iter()
            .map(|r| r.transition)
            .collect();
        assert!(matches!(states[0], Transition::Armed { slot: Slot::B, .. }));
        assert!(matches!(
            states[1],
            Transition::Committed { slot: Slot::B, .. }
        ));
    }

    #[test]
    fn an_unhealthy_update_rolls_back_and_says_why() {
        let b = new_box();
        install_it(&b).unwrap();
        assert_eq!(grub_boot(&b), Slot::B);
        let mut asked = 0;
        let t = check(&b, Slot::B, 30, || {
            asked += 1;
            Err("connection refused".into())
        });
        assert!(asked >= 2, "asked until the deadline");
        assert!(matches!(t, Transition::RollingBack { .. }), "{t:?}");
        assert_eq!(
            grub_boot(&b),
            Slot::A,
            "the reboot goes back to the old slot"
        );
        let t = check(&b, Slot::A, 1000, || Ok(()));
        match t {
            Transition::RolledBack {
                slot,
                reason,
                version,
                trial_data,
            } => {
                assert_eq!(trial_data, None, "no snapshot was taken");
                assert_eq!(version, "2.0.0");
                assert_eq!(slot, Slot::A);
                assert!(reason.contains("connection refused"), "{reason}");
                assert!(reason.contains("2.0.0"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(env(&b).get("active_slot"), "a");
        assert_eq!(env(&b).get("rollback_reason"), "", "reported once");
    }

    #[test]
    fn a_crash_during_the_trial_boot_rolls_back_in_grub() {
        let b = new_box();
        install_it(&b).unwrap();
        assert_eq!(grub_boot(&b), Slot::B);
        // The box dies before boot_check commits; GRUB falls back by itself.
        assert_eq!(grub_boot(&b), Slot::A);
        let t = check(&b, Slot::A, 1000, || Ok(()));
        let reason = match &t {
            Transition::RolledBack { reason, .. } => reason.as_str(),
            _ => "",
        };
        assert!(reason.contains("never committed"), "{t:?}");
    }

    #[test]
    fn no_install_while_an_update_is_on_trial() {
        let b = new_box();
        install_it(&b).unwrap();
        assert_eq!(grub_boot(&b), Slot::B);
        let err = verify_and_install(
            &b.bundle,
            &b.key.verifying_key(),
            COMPATIBLE_X86_64,
            &b.layout,
            Slot::B,
            &b.reporter,
            |_, _| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("on trial"), "{err}");
    }

    #[test]
    fn a_rolled_back_or_running_version_is_not_installed_again() {
        let b = new_box();
        install_it(&b).unwrap();
        grub_boot(&b);
        check(&b, Slot::B, 10, || Err("down".into()));
        let err = check_wanted("2.0.0", Some("1.0.0"), &b.layout.status_dir).unwrap_err();
        assert!(matches!(err, AgentError::RolledBackBefore(_)), "{err}");
        let err = check_wanted("1.0.0", Some("1.0.0\n"), &b.layout.status_dir).unwrap_err();
        assert!(matches!(err, AgentError::AlreadyRunning(_)), "{err}");
        check_wanted("3.0.0", Some("1.0.0"), &b.layout.status_dir).unwrap();
    }

    /// The daemon's data directory of a test box, with a "store" file and a sales log.
    fn data_dir(b: &Box_) -> PathBuf {
        let d = b.layout.status_dir.parent().unwrap().join("edge");
        fs::create_dir_all(d.join("sled")).unwrap();
        fs::write(d.join("sled/db"), b"format 1; sales 1-10").unwrap();
        d
    }

    /// The boot after a rollback puts the snapshot back and keeps the trial's data in `trial`.
    fn restores(b: &Box_, data: &Path, trial: &Path, trial_db: &[u8]) {
        use crate::snapshot::{guard, Guarded, SNAPSHOT};
        let g = guard(&b.layout, Slot::A, data).unwrap();
        let want = Guarded::Restored {
            version: "2.0.0".into(),
            trial_data: trial.to_owned(),
        };
        assert_eq!(g, want);
        let db = fs::read(data.join("sled/db")).unwrap();
        assert_eq!(db, b"format 1; sales 1-10", "the snapshot is back");
        let kept = fs::read(trial.join("sled/db")).unwrap();
        assert_eq!(kept, trial_db, "the trial's data, sales included, is kept");
        assert!(!b.layout.status_dir.join(SNAPSHOT).exists());
    }

    #[test]
    fn a_rollback_restores_the_data_snapshot_and_keeps_the_trials_data() {
        use crate::snapshot::{guard, Guarded};
        let b = new_box();
        let data = data_dir(&b);
        install_it(&b).unwrap();
        // The old slot's next boot after arming is the trial: nothing to do before it.
        assert_eq!(guard(&b.layout, Slot::A, &data).unwrap(), Guarded::Nothing);
        assert_eq!(grub_boot(&b), Slot::B);
        let g = guard(&b.layout, Slot::B, &data).unwrap();
        assert_eq!(
            g,
            Guarded::Snapshot {
                version: "2.0.0".into(),
                bytes: 20
            }
        );
        // The new daemon migrates the store and sells during the trial, then never gets healthy.
        fs::write(data.join("sled/db"), b"format 2; sales 1-12").unwrap();
        check(&b, Slot::B, 10, || Err("down".into()));
        assert_eq!(grub_boot(&b), Slot::A);
        let trial = b.layout.status_dir.join("trial-data-2.0.0");
        restores(&b, &data, &trial, b"format 2; sales 1-12");
        match check(&b, Slot::A, 1000, || Ok(())) {
            Transition::RolledBack { trial_data, .. } => assert_eq!(trial_data, Some(trial)),
            other => panic!("{other:?}"),
        }
        let last = b.reporter.history().pop().unwrap();
        let line = serde_json::to_string(&last).unwrap();
        assert!(line.contains("\"trial_data\":"), "reported: {line}");
        // Later boots leave the data alone.
        assert_eq!(guard(&b.layout, Slot::A, &data).unwrap(), Guarded::Nothing);
        assert_eq!(
            fs::read(data.join("sled/db")).unwrap(),
            b"format 1; sales 1-10"
        );
    }

    #[test]
    fn a_grub_rollback_after_a_crash_restores_too_and_a_cut_restore_finishes() {
        use crate::snapshot::{guard, RESTORED};
        let b = new_box();
        let data = data_dir(&b);
        install_it(&b).unwrap();
        grub_boot(&b);
        guard(&b.layout, Slot::B, &data).unwrap();
        fs::write(data.join("sled/db"), b"format 2").unwrap();
        // Crash on the trial boot: GRUB rolls back by itself.
        assert_eq!(grub_boot(&b), Slot::A);
        // A power cut in the middle of the restore: the marker and the first rename are done.
        let status = &b.layout.status_dir;
        let trial = status.join("trial-data-2.0.0");
        let marker = format!(
            "{{\"version\":\"2.0.0\",\"trial_data\":{:?}}}",
            trial.to_str().unwrap()
        );
        fs::write(status.join(RESTORED), marker).unwrap();
        fs::rename(&data, &trial).unwrap();
        restores(&b, &data, &trial, b"format 2");
        let t = check(&b, Slot::A, 1000, || Ok(()));
        assert!(
            matches!(&t, Transition::RolledBack { trial_data: Some(p), .. } if *p == trial),
            "{t:?}"
        );
    }

    #[test]
    fn a_commit_discards_the_snapshot() {
        use crate::snapshot::{guard, SNAPSHOT};
        let b = new_box();
        let data = data_dir(&b);
        install_it(&b).unwrap();
        grub_boot(&b);
        guard(&b.layout, Slot::B, &data).unwrap();
        assert!(b
            .layout
            .status_dir
            .join(SNAPSHOT)
            .join("edge/sled/db")
            .exists());
        check(&b, Slot::B, 1000, || Ok(()));
        assert!(!b.layout.status_dir.join(SNAPSHOT).exists());
        fs::write(data.join("sled/db"), b"format 2; sales 1-20").unwrap();
        grub_boot(&b);
        guard(&b.layout, Slot::B, &data).unwrap();
        assert_eq!(
            fs::read(data.join("sled/db")).unwrap(),
            b"format 2; sales 1-20"
        );
    }
}
