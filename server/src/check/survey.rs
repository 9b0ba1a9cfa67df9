//! The survey: reads the metadata and lists the store, and finds where they disagree, without
//! changing either. Each candidate is asked about again before it is reported, so that what a
//! server did meanwhile (an upload staged, a droplet deleted, a copy started) is not mistaken
//! for a fault: the metadata is read before the store is listed where a row comes after its blob
//! (a staged droplet), and after where a blob comes first (an owner, a recorded write).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::findings::Problem;
use super::stale_writes::{self, age};
use crate::blobstore::{
    BlobError, Blobstore, DROPLETS_PREFIX, PendingKind, StoredBlob, droplet_key,
};
use crate::store::MetadataStore;
use crate::store::consistency::StagedBits;
use crate::time::now_ms;

/// What the survey found, and what it read to find it.
pub struct Survey {
    pub problems: Vec<Problem>,
    /// The staged droplets whose blob is there with the right size: what `--deep` reads.
    pub intact: Vec<StagedBits>,
    pub staged: usize,
    pub blobs: usize,
}

pub async fn survey(
    store: &MetadataStore,
    blobs: &dyn Blobstore,
    grace: Duration,
) -> anyhow::Result<Survey> {
    let staged = store.staged_droplets().await?;
    let listed = blobs.list(DROPLETS_PREFIX).await?;
    let owners = store.blob_owners().await?;
    let mut problems = Vec::new();
    let stored: HashMap<&str, &StoredBlob> =
        listed.iter().map(|blob| (blob.key.as_str(), blob)).collect();
    let mut intact = Vec::new();
    for bits in &staged {
        let key = droplet_key(bits.droplet);
        let size = stored.get(key.as_str()).map(|blob| blob.size);
        if size == Some(bits.size) {
            intact.push(bits.clone());
        } else if let Some(problem) = confirm_bits(store, blobs, bits).await? {
            problems.push(problem);
        }
    }
    let now = SystemTime::now();
    for blob in &listed {
        let guid = &blob.key[DROPLETS_PREFIX.len()..];
        let age = age(blob.modified, now);
        if owners.contains(guid) || age < grace || store.owns_blob(guid).await? {
            continue;
        }
        let (key, size, age_secs) = (blob.key.clone(), blob.size, age.as_secs());
        problems.push(Problem::OrphanBlob { key, size, age_secs });
    }
    let stale = stale_writes::find(store, blobs, grace).await?;
    for write in stale {
        let age_secs = age(write.started, now).as_secs();
        problems.push(match (write.kind, write.key) {
            (PendingKind::MultipartUpload, Some(key)) => {
                Problem::StaleMultipartUpload { key, upload_id: write.name, age_secs }
            }
            (PendingKind::CopyTempFile, copy_into) => {
                Problem::StaleTempFile { name: write.name, copy_into, age_secs }
            }
            (PendingKind::ResumableFile | PendingKind::ResumableTails, _) => {
                Problem::StaleResumableWrite { name: write.name, age_secs }
            }
            (_, _) => Problem::StaleTempFile { name: write.name, copy_into: None, age_secs },
        });
    }
    problems.extend(overdue_jobs(store, grace).await?);
    Ok(Survey { problems, intact, staged: staged.len(), blobs: listed.len() })
}

/// A staged droplet whose blob the listing did not show with its size: asked again, the blob
/// and the row. None if it was a race (the droplet was deleted, or its blob appeared).
pub async fn confirm_bits(
    store: &MetadataStore,
    blobs: &dyn Blobstore,
    bits: &StagedBits,
) -> anyhow::Result<Option<Problem>> {
    let key = droplet_key(bits.droplet);
    let actual = match blobs.stat(&key).await {
        Ok(blob) if blob.size == bits.size => return Ok(None),
        Ok(blob) => Some(blob.size),
        Err(BlobError::NotFound) => None,
        Err(error) => return Err(error.into()),
    };
    if !still_staged(store, bits).await? {
        return Ok(None);
    }
    let droplet = bits.droplet;
    Ok(Some(match actual {
        None => Problem::MissingBlob { droplet, key },
        Some(actual) => Problem::SizeMismatch { droplet, key, expected: bits.size, actual },
    }))
}

/// Whether the droplet is still `STAGED` with the bits the check compared against.
pub async fn still_staged(store: &MetadataStore, bits: &StagedBits) -> anyhow::Result<bool> {
    let staged = store.staged_bits(bits.droplet).await?;
    Ok(staged.is_some_and(|(_, now)| now.sha256 == bits.sha256 && now.size == bits.size))
}

/// Jobs `PROCESSING` longer than `grace` after their lease ran out.
async fn overdue_jobs(store: &MetadataStore, grace: Duration) -> anyhow::Result<Vec<Problem>> {
    let now = now_ms();
    let jobs = store.overdue_jobs(now - grace.as_millis() as i64).await?;
    Ok(jobs
        .into_iter()
        .map(|job| Problem::OverdueJob {
            job: job.guid,
            operation: job.operation,
            droplet: job.droplet,
            overdue_secs: ((now - job.lapsed_ms).max(0) / 1000) as u64,
        })
        .collect())
}
