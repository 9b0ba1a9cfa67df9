//! The `droplet.upload` job: after the 202, waits for the checks, commits the blob, and stages
//! the droplet, or fails it with the reason. How a job's outcome is recorded is shared with the
//! resumable upload's job (`resumable::completion`).

use std::sync::Arc;

use droplet_api::{ErrorItem, UploadResource};
use slog::Logger;
use uuid::Uuid;

use crate::blobstore::{BlobWriter, Blobstore, droplet_key};
use crate::context::ServerContext;
use crate::errors::{blobstore_job_error, unknown_job_error};
use crate::inspection::{self, Checks, InspectStoredError, Panicked, Rejection};
use crate::jobs::retry::retry;
use crate::jobs::runner::JobOutcome;
use crate::metrics::Metrics;
use crate::store::MetadataStore;
use crate::store::droplets::BitsRecorded;
use crate::store::records::StoredBits;
use crate::time::now_secs;

/// What a job whose bits could not be checked (a check panicked) records.
const CHECK_FAILED: &str = "The uploaded bits could not be checked: the check failed unexpectedly (an internal error \
     of the server).";

/// What the request handed over: the upload's checks, still finishing, and the unpublished blob.
pub struct ReceivedBits {
    pub checks: Checks,
    pub blob: Box<dyn BlobWriter>,
    /// `resources` that arrived after the bits: checked by reading the stored blob once more.
    pub late_resources: Option<Vec<UploadResource>>,
}

/// What an upload job works with: those of the process that received the bits, or of the
/// recovery that redoes a resumable upload's job.
pub struct JobParts<'a> {
    pub store: &'a MetadataStore,
    pub blobs: &'a dyn Blobstore,
    pub metrics: &'a Metrics,
    pub log: Logger,
}

impl<'a> JobParts<'a> {
    pub fn of(ctx: &'a ServerContext, droplet: Uuid, job: Uuid) -> Self {
        let log = ctx.log.new(slog::o!("droplet" => droplet.to_string(), "job" => job.to_string()));
        JobParts { store: &ctx.store, blobs: ctx.blobs.as_ref(), metrics: &ctx.metrics, log }
    }
}

/// The job, run by the server that received the bits.
pub async fn finish(
    ctx: Arc<ServerContext>,
    droplet: Uuid,
    job: Uuid,
    bits: ReceivedBits,
) -> JobOutcome {
    let parts = JobParts::of(&ctx, droplet, job);
    let outcome = store_bits(&parts, droplet, bits).await;
    record_outcome(&parts, droplet, job, outcome).await
}

/// Records how an upload job ended: the droplet `STAGED` with its bits, or `FAILED` with why.
pub(super) async fn record_outcome(
    parts: &JobParts<'_>,
    droplet: Uuid,
    job: Uuid,
    outcome: Result<StoredBits, ErrorItem>,
) -> JobOutcome {
    let log = &parts.log;
    // The upload's buffers are gone: hand what they held back to the system.
    crate::allocator::release_freed_memory();
    let bits = match outcome {
        Ok(bits) => bits,
        Err(error) => return record_failure(parts, droplet, job, &error).await,
    };
    match parts.store.complete_upload(droplet, job, &bits, now_secs()).await {
        Err(error) => {
            slog::error!(log, "recording the upload's outcome failed"; "error" => %error);
            JobOutcome::Unrecorded
        }
        Ok(BitsRecorded::Recorded) => {
            slog::info!(log, "droplet staged"; "bytes" => bits.size, "sha256" => &bits.sha256);
            JobOutcome::Complete
        }
        // Deleted while the job ran, after its delete job removed a blob not yet published.
        Ok(BitsRecorded::DropletGone) => {
            if let Err(error) = crate::droplets::remove_orphan_blob(parts.blobs, log, droplet).await
            {
                slog::error!(log, "removing a deleted droplet's blob failed; it is left behind";
                    "key" => droplet_key(droplet), "error" => %error);
            }
            JobOutcome::Complete
        }
        // The replica that took the job over fails the droplet and removes its blob, which it
        // may have done before this process published it: it goes here too.
        Ok(BitsRecorded::JobLost) => {
            slog::warn!(log, "another replica took this upload's job over; removing the blob");
            if let Err(error) = parts.blobs.delete(&droplet_key(droplet)).await {
                slog::error!(log, "removing the blob of an upload taken over failed; it is left \
                    behind"; "key" => droplet_key(droplet), "error" => %error);
            }
            JobOutcome::Unrecorded
        }
    }
}

/// Fails the job and its droplet with `error`; nothing changes if the job is no longer this
/// process's.
async fn record_failure(
    parts: &JobParts<'_>,
    droplet: Uuid,
    job: Uuid,
    error: &ErrorItem,
) -> JobOutcome {
    let log = &parts.log;
    match parts.store.fail_job(job, droplet, error, now_secs()).await {
        Ok(()) => {
            slog::warn!(log, "upload failed"; "reason" => &error.detail);
            JobOutcome::Failed
        }
        Err(error) => {
            slog::error!(log, "recording the upload's outcome failed"; "error" => %error);
            JobOutcome::Unrecorded
        }
    }
}

async fn store_bits(
    parts: &JobParts<'_>,
    droplet: Uuid,
    work: ReceivedBits,
) -> Result<StoredBits, ErrorItem> {
    // A check that panicked drops the writer on the way out, which discards the partial blob.
    let checked = work.checks.finish().await.map_err(|p| panicked(&parts.log, p))?;
    parts.metrics.upload_size.observe(checked.size as f64);
    if let Err(reason) = checked.inspection {
        // Dropping the writer discards the partial blob.
        drop(work.blob);
        return Err(invalid_bits(reason));
    }
    let key = droplet_key(droplet);
    work.blob.commit().await.map_err(blobstore_job_error)?;
    if let Some(resources) = work.late_resources
        && let Err(reason) = reinspect(parts, &key, checked.size, resources).await
    {
        remove_refused_blob(parts, &key).await;
        return Err(reason);
    }
    Ok(StoredBits { sha256: checked.sha256, size: checked.size })
}

async fn reinspect(
    parts: &JobParts<'_>,
    key: &str,
    size: u64,
    resources: Vec<UploadResource>,
) -> Result<(), ErrorItem> {
    let stored = parts.blobs.scan(key, size).await.map_err(blobstore_job_error)?;
    match inspection::inspect_stored(stored, resources).await {
        Ok(inspected) => inspected.map_err(invalid_bits),
        Err(InspectStoredError::Read(error)) => Err(blobstore_job_error(error)),
        Err(InspectStoredError::Panicked(panic)) => Err(panicked(&parts.log, panic)),
    }
}

/// Removes the published blob of bits a check refused. A store that fails even after the
/// retries leaves the blob with the droplet, which is `FAILED` and offers no bits: its delete
/// (`DELETE /v3/droplets/{guid}`) removes the blob as it removes any droplet's.
pub(super) async fn remove_refused_blob(parts: &JobParts<'_>, key: &str) {
    let what = "removing a refused upload's blob";
    if let Err(error) = retry(&parts.log, what, |_| true, || parts.blobs.delete(key)).await {
        slog::error!(parts.log, "removing a refused upload's blob failed; it stays until the droplet \
            is deleted"; "key" => key, "error" => %error);
    }
}

/// A check that panicked fails the upload: its bits could not be checked.
pub(super) fn panicked(log: &Logger, panic: Panicked) -> ErrorItem {
    slog::error!(log, "an upload check panicked; the upload fails"; "check" => panic.check,
        "panic" => panic.message);
    unknown_job_error(CHECK_FAILED)
}

pub(super) fn invalid_bits(reason: Rejection) -> ErrorItem {
    let error =
        droplet_api::CfError::unprocessable(format!("Uploaded droplet is invalid: {reason}"));
    error.item().clone()
}
