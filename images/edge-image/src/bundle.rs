//! Update bundles: `manifest.json` + `manifest.sig` + `rootfs.ext4` in one directory.
//!
//! The signature covers the manifest's exact bytes; the manifest names the root image's size
//! and SHA-256. [`verify`] checks, in this order, the signature, the manifest's contents and
//! the root image, and returns a [`Verified`] bundle; nothing else in this crate writes a slot
//! from anything but a [`Verified`].

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::sha256_reader;

/// The manifest's file name inside a bundle.
pub const MANIFEST: &str = "manifest.json";
/// The signature's file name inside a bundle.
pub const SIGNATURE: &str = "manifest.sig";
/// The root image's file name inside a bundle.
pub const ROOTFS: &str = "rootfs.ext4";
/// The manifest format this agent understands.
pub const FORMAT: u32 = 1;
/// What x86-64 store boxes accept.
pub const COMPATIBLE_X86_64: &str = "edge-box-x86_64";

/// What a bundle carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: u32,
    /// The image version, e.g. `git describe` output.
    pub version: String,
    /// Which boxes may install it, e.g. [`COMPATIBLE_X86_64`].
    pub compatible: String,
    /// The root file system image.
    pub rootfs: FileEntry,
}

/// A file in the bundle, with its size and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub file: String,
    pub size: u64,
    pub sha256: String,
}

/// Why a bundle was refused or could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bundle refused: {path} is not a signature (128 hex digits): {reason}")]
    SignatureFormat { path: PathBuf, reason: String },
    #[error("bundle refused: the manifest's signature does not verify with the trusted key")]
    BadSignature,
    #[error("bundle refused: signed manifest is malformed: {0}")]
    Manifest(String),
    #[error("bundle refused: manifest format {found}, this agent reads format {FORMAT}")]
    Format { found: u32 },
    #[error("bundle refused: it is for {found:?}, this box accepts {expected:?}")]
    Incompatible { found: String, expected: String },
    #[error("bundle refused: {file} is {found} bytes, the manifest says {expected}")]
    Size {
        file: String,
        found: u64,
        expected: u64,
    },
    #[error("bundle refused: {file} has SHA-256 {found}, the manifest says {expected}")]
    Hash {
        file: String,
        found: String,
        expected: String,
    },
}

/// A bundle whose signature, manifest and root image were checked.
#[derive(Debug, Clone)]
pub struct Verified {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Verified {
    /// The root image's path.
    pub fn rootfs_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.rootfs.file)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, BundleError> {
    fs::read(path).map_err(|source| BundleError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Hashes a file: (size, hex SHA-256).
pub fn hash_file(path: &Path) -> Result<(u64, String), BundleError> {
    let read_err = |source| BundleError::Read {
        path: path.to_owned(),
        source,
    };
    let f = File::open(path).map_err(read_err)?;
    sha256_reader(f, |_| {}).map_err(read_err)
}

/// Makes a bundle in `out` from a root image: copies it, writes and signs the manifest.
pub fn create(
    rootfs: &Path,
    version: &str,
    compatible: &str,
    key: &SigningKey,
    out: &Path,
) -> Result<Manifest, BundleError> {
    let write_err = |path: PathBuf| move |source| BundleError::Write { path, source };
    fs::create_dir_all(out).map_err(write_err(out.to_owned()))?;
    let target = out.join(ROOTFS);
    fs::copy(rootfs, &target).map_err(write_err(target.clone()))?;
    let (size, sha256) = hash_file(&target)?;
    let manifest = Manifest {
        format: FORMAT,
        version: version.to_owned(),
        compatible: compatible.to_owned(),
        rootfs: FileEntry {
            file: ROOTFS.to_owned(),
            size,
            sha256,
        },
    };
    let mut bytes =
        serde_json::to_vec_pretty(&manifest).map_err(|e| BundleError::Manifest(e.to_string()))?;
    bytes.push(b'\n');
    let sig = key.sign(&bytes);
    fs::write(out.join(MANIFEST), &bytes).map_err(write_err(out.join(MANIFEST)))?;
    fs::write(
        out.join(SIGNATURE),
        format!("{}\n", hex::encode(sig.to_bytes())),
    )
    .map_err(write_err(out.join(SIGNATURE)))?;
    Ok(manifest)
}

/// Checks the signature and manifest only (cheap; the root image is not read).
pub fn verify_manifest(
    dir: &Path,
    key: &VerifyingKey,
    compatible: &str,
) -> Result<Manifest, BundleError> {
    let bytes = read(&dir.join(MANIFEST))?;
    let sig_path = dir.join(SIGNATURE);
    let sig_text = read(&sig_path)?;
    let sig_bytes = hex::decode(String::from_utf8_lossy(&sig_text).trim()).map_err(|e| {
        BundleError::SignatureFormat {
            path: sig_path.clone(),
            reason: e.to_string(),
        }
    })?;
    let sig_arr: [u8; 64] =
        sig_bytes
            .try_into()
            .map_err(|b: Vec<u8>| BundleError::SignatureFormat {
                path: sig_path.clone(),
                reason: format!("found {} bytes", b.len()),
            })?;
    key.verify(&bytes, &Signature::from_bytes(&sig_arr))
        .map_err(|_| BundleError::BadSignature)?;
    // Only signed bytes are parsed.
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| BundleError::Manifest(e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(BundleError::Format {
            found: manifest.format,
        });
    }
    if manifest.compatible != compatible {
        return Err(BundleError::Incompatible {
            found: manifest.compatible,
            expected: compatible.to_owned(),
        });
    }
    let name = &manifest.rootfs.file;
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(BundleError::Manifest(format!(
            "rootfs file name {name:?} must be a plain file name"
        )));
    }
    if manifest.rootfs.sha256.len() != 64 {
        return Err(BundleError::Manifest(
            "rootfs sha256 must be 64 hex digits".into(),
        ));
    }
    Ok(manifest)
}

/// Checks signature, manifest and the root image's size and hash.
pub fn verify(dir: &Path, key: &VerifyingKey, compatible: &str) -> Result<Verified, BundleError> {
    let manifest = verify_manifest(dir, key, compatible)?;
    let entry = &manifest.rootfs;
    let (size, sha256) = hash_file(&dir.join(&entry.file))?;
    if size != entry.size {
        return Err(BundleError::Size {
            file: entry.file.clone(),
            found: size,
            expected: entry.size,
        });
    }
    if !sha256.eq_ignore_ascii_case(&entry.sha256) {
        return Err(BundleError::Hash {
            file: entry.file.clone(),
            found: sha256,
            expected: entry.sha256.clone(),
        });
    }
    Ok(Verified {
        dir: dir.to_owned(),
        manifest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn bundle(dir: &Path) -> PathBuf {
        let root = dir.join("root.img");
        fs::write(&root, vec![7u8; 100_000]).unwrap();
        let out = dir.join("bundle");
        create(&root, "1.2.3", COMPATIBLE_X86_64, &key(1), &out).unwrap();
        out
    }

    #[test]
    fn a_signed_bundle_verifies() {
        let t = tempfile::tempdir().unwrap();
        let b = bundle(t.path());
        let v = verify(&b, &key(1).verifying_key(), COMPATIBLE_X86_64).unwrap();
        assert_eq!(v.manifest.version, "1.2.3");
        assert_eq!(v.manifest.rootfs.size, 100_000);
    }

    #[test]
    fn another_key_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let b = bundle(t.path());
        let err = verify(&b, &key(2).verifying_key(), COMPATIBLE_X86_64).unwrap_err();
        assert!(matches!(err, BundleError::BadSignature), "{err}");
    }

    #[test]
    fn an_edited_manifest_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let b = bundle(t.path());
        let text = fs::read_to_string(b.join(MANIFEST)).unwrap();
        fs::write(b.join(MANIFEST), text.replace("1.2.3", "9.9.9")).unwrap();
        let err = verify(&b, &key(1).verifying_key(), COMPATIBLE_X86_64).unwrap_err();
        assert!(matches!(err, BundleError::BadSignature), "{err}");
    }

    #[test]
    fn a_changed_root_image_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let b = bundle(t.path());
        let mut bytes = fs::read(b.join(ROOTFS)).unwrap();
        bytes[50_000] ^= 1;
        fs::write(b.join(ROOTFS), &bytes).unwrap();
        let err = verify(&b, &key(1).verifying_key(), COMPATIBLE_X86_64).unwrap_err();
        assert!(matches!(err, BundleError::Hash { .. }), "{err}");
        bytes.push(0);
        fs::write(b.join(ROOTFS), &bytes).unwrap();
        let err = verify(&b, &key(1).verifying_key(), COMPATIBLE_X86_64).unwrap_err();
        assert!(matches!(err, BundleError::Size { .. }), "{err}");
    }

    #[test]
    fn a_bundle_for_other_boxes_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root.img");
        fs::write(&root, b"x").unwrap();
        let out = t.path().join("b");
        create(&root, "1", "edge-box-arm64", &key(1), &out).unwrap();
        let err = verify(&out, &key(1).verifying_key(), COMPATIBLE_X86_64).unwrap_err();
        assert!(matches!(err, BundleError::Incompatible { .. }), "{err}");
    }

    #[test]
    fn a_garbled_signature_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let b = bundle(t.path());
        fs::write(b.join(SIGNATURE), "abcd\n").unwrap();
        let err = verify(&b, &key(1).verifying_key(), COMPATIBLE_X86_64).unwrap_err();
        assert!(matches!(err, BundleError::SignatureFormat { .. }), "{err}");
        fs::remove_file(b.join(SIGNATURE)).unwrap();
        let err = verify(&b, &key(1).verifying_key(), COMPATIBLE_X86_64).unwrap_err();
        assert!(matches!(err, BundleError::Read { .. }), "{err}");
    }
}
