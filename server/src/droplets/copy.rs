//! `POST /v3/droplets?source_guid=S`: copies a `STAGED` droplet to an app, as the reference's
//! `DropletCopy` and `DropletBitsCopier` do. The new droplet is `COPYING`, with an internal
//! `droplet.copy` job recorded in the same transaction; the job copies the blob and gives the
//! droplet the source's state and checksum, or fails it with `failed to copy - <reason>`. The job
//! records its source, and copying is idempotent, so a copy whose server died is finished the same
//! way by a replica once its lease runs out (see `crate::droplets::recovery`).

use std::sync::Arc;

use droplet_api::{CfError, DropletCreate, DropletState};
use uuid::Uuid;

use crate::auth::{Access, Caller};
use crate::blobstore::{Blobstore, droplet_key};
use crate::context::ServerContext;
use crate::errors::unknown_job_error;
use crate::jobs::retry::retry;
use crate::jobs::runner::JobOutcome;
use crate::store::MetadataStore;
use crate::store::droplets::BitsRecorded;
use crate::store::records::{COPY_OPERATION, DropletRecord, JobRecord, StoredBits};
use crate::time::now_secs;

/// The reference's `DropletCopy::InvalidCopyError` for a source that has no bits to copy.
const NOT_STAGED: &str = "source droplet is not staged";
/// Why a copy whose source was deleted or failed meanwhile fails.
const NO_SOURCE: &str = "source droplet does not exist or is not staged";

/// Creates the copy and starts its job; returns the new droplet, `COPYING`.
pub async fn start(
    ctx: &Arc<ServerContext>,
    caller: &Caller,
    source_guid: &str,
    body: &DropletCreate,
) -> Result<DropletRecord, CfError> {
    // The reference's order: the message (422), the source (404), the caller (403), the
    // source's state (422). A copy message holds only `relationships`.
    let extra: Vec<&str> = [
        body.process_types.as_ref().map(|_| "process_types"),
        body.metadata.as_ref().map(|_| "metadata"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !extra.is_empty() {
        return Err(CfError::unprocessable(format!("Unknown field(s): '{}'", extra.join("', '"))));
    }
    let source = super::by_path(&ctx.store, source_guid).await?;
    caller.require(Access::Write)?;
    if source.state != DropletState::Staged {
        return Err(CfError::unprocessable(NOT_STAGED));
    }
    let now = now_secs();
    let droplet = DropletRecord {
        guid: Uuid::new_v4(),
        app_guid: body.relationships.app.data.guid,
        state: DropletState::Copying,
        error: None,
        checksum_sha256: None,
        blob_size: None,
        process_types: source.process_types.clone(),
        labels: Default::default(),
        annotations: Default::default(),
        created_at: now,
        updated_at: now,
    };
    let job = JobRecord {
        source_guid: Some(source.guid),
        ..JobRecord::new(COPY_OPERATION, droplet.guid, now)
    };
    let record = async { ctx.store.insert_copy(&droplet, &job).await.map(|()| true) };
    let work = run(ctx.clone(), source.guid, droplet.guid, job.guid);
    ctx.jobs.start(job.guid, COPY_OPERATION, record, work).await?;
    Ok(droplet)
}

/// The copy job, run by the server that created the copy.
async fn run(ctx: Arc<ServerContext>, source: Uuid, droplet: Uuid, job: Uuid) -> JobOutcome {
    crate::faults::panic_if_injected(crate::faults::COPY_JOB);
    let log = ctx.log.new(slog::o!("droplet" => droplet.to_string(), "job" => job.to_string()));
    match finish(&ctx.store, ctx.blobs.as_ref(), &log, source, droplet, job).await {
        Ok(outcome) => outcome,
        Err(error) => {
            // The job stays PROCESSING and the droplet COPYING; the runner gives the job up, and
            // recovery's next sweep (of this process or another replica) copies again.
            slog::error!(log, "the copy could not be finished now; left to recovery";
                "error" => %error);
            JobOutcome::Unrecorded
        }
    }
}

/// Copies the source's bits to the droplet and records the outcome: the droplet gets the
/// source's state and checksum, or fails with the reason. A store that cannot be reached is
/// tried again a few times (`crate::jobs::retry`), and then is no reason to fail the copy: Err,
/// as when the outcome could not be recorded, and the copy is left to recovery. Also how a
/// replica finishes a copy whose server died (the caller holds the job's lease); copying again
/// is harmless.
pub async fn finish(
    store: &MetadataStore,
    blobs: &dyn Blobstore,
    log: &slog::Logger,
    source: Uuid,
    droplet: Uuid,
    job: Uuid,
) -> Result<JobOutcome, CfError> {
    let copied = retry(log, "copying a droplet", CopyFailure::may_pass, || {
        copy_bits(store, blobs, source, droplet)
    })
    .await;
    match copied {
        Ok((state, bits)) => {
            match store.complete_copy(droplet, job, state, &bits, now_secs()).await? {
                BitsRecorded::Recorded => {
                    slog::info!(log, "droplet copied"; "source" => %source, "bytes" => bits.size);
                }
                BitsRecorded::DropletGone => {
                    super::remove_orphan_blob(blobs, log, droplet).await?;
                }
                // The replica that took the job over copies again, into the same blob: it stays.
                BitsRecorded::JobLost => return Ok(JobOutcome::Unrecorded),
            }
            Ok(JobOutcome::Complete)
        }
        Err(CopyFailure::Passing(error)) => Err(error),
        Err(CopyFailure::Lasting(reason)) => {
            slog::warn!(log, "copying a droplet failed"; "source" => %source, "reason" => &reason);
            let error = unknown_job_error(format!("failed to copy - {reason}"));
            store.fail_job(job, droplet, &error, now_secs()).await?;
            Ok(JobOutcome::Failed)
        }
    }
}

/// Why copying failed.
enum CopyFailure {
    /// A store could not be reached, or the metadata could not be read (which says nothing of
    /// the source): worth another attempt.
    Passing(CfError),
    /// The source has no bits to copy, or the blobstore refused: the copy fails with this reason.
    Lasting(String),
}

impl CopyFailure {
    fn may_pass(&self) -> bool {
        matches!(self, CopyFailure::Passing(_))
    }
}

impl std::fmt::Display for CopyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyFailure::Passing(error) => error.fmt(f),
            CopyFailure::Lasting(reason) => f.write_str(reason),
        }
    }
}

/// Copies the source's blob; returns the source's state and bits, read before the copy.
async fn copy_bits(
    store: &MetadataStore,
    blobs: &dyn Blobstore,
    source: Uuid,
    droplet: Uuid,
) -> Result<(DropletState, StoredBits), CopyFailure> {
    let staged = store.staged_bits(source).await;
    let (state, bits) = staged
        .map_err(|error| CopyFailure::Passing(error.into()))?
        .ok_or_else(|| CopyFailure::Lasting(NO_SOURCE.to_owned()))?;
    match blobs.copy(&droplet_key(source), &droplet_key(droplet)).await {
        Ok(()) => Ok((state, bits)),
        Err(error) if error.is_unavailable() => Err(CopyFailure::Passing(error.into())),
        Err(error) => Err(CopyFailure::Lasting(error.to_string())),
    }
}
