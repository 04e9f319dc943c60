//! GRUB's environment block: exactly 1024 bytes, `# GRUB Environment Block\n`, then
//! `key=value\n` lines, padded with `#`. GRUB's `save_env` rewrites the same blocks in place,
//! so the file's size never changes; [`Env::write`] does the same (no truncation, fsync).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The block's size.
pub const SIZE: usize = 1024;
const HEADER: &str = "# GRUB Environment Block\n";

/// A GRUB environment block that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("cannot access the boot environment {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a GRUB environment block: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("the boot environment would exceed {SIZE} bytes")]
    TooLarge,
    #[error("invalid boot environment entry {0:?}: keys are [A-Za-z0-9_], values have no newline")]
    Entry(String),
}

/// The variables of a GRUB environment block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// Parses a block.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Env, EnvError> {
        let format = |reason: &str| EnvError::Format {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        if bytes.len() != SIZE {
            return Err(format(&format!("{} bytes instead of {SIZE}", bytes.len())));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| format("not UTF-8"))?;
        let body = text
            .strip_prefix(HEADER)
            .ok_or_else(|| format("missing header line"))?;
        let mut vars = BTreeMap::new();
        for line in body.split('\n') {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| format(&format!("line {line:?} has no '='")))?;
            vars.insert(k.to_owned(), v.to_owned());
        }
        Ok(Env { vars })
    }

    /// Reads a block from a file.
    pub fn read(path: &Path) -> Result<Env, EnvError> {
        let mut bytes = Vec::with_capacity(SIZE);
        std::fs::File::open(path)
            .and_then(|f| f.take(SIZE as u64 + 1).read_to_end(&mut bytes))
            .map_err(|source| EnvError::Io {
                path: path.to_owned(),
                source,
            })?;
        Env::parse(&bytes, path)
    }

    /// The block's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EnvError> {
        let mut out = HEADER.as_bytes().to_vec();
        for (k, v) in &self.vars {
            out.extend_from_slice(format!("{k}={v}\n").as_bytes());
        }
        if out.len() > SIZE {
            return Err(EnvError::TooLarge);
        }
        out.resize(SIZE, b'#');
        Ok(out)
    }

    /// Writes the block over an existing file (or creates it), in place, and syncs it.
    pub fn write(&self, path: &Path) -> Result<(), EnvError> {
        let bytes = self.to_bytes()?;
        let io = |source| EnvError::Io {
            path: path.to_owned(),
            source,
        };
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        f.seek(SeekFrom::Start(0)).map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.set_len(SIZE as u64).map_err(io)?;
        f.sync_all().map_err(io)
    }

    /// A variable's value; absent and empty are the same to GRUB's `[ -n ]`.
    pub fn get(&self, key: &str) -> &str {
        self.vars.get(key).map(String::as_str).unwrap_or("")
    }

    /// Sets a variable.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), EnvError> {
        let key_ok = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !key_ok || value.contains('\n') {
            return Err(EnvError::Entry(format!("{key}={value}")));
        }
        self.vars.insert(key.to_owned(), value.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_its_size() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("grubenv");
        let mut env = Env::default();
        env.set("active_slot", "a").unwrap();
        env.set("pending_slot", "").unwrap();
        env.write(&p).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), SIZE as u64);
        let back = Env::read(&p).unwrap();
        assert_eq!(back.get("active_slot"), "a");
        assert_eq!(back.get("pending_slot"), "");
        assert_eq!(back.get("absent"), "");
    }

    #[test]
    fn reads_what_grub_editenv_writes() {
        // `grub-editenv F create; grub-editenv F set active_slot=b boot_tries=1`
        let mut bytes = b"# GRUB Environment Block\nactive_slot=b\nboot_tries=1\n".to_vec();
        bytes.resize(SIZE, b'#');
        let env = Env::parse(&bytes, Path::new("grubenv")).unwrap();
        assert_eq!(env.get("active_slot"), "b");
        assert_eq!(env.get("boot_tries"), "1");
    }

    #[test]
    fn refuses_a_damaged_block_and_bad_entries() {
        let err = Env::parse(b"hello", Path::new("g")).unwrap_err();
        assert!(err.to_string().contains("5 bytes"), "{err}");
        let mut env = Env::default();
        assert!(env.set("a b", "x").is_err());
        assert!(env.set("k", "x\ny").is_err());
        env.set("k", &"x".repeat(SIZE)).unwrap();
        assert!(matches!(env.to_bytes(), Err(EnvError::TooLarge)));
    }
}
