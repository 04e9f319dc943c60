//! ed25519 key files: the 32-byte secret seed or public key as one line of hex.

use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};

/// A key file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write key file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {path} must hold 64 hex digits (32 bytes): {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("key file {path} is not a valid ed25519 public key: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("no randomness for a new key: {0}")]
    Random(String),
}

fn read_32(path: &Path) -> Result<[u8; 32], KeyError> {
    let text = fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let bytes = hex::decode(text.trim()).map_err(|e| KeyError::Format {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    bytes.try_into().map_err(|b: Vec<u8>| KeyError::Format {
        path: path.to_owned(),
        reason: format!("found {} bytes", b.len()),
    })
}

/// Reads a signing (secret) key.
pub fn read_signing(path: &Path) -> Result<SigningKey, KeyError> {
    Ok(SigningKey::from_bytes(&read_32(path)?))
}

/// Reads a verifying (public) key.
pub fn read_verifying(path: &Path) -> Result<VerifyingKey, KeyError> {
    let bytes = read_32(path)?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| KeyError::Invalid {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Makes a new key pair from the operating system's randomness.
pub fn generate() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes the secret key (mode 0600) and the public key next to each other.
pub fn write_pair(key: &SigningKey, secret: &Path, public: &Path) -> Result<(), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| KeyError::Write { path, source }
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(secret)
        .map_err(write_err(secret))?;
    writeln!(f, "{}", hex::encode(key.to_bytes())).map_err(write_err(secret))?;
    fs::write(
        public,
        format!("{}\n", hex::encode(key.verifying_key().to_bytes())),
    )
    .map_err(write_err(public))?;
    Ok(())
}
