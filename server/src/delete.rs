//! `DELETE /v3/droplets/{guid}`: the droplet's row goes at once, together with the durable
//! `droplet.delete` job that removes its blob (see `jobs`).
//!
//! A job still working on the droplet (an upload streaming or processing, a copy) finds no droplet
//! when it records its outcome, and removes the blob it published itself; an upload still
//! streaming loses its claim and discards its partial blob.

use std::sync::Arc;

use droplet_api::CfError;

use crate::auth::{Access, Caller};
use crate::context::ServerContext;
use crate::jobs;
use crate::metadata::{DELETE_OPERATION, JobRecord};
use crate::time::now_secs;

/// Deletes the droplet and starts its job; returns the job.
pub async fn start(
    ctx: &Arc<ServerContext>,
    guid: &str,
    caller: &Caller,
) -> Result<JobRecord, CfError> {
    // The reference's order: the droplet (404), then the caller (403).
    let droplet = ctx.droplet_by_path(guid).await?;
    caller.require(Access::Write)?;
    let job = jobs::new_job(DELETE_OPERATION, droplet.guid, now_secs());
    if !ctx.store.delete_droplet(droplet.guid, &job).await? {
        // A concurrent delete won.
        return Err(CfError::not_found("Droplet"));
    }
    let (ctx, droplet, job_guid) = (ctx.clone(), droplet.guid, job.guid);
    tokio::spawn(async move {
        let log = ctx.log.new(slog::o!("job" => job_guid.to_string()));
        let _lease = jobs::JobLease::hold(&ctx.store, &log, job_guid);
        jobs::finish_delete(&ctx.store, ctx.blobs.as_ref(), &log, droplet, job_guid).await;
    });
    Ok(job)
}
