//! The `droplet.upload` job of a resumable upload whose bytes have all arrived: the bits'
//! checks, the write published under the droplet's key, the droplet staged or failed.
//!
//! The checks are those the appends fed, when every append reached this process in order;
//! otherwise the job publishes the write and reads the stored bits through fresh checks, as
//! it does when recovery redoes the job of a process that died (the write is recorded, so
//! nothing acknowledged is lost with the process). Publishing is idempotent: a job redone
//! after the write was published finds the blob there.

use std::sync::Arc;

use droplet_api::ErrorItem;
use futures::StreamExt;
use uuid::Uuid;

use super::super::job::{JobParts, invalid_bits, panicked, record_outcome, remove_refused_blob};
use crate::blobstore::droplet_key;
use crate::blobstore::resumable::ResumableWrite;
use crate::context::ServerContext;
use crate::errors::{blobstore_job_error, unknown_job_error};
use crate::inspection::{Checked, Checks};
use crate::jobs::retry::retry;
use crate::jobs::runner::JobOutcome;
use crate::store::records::StoredBits;
use crate::store::resumable_uploads::ResumableUpload;

/// The job, run by the process that received the last byte, with the checks its appends fed
/// if they read every byte.
pub async fn finish(
    ctx: Arc<ServerContext>,
    upload: ResumableUpload,
    job: Uuid,
    checks: Option<Checks>,
) -> JobOutcome {
    let parts = JobParts::of(&ctx, upload.droplet, job);
    let checks_are =
        if checks.is_some() { "fed by its appends" } else { "to read the stored bits" };
    slog::info!(parts.log, "a resumable upload's bytes have all arrived"; "checks" => checks_are);
    let outcome = store_bits(&parts, &upload, checks).await;
    record_outcome(&parts, upload.droplet, job, outcome).await
}

/// The job again, by recovery, from what the upload recorded.
pub async fn redo(parts: &JobParts<'_>, upload: ResumableUpload, job: Uuid) -> JobOutcome {
    slog::info!(parts.log, "redoing a resumable upload's job, from its recorded write");
    let outcome = store_bits(parts, &upload, None).await;
    record_outcome(parts, upload.droplet, job, outcome).await
}

async fn store_bits(
    parts: &JobParts<'_>,
    upload: &ResumableUpload,
    checks: Option<Checks>,
) -> Result<StoredBits, ErrorItem> {
    let write: ResumableWrite = serde_json::from_str(&upload.write)
        .map_err(|e| unknown_job_error(format!("The upload's record is unreadable: {e}")))?;
    let key = droplet_key(upload.droplet);
    let checked = match checks {
        Some(checks) => {
            let checked = checks.finish().await.map_err(|p| panicked(&parts.log, p))?;
            if let Err(reason) = checked.inspection {
                discard(parts, &key, &write).await;
                return Err(invalid_bits(reason));
            }
            publish(parts, &key, &write, upload.length).await?;
            checked
        }
        None => {
            publish(parts, &key, &write, upload.length).await?;
            let checked = read_through(parts, &key, upload.length).await?;
            if let Err(reason) = checked.inspection {
                remove_refused_blob(parts, &key).await;
                return Err(invalid_bits(reason));
            }
            checked
        }
    };
    parts.metrics.upload_size.observe(checked.size as f64);
    Ok(StoredBits { sha256: checked.sha256, size: checked.size })
}

/// Publishes the write under `key`, unless a job before this one did.
async fn publish(
    parts: &JobParts<'_>,
    key: &str,
    write: &ResumableWrite,
    length: u64,
) -> Result<(), ErrorItem> {
    if parts.blobs.stat(key).await.is_ok_and(|blob| blob.size == length) {
        return Ok(());
    }
    let what = "publishing a resumable upload";
    let published = retry(
        &parts.log,
        what,
        |e: &crate::blobstore::BlobError| e.is_unavailable(),
        || parts.blobs.finish_resumable(key, write),
    );
    published.await.map_err(blobstore_job_error)?;
    crate::faults::abort_if_injected(crate::faults::RESUMABLE_JOB_PUBLISHED);
    Ok(())
}

/// The stored bits, read through fresh checks.
async fn read_through(parts: &JobParts<'_>, key: &str, length: u64) -> Result<Checked, ErrorItem> {
    let mut checks = Checks::start(Vec::new());
    let mut stored = parts.blobs.scan(key, length).await.map_err(blobstore_job_error)?;
    while let Some(chunk) = stored.next().await {
        checks.feed(chunk.map_err(blobstore_job_error)?).await;
    }
    checks.finish().await.map_err(|p| panicked(&parts.log, p))
}

/// Discards the write of refused bits; a store that fails leaves it to the stale-write sweep
/// (the droplet, failed, records it no more).
async fn discard(parts: &JobParts<'_>, key: &str, write: &ResumableWrite) {
    if let Err(error) = parts.blobs.discard(key, &write.name).await {
        slog::warn!(parts.log, "discarding refused bits failed; the stale-write sweep will";
            "write" => &write.name, "error" => %error);
    }
}
