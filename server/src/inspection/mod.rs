//! What an upload's bits are checked for as they stream: their SHA-256 and size, and that they
//! are a gzip tarball holding the `resources` listed (`inspect`, over `gunzip`). Each check
//! reads the same chunks on a thread of its own (`sink`), so checking keeps pace with the
//! upload and never holds the droplet in memory.
//!
//! A multipart upload feeds its checks as its body streams in. A resumable upload carries them
//! from one append to the next while its appends reach this process in order (`parked`); any
//! other way, its job reads the stored bits through a fresh set.

mod gunzip;
mod inspect;
pub mod parked;
mod sink;

use bytes::Bytes;
use droplet_api::UploadResource;
use sha2::{Digest, Sha256};

pub use inspect::Rejection;
use sink::{ChunkReader, Sink};

/// The checks of one droplet's bits, fed in order.
pub struct Checks {
    sha256: Sink<(String, u64)>,
    inspection: Sink<Result<(), Rejection>>,
    fed: u64,
}

/// What the checks found.
pub struct Checked {
    /// Lowercase hex.
    pub sha256: String,
    pub size: u64,
    /// Why the bits are no droplet, if they are not.
    pub inspection: Result<(), Rejection>,
}

/// A check that panicked (its readers run over whatever bytes a client sent): which, and why.
pub struct Panicked {
    pub check: &'static str,
    pub message: String,
}

impl Checks {
    /// Starts the checks, with the `resources` the tarball must hold.
    pub fn start(resources: Vec<UploadResource>) -> Self {
        Checks {
            sha256: Sink::spawn(sha256),
            inspection: Sink::spawn(move |bits| inspect::inspect(bits, &resources)),
            fed: 0,
        }
    }

    /// Hands the next chunk to every check; waits while one is behind, so memory stays bounded.
    pub async fn feed(&mut self, chunk: Bytes) {
        self.fed += chunk.len() as u64;
        self.sha256.send(chunk.clone()).await;
        self.inspection.send(chunk).await;
    }

    /// The bytes fed so far.
    pub fn fed(&self) -> u64 {
        self.fed
    }

    /// Ends the input and waits for what the checks found.
    pub async fn finish(self) -> Result<Checked, Panicked> {
        let panicked = |check| move |message| Panicked { check, message };
        let (sha256, size) = self.sha256.finish().await.map_err(panicked("digest"))?;
        let inspection = self.inspection.finish().await.map_err(panicked("inspection"))?;
        Ok(Checked { sha256, size, inspection })
    }
}

/// Inspects bits already stored for `resources`, without digesting them again.
pub async fn inspect_stored(
    mut bits: crate::blobstore::BlobStream,
    resources: Vec<UploadResource>,
) -> Result<Result<(), Rejection>, InspectStoredError> {
    use futures::StreamExt;
    let mut inspection = Sink::spawn(move |bits| inspect::inspect(bits, &resources));
    while let Some(chunk) = bits.next().await {
        inspection.send(chunk.map_err(InspectStoredError::Read)?).await;
    }
    let panicked = |message| Panicked { check: "inspection", message };
    inspection.finish().await.map_err(|message| InspectStoredError::Panicked(panicked(message)))
}

/// Why stored bits could not be inspected.
pub enum InspectStoredError {
    Read(std::io::Error),
    Panicked(Panicked),
}

/// Digests everything sent to the sink; the lowercase hex SHA-256 and the byte count.
fn sha256(mut bits: ChunkReader) -> (String, u64) {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = bits.next_chunk() {
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    (hex::encode(hasher.finalize()), size)
}
