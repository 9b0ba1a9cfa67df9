//! `--deep`: every intact-looking staged blob read through as a stream and its SHA-256 compared
//! with the droplet's checksum. Reads go as fast as the store gives them unless capped
//! (`--max-read-mib-per-sec`), so that a scrub of a production store does not starve the
//! downloads; a progress bar counts the bytes on a terminal.

use std::time::{Duration, Instant};

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};

use super::findings::Problem;
use super::survey::still_staged;
use crate::blobstore::{Blobstore, droplet_key};
use crate::store::MetadataStore;
use crate::store::consistency::StagedBits;

/// Keeps reads under a rate: after each chunk, waits until the bytes read so far are what the
/// rate allows for the time spent.
struct RateCap {
    bytes_per_sec: Option<f64>,
    started: Instant,
    read: u64,
}

impl RateCap {
    fn new(mib_per_sec: Option<u64>) -> Self {
        let bytes_per_sec = mib_per_sec.map(|mib| (mib * 1024 * 1024) as f64);
        RateCap { bytes_per_sec, started: Instant::now(), read: 0 }
    }

    async fn take(&mut self, bytes: usize) {
        self.read += bytes as u64;
        let Some(rate) = self.bytes_per_sec else { return };
        let due = Duration::from_secs_f64(self.read as f64 / rate);
        let elapsed = self.started.elapsed();
        if due > elapsed {
            tokio::time::sleep(due - elapsed).await;
        }
    }
}

/// What `--deep` read.
pub struct DeepRead {
    pub problems: Vec<Problem>,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Reads every blob of `intact` and compares its SHA-256 with its droplet's checksum.
pub async fn read_through(
    store: &MetadataStore,
    blobs: &dyn Blobstore,
    intact: &[StagedBits],
    max_mib_per_sec: Option<u64>,
) -> anyhow::Result<DeepRead> {
    let total: u64 = intact.iter().map(|bits| bits.size).sum();
    let progress = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    progress.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    progress.set_message("reading blobs");
    let mut cap = RateCap::new(max_mib_per_sec);
    let mut problems = Vec::new();
    for bits in intact {
        let key = droplet_key(bits.droplet);
        let mut stream = match blobs.scan(&key, bits.size).await {
            Ok(stream) => stream,
            // Deleted since the survey: the droplet went with it, or the next check finds it.
            Err(crate::blobstore::BlobError::NotFound) => continue,
            Err(error) => return Err(error.into()),
        };
        let mut hasher = Sha256::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            progress.inc(chunk.len() as u64);
            cap.take(chunk.len()).await;
        }
        let actual = hex::encode(hasher.finalize());
        if actual != bits.sha256 && still_staged(store, bits).await? {
            let (droplet, expected) = (bits.droplet, bits.sha256.clone());
            problems.push(Problem::ChecksumMismatch { droplet, key, expected, actual });
        }
    }
    progress.finish_and_clear();
    Ok(DeepRead { problems, bytes: cap.read, elapsed: cap.started.elapsed() })
}
