//! Writing a disk image to a block device or a file, verified by reading it back.
//!
//! Refused before anything is written, each by its own check:
//! - a target listed (itself or a partition of it) in `/proc/self/mounts` or `/proc/swaps`
//!   ([`check_not_in_use`]); a root shown as `/dev/root` is resolved through the mount point;
//! - the disk holding `/`, found from `/`'s device number through `/sys/dev/block/MAJ:MIN`, its
//!   parent disk and, for device-mapper or RAID, the disks under it ([`check_not_system`]);
//! - anything else the kernel holds: a block target is opened with `O_EXCL`, which fails with
//!   `EBUSY` when it or a partition is mounted, is swap, or belongs to LVM or RAID;
//! - the image itself, and a device smaller than the image.
//!
//! The read-back drops the written range from the page cache first (`posix_fadvise`
//! `DONTNEED` after `fsync`), so the comparison reads the device, not the memory the write
//! left behind.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{drop_cached, open_for_writing, read_back, Phase};

/// Why flashing was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum FlashError {
    #[error("cannot read image {path}: {source}")]
    Image { path: PathBuf, source: io::Error },
    #[error(
        "refusing {target}: {what} is mounted on {mountpoint}; unmount it or pick another disk"
    )]
    Mounted {
        target: PathBuf,
        what: String,
        mountpoint: String,
    },
    #[error("refusing {target}: {what} is in use as swap")]
    Swap { target: PathBuf, what: String },
    #[error(
        "refusing {target}: it is disk {disk}, which holds the running system's root file system"
    )]
    SystemDisk { target: PathBuf, disk: String },
    #[error(
        "refusing {target}: the kernel reports it busy (mounted, a mounted partition, swap, \
         LVM or RAID member, or open exclusively elsewhere)"
    )]
    Busy { target: PathBuf },
    #[error("refusing {0}: it is the image itself")]
    SameFile(PathBuf),
    #[error("target {target} holds {capacity} bytes, the image is {needed} bytes")]
    TooSmall {
        target: PathBuf,
        capacity: u64,
        needed: u64,
    },
    #[error("cannot write {target}: {source}")]
    Write { target: PathBuf, source: io::Error },
    #[error("read-back of {target} gives SHA-256 {found}, the image has {expected}")]
    Verify {
        target: PathBuf,
        found: String,
        expected: String,
    },
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flashed {
    pub bytes: u64,
    pub sha256: String,
}

/// Undoes the octal escapes `/proc/self/mounts` uses for spaces and the like.
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True when `dev` is `disk` or one of its partitions (`sda1` of `sda`, `nvme0n1p2` of
/// `nvme0n1`, `loop3p1` of `loop3`).
fn is_on(dev: &str, disk: &str) -> bool {
    match dev.strip_prefix(disk) {
        Some("") => true,
        Some(rest) => {
            // A disk whose name ends in a digit numbers its partitions after a 'p'.
            let rest = if disk.ends_with(|c: char| c.is_ascii_digit()) {
                match rest.strip_prefix('p') {
                    Some(r) => r,
                    None => return false,
                }
            } else {
                rest
            };
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

fn canonical(p: &str) -> String {
    fs::canonicalize(p)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|_| p.to_owned())
}

/// Refuses a target that is, or holds, a mounted file system or active swap. `mounts` is the
/// text of `/proc/self/mounts`, `swaps` that of `/proc/swaps`.
pub fn check_not_in_use(target: &Path, mounts: &str, swaps: &str) -> Result<(), FlashError> {
    let disk = canonical(&target.to_string_lossy());
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (Some(src), Some(mnt)) = (f.next(), f.next()) else {
            continue;
        };
        let mnt_path = unescape(mnt);
        let mut src = canonical(&unescape(src));
        if src == "/dev/root" {
            // Not a real node: the kernel's name for the root device given on its command line.
            if let Some(name) = fs::metadata(&mnt_path)
                .ok()
                .and_then(|m| disk_of(Path::new(SYS), m.dev()).map(|d| d.device))
            {
                src = format!("/dev/{name}");
            }
        }
        if is_on(&src, &disk) {
            return Err(FlashError::Mounted {
                target: target.to_owned(),
                what: src,
                mountpoint: mnt_path,
            });
        }
    }
    for line in swaps.lines().skip(1) {
        if let Some(src) = line.split_whitespace().next() {
            let src = canonical(&unescape(src));
            if is_on(&src, &disk) {
                return Err(FlashError::Swap {
                    target: target.to_owned(),
                    what: src,
                });
            }
        }
    }
    Ok(())
}

/// Where sysfs is mounted.
pub const SYS: &str = "/sys";

/// A block device as sysfs names it: the device (`sda2`) and its whole disk (`sda`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockName {
    pub device: String,
    pub disk: String,
}

/// The block device with number `dev` (as `st_dev`/`st_rdev` give it), through
/// `SYS/dev/block/MAJ:MIN`; `None` when it is not a block device (overlay, tmpfs, nfs).
pub fn disk_of(sys: &Path, dev: u64) -> Option<BlockName> {
    let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
    let real = fs::canonicalize(sys.join(format!("dev/block/{major}:{minor}"))).ok()?;
    name_of(&real)
}

/// Device and disk names of a canonical sysfs device directory: a partition (it has a
/// `partition` file) sits inside its disk's directory.
fn name_of(real: &Path) -> Option<BlockName> {
    let device = real.file_name()?.to_string_lossy().into_owned();
    let disk = if real.join("partition").exists() {
        real.parent()?.file_name()?.to_string_lossy().into_owned()
    } else {
        device.clone()
    };
    Some(BlockName { device, disk })
}

/// The whole disks under `dev`: its own disk, and for device-mapper or RAID (`slaves/`)
/// the disks of every device beneath it, recursively.
pub fn disks_under(sys: &Path, dev: u64) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo: Vec<PathBuf> = Vec::new();
    let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
    if let Ok(real) = fs::canonicalize(sys.join(format!("dev/block/{major}:{minor}"))) {
        todo.push(real);
    }
    while let Some(real) = todo.pop() {
        let Some(name) = name_of(&real) else { continue };
        if out.contains(&name.disk) {
            continue;
        }
        for dir in [
            real.join("slaves"),
            real.with_file_name(&name.disk).join("slaves"),
        ] {
            for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
                if let Ok(r) = fs::canonicalize(entry.path()) {
                    todo.push(r);
                }
            }
        }
        out.push(name.disk);
    }
    out
}

/// Refuses `target` when it is a block device on the disk that holds `root` (normally `/`).
pub fn check_not_system(target: &Path, root: &Path, sys: &Path) -> Result<(), FlashError> {
    let Ok(meta) = fs::metadata(target) else {
        return Ok(());
    };
    if !meta.file_type().is_block_device() {
        return Ok(());
    }
    let Some(t) = disk_of(sys, meta.rdev()) else {
        return Ok(());
    };
    let Ok(root_dev) = fs::metadata(root).map(|m| m.dev()) else {
        return Ok(());
    };
    if disks_under(sys, root_dev).contains(&t.disk) {
        return Err(FlashError::SystemDisk {
            target: target.to_owned(),
            disk: t.disk,
        });
    }
    Ok(())
}

/// Writes `image` to `target` (a block device or a regular file, created if absent), calling
/// `progress(phase, done, total)` while writing and while reading back, then compares the
/// hash of what was read back from the device with the image's.
pub fn flash(
    image: &Path,
    target: &Path,
    mounts: &str,
    swaps: &str,
    mut progress: impl FnMut(Phase, u64, u64),
) -> Result<Flashed, FlashError> {
    let img_err = |source| FlashError::Image {
        path: image.to_owned(),
        source,
    };
    let write_err = |source| FlashError::Write {
        target: target.to_owned(),
        source,
    };
    let mut src = File::open(image).map_err(img_err)?;
    let total = src.metadata().map_err(img_err)?.len();
    check_not_in_use(target, mounts, swaps)?;
    check_not_system(target, Path::new("/"), Path::new(SYS))?;
    if target.exists()
        && fs::canonicalize(target).map_err(write_err)?
            == fs::canonicalize(image).map_err(img_err)?
    {
        return Err(FlashError::SameFile(target.to_owned()));
    }
    let is_block = fs::metadata(target)
        .map(|m| m.file_type().is_block_device())
        .unwrap_or(false);
    let mut dst = open_for_writing(target, is_block).map_err(|e| {
        if is_block && e.raw_os_error() == Some(rustix::io::Errno::BUSY.raw_os_error()) {
            FlashError::Busy {
                target: target.to_owned(),
            }
        } else {
            write_err(e)
        }
    })?;
    if is_block {
        let capacity = dst.seek(SeekFrom::End(0)).map_err(write_err)?;
        if capacity < total {
            return Err(FlashError::TooSmall {
                target: target.to_owned(),
                capacity,
                needed: total,
            });
        }
        dst.seek(SeekFrom::Start(0)).map_err(write_err)?;
    } else {
        dst.set_len(0).map_err(write_err)?;
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 4 << 20];
    let mut done = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(img_err(e)),
        };
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n]).map_err(write_err)?;
        done += n as u64;
        progress(Phase::Write, done, total);
    }
    dst.sync_all().map_err(write_err)?;
    drop_cached(&dst).map_err(write_err)?;
    drop(dst);
    let expected = hex::encode(hasher.finalize());

    let mut checked = 0u64;
    let (read, found) = read_back(target, total, |n| {
        checked += n;
        progress(Phase::ReadBack, checked, total);
    })
    .map_err(write_err)?;
    if read != total || found != expected {
        return Err(FlashError::Verify {
            target: target.to_owned(),
            found,
            expected,
        });
    }
    Ok(Flashed {
        bytes: total,
        sha256: expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "/dev/sda2 / ext4 rw 0 0\n\
        proc /proc proc rw 0 0\n\
        /dev/nvme0n1p1 /mnt/with\\040space vfat rw 0 0\n";
    const SWAPS: &str = "Filename Type Size Used Priority\n/dev/sdc1 partition 1 0 -2\n";

    #[test]
    fn refuses_the_system_disk_and_mounted_disks() {
        let err = check_not_in_use(Path::new("/dev/sda"), MOUNTS, SWAPS).unwrap_err();
        assert!(
            err.to_string().contains("/dev/sda2 is mounted on /"),
            "{err}"
        );
        let err = check_not_in_use(Path::new("/dev/nvme0n1"), MOUNTS, SWAPS).unwrap_err();
        assert!(err.to_string().contains("/mnt/with space"), "{err}");
        let err = check_not_in_use(Path::new("/dev/sdc"), MOUNTS, SWAPS).unwrap_err();
        assert!(matches!(err, FlashError::Swap { .. }), "{err}");
        check_not_in_use(Path::new("/dev/sdb"), MOUNTS, SWAPS).unwrap();
        assert!(!is_on("/dev/sda20", "/dev/sda2"), "a partition, not a disk");
        assert!(!is_on("/dev/loop30", "/dev/loop3"));
        assert!(is_on("/dev/loop3p1", "/dev/loop3"));
        assert!(is_on("/dev/sdb12", "/dev/sdb"));
        assert!(!is_on("/dev/sdbc", "/dev/sdb"));
    }

    #[test]
    fn writes_a_file_and_verifies_it() {
        let t = tempfile::tempdir().unwrap();
        let img = t.path().join("img");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&img, &data).unwrap();
        let out = t.path().join("out");
        fs::write(&out, vec![1u8; 5_000_000]).unwrap();
        let mut seen = Vec::new();
        let r = flash(&img, &out, "", "", |phase, d, total| {
            assert!(d <= total);
            seen.push((phase, d));
        })
        .unwrap();
        assert_eq!(r.bytes, 3_000_000);
        assert_eq!(seen.first().map(|s| s.0), Some(Phase::Write));
        assert_eq!(seen.last(), Some(&(Phase::ReadBack, 3_000_000)));
        assert!(seen.contains(&(Phase::Write, 3_000_000)));
        assert_eq!(fs::read(&out).unwrap(), data);
    }

    /// A fake sysfs: `sda` with partition `sda2` (8:2), and `dm-0` (253:0) on `sdb1`.
    fn fake_sys(t: &Path) -> PathBuf {
        let sys = t.join("sys");
        let sda = sys.join("devices/pci0/block/sda");
        let sdb = sys.join("devices/pci1/block/sdb");
        let dm = sys.join("devices/virtual/block/dm-0");
        for d in [sda.join("sda2"), sdb.join("sdb1"), dm.join("slaves")] {
            fs::create_dir_all(d).unwrap();
        }
        fs::write(sda.join("sda2/partition"), "2\n").unwrap();
        fs::write(sdb.join("sdb1/partition"), "1\n").unwrap();
        fs::create_dir_all(sys.join("dev/block")).unwrap();
        let link = |to: &Path, at: PathBuf| std::os::unix::fs::symlink(to, at).unwrap();
        link(&sda, sys.join("dev/block/8:0"));
        link(&sda.join("sda2"), sys.join("dev/block/8:2"));
        link(&sdb, sys.join("dev/block/8:16"));
        link(&dm, sys.join("dev/block/253:0"));
        link(&sdb.join("sdb1"), dm.join("slaves/sdb1"));
        sys
    }

    #[test]
    fn finds_the_disk_of_a_partition_and_the_disks_under_device_mapper() {
        let t = tempfile::tempdir().unwrap();
        let sys = fake_sys(t.path());
        let dev = |ma: u32, mi: u32| rustix::fs::makedev(ma, mi);
        let sda2 = disk_of(&sys, dev(8, 2)).unwrap();
        assert_eq!((sda2.device.as_str(), sda2.disk.as_str()), ("sda2", "sda"));
        assert_eq!(disk_of(&sys, dev(8, 16)).unwrap().disk, "sdb");
        assert_eq!(
            disk_of(&sys, dev(0, 42)),
            None,
            "overlay, tmpfs: no block device"
        );
        assert_eq!(disks_under(&sys, dev(8, 2)), vec!["sda"]);
        assert_eq!(disks_under(&sys, dev(253, 0)), vec!["dm-0", "sdb"]);
    }

    /// On the machine running the test: the disk holding `/` is refused (checked only; nothing
    /// is opened for writing). Skipped where `/` is not on a block device.
    #[test]
    fn refuses_the_disk_the_running_system_is_on() {
        let root = fs::metadata("/").unwrap().dev();
        let Some(name) = disk_of(Path::new(SYS), root) else {
            eprintln!("skipped: / is not on a block device here");
            return;
        };
        for dev in [&name.disk, &name.device] {
            let path = PathBuf::from(format!("/dev/{dev}"));
            if !path.exists() {
                continue;
            }
            let err = check_not_system(&path, Path::new("/"), Path::new(SYS)).unwrap_err();
            assert!(matches!(err, FlashError::SystemDisk { .. }), "{err}");
            assert!(err.to_string().contains("root file system"), "{err}");
        }
        // A root the mount table shows as /dev/root is resolved through its mount point.
        let disk = PathBuf::from(format!("/dev/{}", name.disk));
        let err = check_not_in_use(&disk, "/dev/root / ext4 rw 0 0\n", "").unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("/dev/{} is mounted on /", name.device)),
            "{err}"
        );
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("img");
        fs::write(&file, b"x").unwrap();
        check_not_system(&file, Path::new("/"), Path::new(SYS)).unwrap();
    }

    /// `drop_cached` really empties the page cache of a synced file (as `fincore` counts it).
    #[test]
    fn dropping_the_cache_leaves_no_page_resident() {
        let resident = |p: &Path| -> Option<u64> {
            let out = std::process::Command::new("fincore")
                .args(["--bytes", "--noheadings", "--output", "RES"])
                .arg(p)
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f");
        fs::write(&p, vec![7u8; 4 << 20]).unwrap();
        let f = File::open(&p).unwrap();
        f.sync_all().unwrap();
        let Some(before) = resident(&p) else {
            eprintln!("skipped: no fincore");
            return;
        };
        if before == 0 {
            eprintln!("skipped: the file system keeps no page cache here");
            return;
        }
        drop_cached(&f).unwrap();
        assert_eq!(resident(&p), Some(0), "{before} bytes were resident before");
        let (n, _) = read_back(&p, 4 << 20, |_| {}).unwrap();
        assert_eq!(n, 4 << 20);
        assert_eq!(resident(&p), Some(0), "read-back leaves nothing cached");
    }

    /// A loop device made, formatted and mounted by the test, always torn down again.
    struct Loop {
        dev: PathBuf,
        mnt: Option<PathBuf>,
    }

    impl Drop for Loop {
        fn drop(&mut self) {
            if let Some(m) = &self.mnt {
                let _ = std::process::Command::new("umount").arg(m).status();
            }
            let _ = std::process::Command::new("losetup")
                .arg("-d")
                .arg(&self.dev)
                .status();
        }
    }

    fn run(cmd: &str, args: &[&std::ffi::OsStr]) -> Option<String> {
        let out = std::process::Command::new(cmd).args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// As root: a mounted loop device is refused by the kernel (`O_EXCL`) even when the mount
    /// table given says nothing, and flashed and verified once unmounted. Skipped otherwise.
    #[test]
    fn a_mounted_loop_device_is_refused_by_the_kernel_and_flashed_once_free() {
        // /proc/self belongs to the effective user.
        if fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) != 0 {
            eprintln!("skipped: needs root for loop devices");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let backing = t.path().join("backing");
        File::create(&backing).unwrap().set_len(32 << 20).unwrap();
        let arg = std::ffi::OsStr::new;
        let Some(dev) = run("losetup", &[arg("-f"), arg("--show"), backing.as_os_str()]) else {
            eprintln!("skipped: losetup failed");
            return;
        };
        let mut lo = Loop {
            dev: PathBuf::from(dev),
            mnt: None,
        };
        assert!(run("mkfs.ext4", &[arg("-q"), lo.dev.as_os_str()]).is_some());
        let mnt = t.path().join("mnt");
        fs::create_dir(&mnt).unwrap();
        assert!(run("mount", &[lo.dev.as_os_str(), mnt.as_os_str()]).is_some());
        lo.mnt = Some(mnt.clone());
        fs::write(mnt.join("keep"), b"mounted data").unwrap();

        let img = t.path().join("img");
        let data: Vec<u8> = (0..(3u32 << 20)).map(|i| (i % 249) as u8).collect();
        fs::write(&img, &data).unwrap();
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
        let err = flash(&img, &lo.dev, &mounts, "", |_, _, _| {}).unwrap_err();
        assert!(matches!(err, FlashError::Mounted { .. }), "{err}");
        let err = flash(&img, &lo.dev, "", "", |_, _, _| {}).unwrap_err();
        assert!(matches!(err, FlashError::Busy { .. }), "{err}");
        assert_eq!(fs::read(mnt.join("keep")).unwrap(), b"mounted data");

        assert!(run("umount", &[mnt.as_os_str()]).is_some());
        lo.mnt = None;
        let r = flash(&img, &lo.dev, "", "", |_, _, _| {}).unwrap();
        assert_eq!(r.bytes, data.len() as u64);
        let mut back = vec![0u8; data.len()];
        File::open(&lo.dev).unwrap().read_exact(&mut back).unwrap();
        assert!(back == data, "the device holds the image");
    }

    #[test]
    fn refuses_to_flash_an_image_onto_itself_or_a_mounted_target() {
        let t = tempfile::tempdir().unwrap();
        let img = t.path().join("img");
        fs::write(&img, b"abc").unwrap();
        let err = flash(&img, &img, "", "", |_, _, _| {}).unwrap_err();
        assert!(matches!(err, FlashError::SameFile(_)), "{err}");
        let out = t.path().join("out");
        fs::write(&out, b"keep").unwrap();
        let mounts = format!("{} /mnt ext4 rw 0 0\n", out.display());
        let err = flash(&img, &out, &mounts, "", |_, _, _| {}).unwrap_err();
        assert!(matches!(err, FlashError::Mounted { .. }), "{err}");
        assert_eq!(fs::read(&out).unwrap(), b"keep", "nothing written");
    }

    #[test]
    fn a_missing_image_says_so() {
        let t = tempfile::tempdir().unwrap();
        let err = flash(
            &t.path().join("nope"),
            &t.path().join("out"),
            "",
            "",
            |_, _, _| {},
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("cannot read image"), "{err}");
        assert!(!t.path().join("out").exists());
    }
}
