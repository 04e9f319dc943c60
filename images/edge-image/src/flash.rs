//! Writing a disk image to a block device or a file, verified by reading it back.
//!
//! A target that is mounted, or whose partition is mounted (which includes the disk the running
//! system lives on), or that is used as swap, is refused before anything is written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::sha256_reader;

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
        let src = canonical(&unescape(src));
        if is_on(&src, &disk) {
            return Err(FlashError::Mounted {
                target: target.to_owned(),
                what: src,
                mountpoint: unescape(mnt),
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

/// Writes `image` to `target` (a block device or a regular file, created if absent), calling
/// `progress(done, total)`, then reads the target back and compares hashes.
pub fn flash(
    image: &Path,
    target: &Path,
    mounts: &str,
    swaps: &str,
    mut progress: impl FnMut(u64, u64),
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
    if target.exists()
        && fs::canonicalize(target).map_err(write_err)?
            == fs::canonicalize(image).map_err(img_err)?
    {
        return Err(FlashError::SameFile(target.to_owned()));
    }
    let is_block = fs::metadata(target)
        .map(|m| m.file_type().is_block_device())
        .unwrap_or(false);
    let mut dst = OpenOptions::new()
        .read(true)
        .write(true)
        .create(!is_block)
        .truncate(false)
        .open(target)
        .map_err(write_err)?;
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
        progress(done, total);
    }
    dst.sync_all().map_err(write_err)?;
    drop(dst);
    let expected = hex::encode(hasher.finalize());

    let back = File::open(target).map_err(write_err)?;
    let (read, found) = sha256_reader(back.take(total), |_| {}).map_err(write_err)?;
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
        let mut calls = 0;
        let r = flash(&img, &out, "", "", |d, total| {
            calls += 1;
            assert!(d <= total);
        })
        .unwrap();
        assert_eq!(r.bytes, 3_000_000);
        assert!(calls >= 1);
        assert_eq!(fs::read(&out).unwrap(), data);
    }

    #[test]
    fn refuses_to_flash_an_image_onto_itself_or_a_mounted_target() {
        let t = tempfile::tempdir().unwrap();
        let img = t.path().join("img");
        fs::write(&img, b"abc").unwrap();
        let err = flash(&img, &img, "", "", |_, _| {}).unwrap_err();
        assert!(matches!(err, FlashError::SameFile(_)), "{err}");
        let out = t.path().join("out");
        fs::write(&out, b"keep").unwrap();
        let mounts = format!("{} /mnt ext4 rw 0 0\n", out.display());
        let err = flash(&img, &out, &mounts, "", |_, _| {}).unwrap_err();
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
            |_, _| {},
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("cannot read image"), "{err}");
        assert!(!t.path().join("out").exists());
    }
}
