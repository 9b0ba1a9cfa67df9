//! Secrets kept in files of the data directory (the development token key, the URL-signing key):
//! random, created on first use, readable by their owner only.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use rand::RngCore;

const SECRET_BYTES: usize = 32;

/// Reads a random secret from `path`, creating it (owner-only) on first use.
pub fn load_or_create_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.len() >= SECRET_BYTES => return Ok(bytes),
        Ok(_) => anyhow::bail!(
            "{} is too short to be a key; remove it to make a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    let hex_secret = hex::encode(&secret).into_bytes();
    match write_private_file(path, &hex_secret) {
        Ok(()) => Ok(hex_secret),
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Writes `bytes` to a new file only its owner can read.
fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
