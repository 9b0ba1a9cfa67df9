//! The `droplet.upload` job: after the 202, waits for the digests and the inspection, commits the
//! blob, and stages the droplet, or fails it with the reason.

use std::sync::Arc;

use droplet_api::{ErrorItem, UploadResource};
use slog::Logger;
use uuid::Uuid;

use super::inspect::{self, Rejection};
use super::sink::Sink;
use crate::blobstore::{BlobWriter, droplet_key};
use crate::context::ServerContext;
use crate::errors::{blobstore_job_error, unknown_job_error};
use crate::jobs::retry::retry;
use crate::jobs::runner::JobOutcome;
use crate::store::droplets::BitsRecorded;
use crate::store::records::StoredBits;
use crate::time::now_secs;

/// What a job whose bits could not be checked (a worker panicked) records.
const CHECK_FAILED: &str = "The uploaded bits could not be checked: the check failed unexpectedly (an internal error \
     of the server).";

/// What the request handed over: the upload's workers, still finishing, and the unpublished blob.
pub struct ReceivedBits {
    pub sha256: Sink<(String, u64)>,
    pub inspection: Sink<Result<(), Rejection>>,
    pub blob: Box<dyn BlobWriter>,
    /// `resources` that arrived after the bits: checked by reading the stored blob once more.
    pub late_resources: Option<Vec<UploadResource>>,
}

/// The job, run by the server that received the bits.
pub async fn finish(
    ctx: Arc<ServerContext>,
    droplet: Uuid,
    job: Uuid,
    bits: ReceivedBits,
) -> JobOutcome {
    let log = ctx.log.new(slog::o!("droplet" => droplet.to_string(), "job" => job.to_string()));
    let outcome = store_bits(&ctx, &log, droplet, bits).await;
    // The upload's buffers are gone: hand what they held back to the system.
    crate::allocator::release_freed_memory();
    let bits = match outcome {
        Ok(bits) => bits,
        Err(error) => return record_failure(&ctx, &log, droplet, job, &error).await,
    };
    match ctx.store.complete_upload(droplet, job, &bits, now_secs()).await {
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
            let blobs = ctx.blobs.as_ref();
            if let Err(error) = crate::droplets::remove_orphan_blob(blobs, &log, droplet).await {
                slog::error!(log, "removing a deleted droplet's blob failed; it is left behind";
                    "key" => droplet_key(droplet), "error" => %error);
            }
            JobOutcome::Complete
        }
        // The replica that took the job over fails the droplet and removes its blob, which it
        // may have done before this process published it: it goes here too.
        Ok(BitsRecorded::JobLost) => {
            slog::warn!(log, "another replica took this upload's job over; removing the blob");
            if let Err(error) = ctx.blobs.delete(&droplet_key(droplet)).await {
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
    ctx: &ServerContext,
    log: &Logger,
    droplet: Uuid,
    job: Uuid,
    error: &ErrorItem,
) -> JobOutcome {
    match ctx.store.fail_job(job, droplet, error, now_secs()).await {
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
    ctx: &ServerContext,
    log: &Logger,
    droplet: Uuid,
    work: ReceivedBits,
) -> Result<StoredBits, ErrorItem> {
    // A worker that panicked drops the writer on the way out, which discards the partial blob.
    let (sha256, size) = work.sha256.finish().await.map_err(|p| panicked(log, "digest", &p))?;
    ctx.metrics.upload_size.observe(size as f64);
    let inspected = work.inspection.finish().await.map_err(|p| panicked(log, "inspection", &p))?;
    if let Err(reason) = inspected {
        // Dropping the writer discards the partial blob.
        drop(work.blob);
        return Err(invalid_bits(reason));
    }
    let key = droplet_key(droplet);
    work.blob.commit().await.map_err(blobstore_job_error)?;
    if let Some(resources) = work.late_resources
        && let Err(reason) = reinspect(ctx, log, &key, size, resources).await
    {
        remove_refused_blob(ctx, log, &key).await;
        return Err(reason);
    }
    Ok(StoredBits { sha256, size })
}

async fn reinspect(
    ctx: &ServerContext,
    log: &Logger,
    key: &str,
    size: u64,
    resources: Vec<UploadResource>,
) -> Result<(), ErrorItem> {
    use futures::StreamExt;
    let mut inspection = Sink::spawn(move |bits| inspect::inspect(bits, &resources));
    if size > 0 {
        let mut stream = ctx.blobs.read(key, 0, size - 1).await.map_err(blobstore_job_error)?;
        while let Some(chunk) = stream.next().await {
            inspection.send(chunk.map_err(blobstore_job_error)?).await;
        }
    }
    let inspected = inspection.finish().await.map_err(|p| panicked(log, "inspection", &p))?;
    inspected.map_err(invalid_bits)
}

/// Removes the published blob of bits the second check refused. A store that fails even after
/// the retries leaves the blob with the droplet, which is `FAILED` and offers no bits: its
/// delete (`DELETE /v3/droplets/{guid}`) removes the blob as it removes any droplet's.
async fn remove_refused_blob(ctx: &ServerContext, log: &Logger, key: &str) {
    let what = "removing a refused upload's blob";
    if let Err(error) = retry(log, what, |_| true, || ctx.blobs.delete(key)).await {
        slog::error!(log, "removing a refused upload's blob failed; it stays until the droplet \
            is deleted"; "key" => key, "error" => %error);
    }
}

/// A worker that panicked fails the upload: its bits could not be checked.
fn panicked(log: &Logger, worker: &str, panic: &str) -> ErrorItem {
    slog::error!(log, "an upload worker panicked; the upload fails"; "worker" => worker,
        "panic" => panic);
    unknown_job_error(CHECK_FAILED)
}

fn invalid_bits(reason: Rejection) -> ErrorItem {
    let error =
        droplet_api::CfError::unprocessable(format!("Uploaded droplet is invalid: {reason}"));
    error.item().clone()
}
