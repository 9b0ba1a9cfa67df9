//! The `droplet.upload` job: after the 202, waits for the digests and the inspection, commits the
//! blob, and stages the droplet, or fails it with the reason.

use std::sync::Arc;

use droplet_api::{ErrorItem, UploadResource};
use uuid::Uuid;

use super::inspect::{self, Rejection};
use super::sink::Sink;
use crate::blobstore::{BlobWriter, droplet_key};
use crate::context::ServerContext;
use crate::errors::blobstore_job_error;
use crate::jobs::runner::JobOutcome;
use crate::store::records::StoredBits;
use crate::time::now_secs;

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
    let outcome = store_bits(&ctx, droplet, bits).await;
    // The upload's buffers are gone: hand what they held back to the system.
    crate::allocator::release_freed_memory();
    let recorded = match &outcome {
        Ok(bits) => match ctx.store.complete_upload(droplet, job, bits, now_secs()).await {
            Ok(true) => Ok(()),
            // Deleted while the job ran, after its delete job removed a blob not yet published.
            Ok(false) => {
                let blobs = ctx.blobs.as_ref();
                crate::droplets::remove_orphan_blob(blobs, &ctx.log, droplet).await
            }
            Err(error) => Err(error.into()),
        },
        Err(error) => ctx.store.fail_job(job, droplet, error, now_secs()).await.map_err(Into::into),
    };
    let log = ctx.log.new(slog::o!("droplet" => droplet.to_string(), "job" => job.to_string()));
    match (&outcome, recorded) {
        (_, Err(error)) => {
            slog::error!(log, "recording the upload's outcome failed"; "error" => %error);
            JobOutcome::Unrecorded
        }
        (Ok(bits), Ok(())) => {
            slog::info!(log, "droplet staged"; "bytes" => bits.size, "sha256" => &bits.sha256);
            JobOutcome::Complete
        }
        (Err(error), Ok(())) => {
            slog::warn!(log, "upload failed"; "reason" => &error.detail);
            JobOutcome::Failed
        }
    }
}

async fn store_bits(
    ctx: &ServerContext,
    droplet: Uuid,
    work: ReceivedBits,
) -> Result<StoredBits, ErrorItem> {
    let (sha256, size) = work.sha256.finish().await;
    ctx.metrics.upload_size.observe(size as f64);
    if let Err(reason) = work.inspection.finish().await {
        // Dropping the writer discards the partial blob.
        drop(work.blob);
        return Err(invalid_bits(reason));
    }
    let key = droplet_key(droplet);
    work.blob.commit().await.map_err(blobstore_job_error)?;
    if let Some(resources) = work.late_resources
        && let Err(reason) = reinspect(ctx, &key, size, resources).await
    {
        let _ = ctx.blobs.delete(&key).await;
        return Err(reason);
    }
    Ok(StoredBits { sha256, size })
}

async fn reinspect(
    ctx: &ServerContext,
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
    inspection.finish().await.map_err(invalid_bits)
}

fn invalid_bits(reason: Rejection) -> ErrorItem {
    let error =
        droplet_api::CfError::unprocessable(format!("Uploaded droplet is invalid: {reason}"));
    error.item().clone()
}
