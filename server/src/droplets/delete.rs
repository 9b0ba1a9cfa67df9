//! `DELETE /v3/droplets/{guid}`: the droplet's row goes at once, together with the durable
//! `droplet.delete` job that removes its blob.
//!
//! A job still working on the droplet (an upload streaming or processing, a copy) finds no droplet
//! when it records its outcome, and removes the blob it published itself; an upload still
//! streaming loses its claim and discards its partial blob.

use std::sync::Arc;

use droplet_api::CfError;
use slog::Logger;
use uuid::Uuid;

use crate::auth::{Access, Caller};
use crate::blobstore::{Blobstore, droplet_key};
use crate::context::ServerContext;
use crate::errors::blobstore_job_error;
use crate::jobs::retry::retry;
use crate::jobs::runner::JobOutcome;
use crate::store::MetadataStore;
use crate::store::records::{DELETE_OPERATION, JobRecord};
use crate::time::now_secs;

/// Deletes the droplet and starts its job; returns the job.
pub async fn start(
    ctx: &Arc<ServerContext>,
    guid: &str,
    caller: &Caller,
) -> Result<JobRecord, CfError> {
    // The reference's order: the droplet (404), then the caller (403).
    let droplet = super::by_path(&ctx.store, guid).await?;
    caller.require(Access::Write)?;
    let job = JobRecord::new(DELETE_OPERATION, droplet.guid, now_secs());
    // A resumable upload's bytes have no request to discard them: the job does (should this
    // process die first, the stale-write sweep does, since no droplet records them any more).
    let pending = ctx.store.pending_blob(droplet.guid).await?;
    let work = {
        let (ctx, droplet, job) = (ctx.clone(), droplet.guid, job.guid);
        async move {
            let log = ctx.log.new(slog::o!("job" => job.to_string()));
            if let Some(pending) = pending
                && let Err(error) = ctx.blobs.discard(&droplet_key(droplet), &pending).await
            {
                slog::warn!(log, "discarding a deleted droplet's upload in progress failed; \
                    the stale-write sweep will"; "pending" => pending, "error" => %error);
            }
            finish(&ctx.store, ctx.blobs.as_ref(), &log, droplet, job).await
        }
    };
    let record = ctx.store.delete_droplet(droplet.guid, &job);
    if ctx.jobs.start(job.guid, DELETE_OPERATION, record, work).await?.is_none() {
        // A concurrent delete won.
        return Err(CfError::not_found("Droplet"));
    }
    Ok(job)
}

/// The `droplet.delete` job, once the droplet's row is gone: removes the blob, then completes.
/// Also how a replica finishes a delete whose server died.
pub async fn finish(
    store: &MetadataStore,
    blobs: &dyn Blobstore,
    log: &Logger,
    droplet: Uuid,
    job: Uuid,
) -> JobOutcome {
    let key = droplet_key(droplet);
    let log = log.new(slog::o!("droplet" => droplet.to_string()));
    // Removing is idempotent, so any failure is worth another attempt.
    let what = "removing a deleted droplet's blob";
    let removed = retry(&log, what, |_| true, || blobs.delete(&key)).await;
    let (recorded, outcome) = match removed {
        Ok(()) => (store.complete_job(job, now_secs()).await, JobOutcome::Complete),
        Err(error) => {
            slog::error!(log, "removing a deleted droplet's blob failed"; "error" => %error);
            let error = blobstore_job_error(&error);
            (store.fail_job(job, droplet, &error, now_secs()).await, JobOutcome::Failed)
        }
    };
    match recorded {
        Ok(()) => outcome,
        Err(error) => {
            slog::error!(log, "recording the delete job's outcome failed";
                "job" => %job, "error" => %error);
            JobOutcome::Unrecorded
        }
    }
}
