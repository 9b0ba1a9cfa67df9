//! Signed download URLs for the local blobstore: an HMAC-SHA256 over method, path and expiry,
//! checked in constant time, the way the reference's WebDAV blobstore uses nginx secure links.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

const SECRET_BYTES: usize = 32;

pub struct UrlSigner {
    secret: Vec<u8>,
}

/// Why a signed URL was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    Invalid,
    Expired,
}

impl UrlSigner {
    pub fn new(secret: Vec<u8>) -> Self {
        UrlSigner { secret }
    }

    fn mac(&self, method: &str, path: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(format!("{method}\n{path}\n{expires}").as_bytes());
        mac
    }

    /// The `signature` query value for `method path` valid until `expires` (unix seconds).
    pub fn sign(&self, method: &str, path: &str, expires: i64) -> String {
        hex::encode(self.mac(method, path, expires).finalize().into_bytes())
    }

    pub fn verify(
        &self,
        method: &str,
        path: &str,
        expires: i64,
        signature: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        let given = hex::decode(signature).map_err(|_| SignatureError::Invalid)?;
        self.mac(method, path, expires)
            .verify_slice(&given)
            .map_err(|_| SignatureError::Invalid)?;
        if now > expires { Err(SignatureError::Expired) } else { Ok(()) }
    }
}

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
