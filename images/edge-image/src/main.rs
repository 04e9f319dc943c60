//! `edge-image`: the update agent on the box and the technician's flashing and provisioning
//! tool. See the library's documentation for the layout and its current limitations.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use edge_image::agent::{self, Layout, Reporter, Slot, Transition};
use edge_image::snapshot::{self, Guarded};
use edge_image::{bundle, flash, keys, provision, Phase};
use indicatif::{ProgressBar, ProgressStyle};

/// Store-box images: signed A/B updates, flashing and provisioning.
#[derive(Debug, Parser)]
#[command(name = "edge-image", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make an ed25519 key pair for signing bundles (the secret file is created mode 0600).
    Keygen {
        #[arg(long)]
        secret: PathBuf,
        #[arg(long)]
        public: PathBuf,
    },
    /// Make a signed update bundle from a root slot image (build.sh's rootfs.ext4).
    Bundle {
        #[arg(long)]
        rootfs: PathBuf,
        #[arg(long)]
        version: String,
        /// Secret key file from `keygen`.
        #[arg(long)]
        key: PathBuf,
        /// Output directory (created).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = bundle::COMPATIBLE_X86_64)]
        compatible: String,
    },
    /// Check a bundle's signature, manifest and hashes; writes nothing.
    Verify {
        #[arg(long)]
        bundle: PathBuf,
        #[arg(long, default_value = "/etc/edge/update.pub")]
        pubkey: PathBuf,
        #[arg(long, default_value = bundle::COMPATIBLE_X86_64)]
        compatible: String,
    },
    /// On the box: verify a bundle, write it to the inactive slot and arm one boot of it.
    Install {
        #[arg(long)]
        bundle: PathBuf,
        #[arg(long, default_value = "/etc/edge/update.pub")]
        pubkey: PathBuf,
        #[command(flatten)]
        box_: BoxPaths,
        /// Reboot into the new slot once it is armed.
        #[arg(long)]
        reboot: bool,
        /// The running image's version; a bundle of the same version is not installed.
        #[arg(long, default_value = "/etc/edge/image-version")]
        version_file: PathBuf,
    },
    /// On the box, at every boot: commit a pending update once the daemon is healthy, or roll
    /// it back; report a rollback GRUB made.
    BootCheck {
        #[command(flatten)]
        box_: BoxPaths,
        /// The daemon's LAN API address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        health: SocketAddr,
        /// How long a new slot has to become healthy.
        #[arg(long, env = "EDGE_UPDATE_DEADLINE_SECS", default_value_t = 300)]
        deadline_secs: u64,
        /// Do not reboot after deciding to roll back (for tests).
        #[arg(long)]
        no_reboot: bool,
    },
    /// Write a disk image to a block device or file, then verify it by reading it back.
    Flash {
        #[arg(long)]
        image: PathBuf,
        #[arg(long)]
        target: PathBuf,
    },
    /// Check a provisioning file and write it into a box's mounted data partition.
    Provision {
        /// The technician's provisioning file (TOML).
        #[arg(long)]
        file: PathBuf,
        /// Where the box's data partition is mounted.
        #[arg(long)]
        data_dir: PathBuf,
        /// Where the box itself mounts its data partition; the daemon's drop-in names the
        /// certificates and the password file by this path.
        #[arg(long, default_value = provision::BOX_DATA)]
        box_data_dir: PathBuf,
        /// Only check the file.
        #[arg(long)]
        check: bool,
    },
    /// On the box, every boot before the daemon: snapshot the daemon's data before an
    /// update's trial boot, put the snapshot back after a rollback (keeping the trial's data).
    DataGuard {
        #[command(flatten)]
        box_: BoxPaths,
        /// The daemon's data directory.
        #[arg(long, default_value = "/data/edge")]
        data: PathBuf,
    },
    /// On the box, every boot: check the provisioning the daemon will load (`edge-daemon
    /// config` plus the files it names), set a wrong drop-in aside so the daemon still starts,
    /// print one line and write the status JSON the daemon's health endpoint shows.
    ProvisionCheck {
        /// The daemon's configuration file.
        #[arg(long, default_value = "/etc/edge/edge.toml")]
        config: PathBuf,
        /// The data partition's configuration directory.
        #[arg(long, default_value = "/data/config")]
        config_dir: PathBuf,
        /// The status file (the daemon's `image.provisioning_status`).
        #[arg(long, default_value = "/run/edge/provisioning.json")]
        status: PathBuf,
        /// The daemon binary.
        #[arg(long, default_value = "/usr/bin/edge-daemon")]
        daemon: PathBuf,
        /// The daemon's data directory as the image configures it; an unprovisioned box
        /// keeps its data in `unprovisioned/` inside it.
        #[arg(long, default_value = "/data/edge")]
        data_dir: PathBuf,
    },
}

/// Where the box keeps its A/B state.
#[derive(Debug, clap::Args)]
struct BoxPaths {
    /// The boot partition's mount point (holds grub/grubenv).
    #[arg(long, default_value = "/boot/shared")]
    boot_dir: PathBuf,
    #[arg(long, default_value = "/dev/disk/by-partlabel/root-a")]
    slot_a: PathBuf,
    #[arg(long, default_value = "/dev/disk/by-partlabel/root-b")]
    slot_b: PathBuf,
    /// Status files: status.json (latest transition) and events.jsonl.
    #[arg(long, default_value = "/data/update")]
    status_dir: PathBuf,
    /// Where the running slot is read from (edge.slot=a|b).
    #[arg(long, default_value = "/proc/cmdline")]
    cmdline: PathBuf,
}

impl BoxPaths {
    fn layout(&self) -> Layout {
        Layout {
            env: self.boot_dir.join("grub/grubenv"),
            slot_a: self.slot_a.clone(),
            slot_b: self.slot_b.clone(),
            status_dir: self.status_dir.clone(),
        }
    }

    fn running(&self) -> Result<Slot, String> {
        let text = std::fs::read_to_string(&self.cmdline)
            .map_err(|e| format!("cannot read {}: {e}", self.cmdline.display()))?;
        Slot::from_cmdline(&text).ok_or_else(|| agent::AgentError::UnknownSlot.to_string())
    }
}

fn bar(total: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    pb.set_style(style);
    pb.set_message(what.to_owned());
    pb
}

fn run(cli: Cli) -> Result<(), String> {
    let s = |e: &dyn std::fmt::Display| e.to_string();
    match cli.command {
        Command::Keygen { secret, public } => {
            let key = keys::generate().map_err(|e| s(&e))?;
            keys::write_pair(&key, &secret, &public).map_err(|e| s(&e))?;
            println!("secret key {} (keep it off the boxes)", secret.display());
            println!(
                "public key {} (install as /etc/edge/update.pub)",
                public.display()
            );
        }
        Command::Bundle {
            rootfs,
            version,
            key,
            out,
            compatible,
        } => {
            let key = keys::read_signing(&key).map_err(|e| s(&e))?;
            let m =
                bundle::create(&rootfs, &version, &compatible, &key, &out).map_err(|e| s(&e))?;
            println!(
                "bundle {} version {} rootfs {} bytes sha256 {}",
                out.display(),
                m.version,
                m.rootfs.size,
                m.rootfs.sha256
            );
        }
        Command::Verify {
            bundle: dir,
            pubkey,
            compatible,
        } => {
            let key = keys::read_verifying(&pubkey).map_err(|e| s(&e))?;
            let v = bundle::verify(&dir, &key, &compatible).map_err(|e| s(&e))?;
            println!(
                "bundle {} OK: version {}",
                dir.display(),
                v.manifest.version
            );
        }
        Command::Install {
            bundle: dir,
            pubkey,
            box_,
            reboot,
            version_file,
        } => {
            let running = box_.running()?;
            let layout = box_.layout();
            let reporter = Reporter::new(&layout.status_dir);
            let refused = |reason: String| {
                // The refusal is a transition too; a failure to record it must not hide it.
                if let Err(e) = reporter.report(&Transition::Refused {
                    reason: reason.clone(),
                }) {
                    eprintln!("edge-image: {e}");
                }
                reason
            };
            let key = keys::read_verifying(&pubkey).map_err(|e| refused(s(&e)))?;
            // The signed manifest first (cheap), so that an unwanted version is not hashed.
            let manifest = bundle::verify_manifest(&dir, &key, bundle::COMPATIBLE_X86_64)
                .map_err(|e| refused(s(&e)))?;
            let running_version = std::fs::read_to_string(&version_file).ok();
            agent::check_wanted(
                &manifest.version,
                running_version.as_deref(),
                &layout.status_dir,
            )
            .map_err(|e| refused(s(&e)))?;
            let verified = bundle::verify(&dir, &key, bundle::COMPATIBLE_X86_64)
                .map_err(|e| refused(s(&e)))?;
            let pb = bar(verified.manifest.rootfs.size, "writing slot");
            let slot = agent::install(&verified, &layout, running, &reporter, |phase, n| {
                if phase == Phase::ReadBack && pb.message() != phase.label() {
                    pb.reset();
                    pb.set_message(phase.label());
                }
                pb.inc(n)
            })
            .map_err(|e| refused(s(&e)))?;
            pb.finish();
            println!(
                "version {} written to slot {} and verified; it boots once at the next reboot",
                verified.manifest.version,
                slot.name()
            );
            if reboot {
                systemctl_reboot()?;
            }
        }
        Command::BootCheck {
            box_,
            health,
            deadline_secs,
            no_reboot,
        } => {
            let running = box_.running()?;
            let layout = box_.layout();
            let reporter = Reporter::new(&layout.status_dir);
            let t = agent::boot_check(
                &layout,
                running,
                &reporter,
                Duration::from_secs(deadline_secs),
                Duration::from_secs(2),
                || agent::http_health(health, Duration::from_secs(3)),
            )
            .map_err(|e| s(&e))?;
            if matches!(t, Transition::RollingBack { .. }) && !no_reboot {
                systemctl_reboot()?;
            }
        }
        Command::Flash { image, target } => {
            let mounts = read_proc("/proc/self/mounts")?;
            let swaps = read_proc("/proc/swaps")?;
            let pb = bar(0, "writing");
            let r = flash::flash(&image, &target, &mounts, &swaps, |phase, done, total| {
                if pb.message() != phase.label() {
                    pb.reset();
                    pb.set_message(phase.label());
                }
                pb.set_length(total);
                pb.set_position(done);
            })
            .map_err(|e| s(&e))?;
            pb.finish();
            println!(
                "wrote {} bytes to {} and read them back: sha256 {}",
                r.bytes,
                target.display(),
                r.sha256
            );
        }
        Command::Provision {
            file,
            data_dir,
            box_data_dir,
            check,
        } => {
            let p = provision::load(&file).map_err(|e| s(&e))?;
            if check {
                println!("{}: OK for store {}", file.display(), p.store_id);
                return Ok(());
            }
            let written =
                provision::apply(&p, &file, &data_dir, &box_data_dir).map_err(|e| s(&e))?;
            for w in written {
                println!("wrote {}", w.display());
            }
            println!(
                "store {} provisioned; the box applies it at its next boot",
                p.store_id
            );
        }
        Command::DataGuard { box_, data } => {
            let running = box_.running()?;
            let g = snapshot::guard(&box_.layout(), running, &data).map_err(|e| s(&e))?;
            match g {
                Guarded::Snapshot { version, bytes } => println!(
                    "edge-update: data snapshot of {} taken before the trial of version \
                     {version} ({bytes} bytes)",
                    data.display()
                ),
                Guarded::Skipped { version, reason } => println!(
                    "edge-update: NO data snapshot before the trial of version {version}: \
                     {reason}; a rollback keeps the trial's data as it is"
                ),
                Guarded::Restored {
                    version,
                    trial_data,
                } => println!(
                    "edge-update: {} restored from the snapshot taken before version \
                     {version}'s trial; the trial's data (sales made during the trial \
                     included) is kept in {} for recovery",
                    data.display(),
                    trial_data.display()
                ),
                Guarded::Nothing => {}
            }
        }
        Command::ProvisionCheck {
            config,
            config_dir,
            status,
            daemon,
            data_dir,
        } => {
            let paths = provision::BoxPaths {
                config: config_dir,
                data_dir,
            };
            let st = provision::check_box(&paths, || daemon_config(&daemon, &config))
                .map_err(|e| s(&e))?;
            println!("edge-provision: {}", st.message);
            provision::write_status(&st, &status).map_err(|e| s(&e))?;
        }
    }
    Ok(())
}

/// The daemon's effective configuration (`edge-daemon --config FILE config`), or its error:
/// exit status 2 is the daemon refusing the configuration; anything else says nothing of it.
fn daemon_config(daemon: &Path, config: &Path) -> Result<String, provision::EffectiveError> {
    use provision::EffectiveError;
    let out = std::process::Command::new(daemon)
        .arg("--config")
        .arg(config)
        .arg("config")
        .output()
        .map_err(|e| {
            EffectiveError::DaemonFailed(format!("cannot run {}: {e}", daemon.display()))
        })?;
    let err = String::from_utf8_lossy(&out.stderr);
    let err = err.trim().trim_start_matches("edge-daemon: ").to_owned();
    match out.status.code() {
        _ if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Some(2) => Err(EffectiveError::BadConfig(err)),
        code => Err(EffectiveError::DaemonFailed(format!(
            "exit status {code:?}: {err}"
        ))),
    }
}

fn systemctl_reboot() -> Result<(), String> {
    let status = std::process::Command::new("systemctl")
        .arg("reboot")
        .status()
        .map_err(|e| format!("cannot run systemctl reboot: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("systemctl reboot failed: {status}"))
    }
}

fn read_proc(path: &str) -> Result<String, String> {
    std::fs::read_to_string(Path::new(path))
        .map_err(|e| format!("cannot read {path} to check that the target is not in use: {e}"))
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edge-image: {e}");
            ExitCode::FAILURE
        }
    }
}
