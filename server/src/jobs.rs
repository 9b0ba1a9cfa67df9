//! The asynchronous work behind droplet operations, and the one place that knows what each kind
//! of job does after a crash.
//!
//! Every job is a row in the metadata store, written in the same transaction as the droplet change
//! that starts it, and left `PROCESSING` until the transaction that records its outcome. The row
//! names its owner (the server process running it) and a lease the owner renews while it works
//! ([`JobLease`]). A job still `PROCESSING` whose lease ran out is therefore exactly a job whose
//! process died before recording its outcome; every replica looks for such jobs at start-up and
//! every half lease ([`spawn_sweeper`]), takes each over with one conditional UPDATE (so exactly
//! one replica settles it), and [`settle_abandoned`] settles it by its operation:
//!
//! | operation | what was lost | recovery |
//! |---|---|---|
//! | `droplet.upload` | the uploaded bits' digests and inspection | discard the pending write, remove the blob, fail the job and the droplet |
//! | `droplet.copy` (internal) | nothing: the job names its source | copy again (idempotent) and complete, or fail as a copy fails |
//! | `droplet.delete` | nothing: the droplet is gone already | remove the blob (idempotent), complete the job |
//!
//! The blob goes first and the job's row last, so a crash during recovery only repeats it (the
//! take-over leased the job to the settling process, and that lease runs out too).
//! Job state changes stay single conditional statements (`WHERE state = 'PROCESSING' AND owner =
//! <this process>`), so a job ends once, and a process that lost its job to a take-over (it only
//! looked dead) changes nothing when it finally records an outcome.
//!
//! Uploads still streaming hold no job but an upload claim on their droplet, leased the same way,
//! with the name of the blob write they started (`pending_blob`). A claim whose lease ran out is
//! taken over by one replica ([`settle_lapsed_uploads`]), which discards the write and frees the
//! droplet for the next upload.
//!
//! On SQLite, which one server process uses at a time, a job owned by another instance is
//! abandoned at once, so a restart settles the previous process's jobs before serving.

use std::sync::Arc;
use std::time::Duration;

use droplet_api::{CfError, ErrorItem, JobState};
use slog::Logger;
use uuid::Uuid;

use crate::blobstore::{BlobError, Blobstore, droplet_key};
use crate::metadata::{
    COPY_OPERATION, DELETE_OPERATION, JobRecord, MetadataStore, UPLOAD_OPERATION,
};
use crate::time::now_secs;

/// Attempts at removing a deleted droplet's blob before its job fails.
const DELETE_ATTEMPTS: u32 = 3;

const UPLOAD_INTERRUPTED: &str =
    "The upload was interrupted: its server stopped; upload into a new droplet.";

/// A new `PROCESSING` job of `operation` on `droplet`.
pub fn new_job(operation: &str, droplet: Uuid, now: i64) -> JobRecord {
    JobRecord {
        guid: Uuid::new_v4(),
        operation: operation.to_owned(),
        state: JobState::Processing,
        droplet_guid: Some(droplet),
        source_guid: None,
        errors: vec![],
        created_at: now,
        updated_at: now,
    }
}

/// An `UnknownError` job error with this detail.
pub fn unknown_error(detail: impl Into<String>) -> ErrorItem {
    let mut item = CfError::unknown().item().clone();
    item.detail = detail.into();
    item
}

/// Removes the blob a job published for a droplet that was deleted while the job ran: the
/// droplet's delete job ran before the blob existed, so it is this job's to remove.
pub async fn remove_orphan(
    blobs: &dyn Blobstore,
    log: &Logger,
    droplet: Uuid,
) -> Result<(), CfError> {
    slog::info!(log, "droplet deleted while its job ran; removing its blob");
    blobs.delete(&droplet_key(droplet)).await.map_err(CfError::from)
}

/// The `droplet.delete` job, once the droplet's row is gone: removes the blob, then completes.
pub async fn finish_delete(
    store: &MetadataStore,
    blobs: &dyn Blobstore,
    log: &Logger,
    droplet: Uuid,
    job: Uuid,
) {
    let key = droplet_key(droplet);
    let mut attempt = 1;
    let removed = loop {
        match blobs.delete(&key).await {
            Ok(()) => break Ok(()),
            Err(error) if attempt < DELETE_ATTEMPTS => {
                slog::warn!(log, "removing a deleted droplet's blob failed; retrying";
                    "droplet" => %droplet, "error" => %error);
                tokio::time::sleep(Duration::from_millis(500) * attempt).await;
                attempt += 1;
            }
            Err(error) => break Err(error),
        }
    };
    let recorded = match removed {
        Ok(()) => store.complete_job(job, now_secs()).await,
        Err(error) => {
            slog::error!(log, "removing a deleted droplet's blob failed";
                "droplet" => %droplet, "error" => %error);
            let mut item = CfError::blobstore_error().item().clone();
            item.detail = format!("{} ({error})", item.detail);
            store.fail_job(job, droplet, &item, now_secs()).await
        }
    };
    if let Err(error) = recorded {
        slog::error!(log, "recording the delete job's outcome failed";
            "job" => %job, "error" => %error);
    }
}

/// A process's hold on a job it runs: renews the job's lease every third of it until dropped.
pub struct JobLease {
    renewal: tokio::task::JoinHandle<()>,
}

impl JobLease {
    pub fn hold(store: &MetadataStore, log: &Logger, job: Uuid) -> JobLease {
        let (store, log) = (store.clone(), log.clone());
        let renewal = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(store.lease() / 3);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match store.renew_job_lease(job).await {
                    Ok(true) => {}
                    // Ended, or taken over by a replica that thought this one dead: whatever
                    // this process records now changes nothing.
                    Ok(false) => break,
                    Err(error) => {
                        slog::warn!(log, "renewing a job lease failed"; "job" => %job,
                            "error" => %error)
                    }
                }
            }
        });
        JobLease { renewal }
    }
}

impl Drop for JobLease {
    fn drop(&mut self) {
        self.renewal.abort();
    }
}

/// Takes over the jobs whose process is gone and settles each (see the module documentation). A
/// job that cannot be settled now is given up again, for a later sweep.
pub async fn settle_abandoned(
    store: &MetadataStore,
    blobs: &dyn Blobstore,
    log: &Logger,
) -> anyhow::Result<()> {
    let abandoned = store
        .abandoned_jobs()
        .await
        .map_err(|e| anyhow::anyhow!("looking for abandoned jobs: {e}"))?;
    for job in &abandoned {
        // One at a time, so that each is held under a renewed lease from its take-over on.
        let taken = store
            .take_over_job(job.guid)
            .await
            .map_err(|e| anyhow::anyhow!("taking over an abandoned job: {e}"))?;
        if !taken {
            continue;
        }
        let _lease = JobLease::hold(store, log, job.guid);
        slog::warn!(log, "settling a job whose server process is gone";
            "job" => %job.guid, "operation" => &job.operation);
        if let Err(error) = settle(store, blobs, log, job).await {
            slog::error!(log, "settling an abandoned job failed; a later sweep retries";
                "job" => %job.guid, "error" => %error);
            if let Err(error) = store.release_job(job.guid).await {
                slog::error!(log, "giving up an abandoned job failed"; "job" => %job.guid,
                    "error" => %error);
            }
        }
    }
    Ok(())
}

/// Settles one job this process took over, by its operation.
async fn settle(
    store: &MetadataStore,
    blobs: &dyn Blobstore,
    log: &Logger,
    job: &JobRecord,
) -> Result<(), CfError> {
    // Every job names its droplet; a row without one has nothing to clean up.
    let droplet = job.droplet_guid.unwrap_or_default();
    let failure = match (job.operation.as_str(), job.source_guid) {
        (DELETE_OPERATION, _) => {
            finish_delete(store, blobs, log, droplet, job.guid).await;
            return Ok(());
        }
        (COPY_OPERATION, Some(source)) => {
            return crate::copy::finish(store, blobs, log, source, droplet, job.guid).await;
        }
        (UPLOAD_OPERATION, _) => UPLOAD_INTERRUPTED,
        _ => "The job was interrupted: its server stopped.",
    };
    if job.droplet_guid.is_some() {
        if let Some(pending) = store.pending_blob(droplet).await? {
            discard_pending(blobs, log, droplet, &pending).await?;
        }
        // The blob may have been published just before the process died: the droplet is about
        // to be FAILED, so its bits must not linger.
        blobs.delete(&droplet_key(droplet)).await?;
    }
    store.fail_job(job.guid, droplet, &unknown_error(failure), now_secs()).await
}

/// Discards what a dead process's blob write left. Only a store that cannot be reached is an
/// error, to be retried by a later sweep; a store that refuses is logged and left to the
/// backstop (the bucket's lifecycle rule for incomplete uploads), since asking again would not
/// help.
async fn discard_pending(
    blobs: &dyn Blobstore,
    log: &Logger,
    droplet: Uuid,
    pending: &str,
) -> Result<(), BlobError> {
    match blobs.discard(&droplet_key(droplet), pending).await {
        Err(error @ BlobError::Unavailable(_)) => Err(error),
        Err(error) => {
            slog::error!(log, "discarding an interrupted upload's blob failed; leaving it";
                "droplet" => %droplet, "pending" => pending, "error" => %error);
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// Takes over the upload claims whose process is gone (their lease ran out; with `all`, every
/// claim, at start-up on SQLite) and discards each one's pending blob write, then frees the
/// droplet for the next upload. A write that cannot be discarded now keeps its claim, which
/// lapses again for a later sweep.
pub async fn settle_lapsed_uploads(
    store: &MetadataStore,
    blobs: &dyn Blobstore,
    log: &Logger,
    all: bool,
) -> anyhow::Result<()> {
    let lapsed = store
        .lapsed_upload_claims(all)
        .await
        .map_err(|e| anyhow::anyhow!("looking for lapsed upload claims: {e}"))?;
    for (droplet, lapsed_claim, pending) in lapsed {
        let claim = Uuid::new_v4();
        let taken = store
            .take_over_upload_claim(droplet, &lapsed_claim, claim, all)
            .await
            .map_err(|e| anyhow::anyhow!("taking over a lapsed upload claim: {e}"))?;
        if !taken {
            continue;
        }
        slog::warn!(log, "discarding an upload whose server process is gone";
            "droplet" => %droplet, "pending" => pending.as_deref().unwrap_or("-"));
        if let Some(pending) = pending
            && let Err(error) = discard_pending(blobs, log, droplet, &pending).await
        {
            slog::error!(log, "discarding an interrupted upload's blob failed; a later sweep retries";
                "droplet" => %droplet, "error" => %error);
            continue;
        }
        store
            .release_upload_claim(droplet, claim)
            .await
            .map_err(|e| anyhow::anyhow!("freeing a droplet after a lapsed upload: {e}"))?;
    }
    Ok(())
}

/// At start-up, before serving: settles the uploads and jobs whose process is gone (on SQLite,
/// every upload claim: no upload of a previous process is streaming any more). Then, in the
/// background, looks for more every half lease for as long as the process runs.
pub async fn start_recovery(
    store: &MetadataStore,
    blobs: &Arc<dyn Blobstore>,
    log: &Logger,
) -> anyhow::Result<()> {
    settle_lapsed_uploads(store, blobs.as_ref(), log, store.single_process()).await?;
    settle_abandoned(store, blobs.as_ref(), log).await?;
    spawn_sweeper(store.clone(), blobs.clone(), log.clone());
    Ok(())
}

fn spawn_sweeper(store: MetadataStore, blobs: Arc<dyn Blobstore>, log: Logger) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(store.lease() / 2);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(error) = settle_lapsed_uploads(&store, blobs.as_ref(), &log, false).await {
                slog::error!(log, "settling lapsed uploads failed"; "error" => %error);
            }
            if let Err(error) = settle_abandoned(&store, blobs.as_ref(), &log).await {
                slog::error!(log, "settling abandoned jobs failed"; "error" => %error);
            }
        }
    });
}
