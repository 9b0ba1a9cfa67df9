//! Recovery: settling the upload claims and jobs of server processes that are gone. The job
//! runner's sweep (`crate::jobs::abandoned`) takes each abandoned job over, so that exactly one
//! replica settles it; this settles it by its operation:
//!
//! | operation | what was lost | recovery |
//! |---|---|---|
//! | `droplet.upload` | the uploaded bits' digests and inspection | discard the pending write, remove the blob, fail the job and the droplet |
//! | `droplet.upload` of a resumable upload | nothing: the upload recorded its write | the job again, from the write: publish it, check the bits, stage or fail |
//! | `droplet.copy` (internal) | nothing: the job names its source | copy again (idempotent) and complete, or fail as a copy fails |
//! | `droplet.delete` | nothing: the droplet is gone already | remove the blob (idempotent), complete the job |
//! | any, with no droplet named | which droplet it was working on | fail the job alone, logged; no droplet or blob is touched |
//!
//! Uploads still streaming hold no job but an upload claim on their droplet, leased the same way;
//! a lapsed claim is settled here too: its pending write discarded, its droplet freed. A
//! resumable upload's claim lapses when the upload expires, and is settled the same way; the
//! rows of completed ones go once they expire. On SQLite,
//! which one server process uses at a time, every claim and every job of another instance is a
//! previous process's, so a restart settles them all before serving.
//!
//! The blob goes first and the job's row last, so a crash during recovery only repeats it (the
//! take-over leased the job to the settling process, and that lease runs out too).
//!
//! Writes that no upload recorded (a multipart upload whose creation's answer was lost, a
//! temporary file of a process that died before recording it) are swept too, once older than
//! `stale_write_grace_secs`, the way `droplet-server check --repair` sweeps them
//! (`crate::check::stale_writes`): a bucket without a lifecycle rule does not pile them up.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use droplet_api::CfError;
use slog::Logger;
use uuid::Uuid;

use super::upload::job::JobParts;
use super::upload::resumable::completion;
use super::{copy, delete};
use crate::blobstore::{BlobError, Blobstore, droplet_key};
use crate::check::stale_writes;
use crate::errors::unknown_job_error;
use crate::jobs::abandoned;
use crate::jobs::runner::{JobOutcome, JobRunner};
use crate::metrics::Metrics;
use crate::store::MetadataStore;
use crate::store::records::{COPY_OPERATION, DELETE_OPERATION, JobRecord, UPLOAD_OPERATION};
use crate::store::upload_claims::LapsedClaim;
use crate::time::now_secs;

const UPLOAD_INTERRUPTED: &str =
    "The upload was interrupted: its server stopped; upload into a new droplet.";
/// Bounds of how often stale writes are swept.
const STALE_SWEEP_MIN: Duration = Duration::from_secs(10);
const STALE_SWEEP_MAX: Duration = Duration::from_secs(15 * 60);
const NO_DROPLET: &str = "The job was interrupted: its server stopped, and its record names no \
    droplet, so no droplet or bits were cleaned up.";

/// What recovery works with.
#[derive(Clone)]
pub struct Recovery {
    pub store: MetadataStore,
    pub blobs: Arc<dyn Blobstore>,
    pub jobs: JobRunner,
    pub metrics: Arc<Metrics>,
    /// How old a write no upload recorded must be before it is discarded.
    pub stale_write_grace: Duration,
    pub log: Logger,
}

impl Recovery {
    /// At start-up, before serving: settles the uploads and jobs whose process is gone (on
    /// SQLite, every upload claim: no upload of a previous process is streaming any more). Then,
    /// in the background, looks for more every half lease for as long as the process runs.
    pub async fn start(self) -> anyhow::Result<()> {
        if self.store.single_process() {
            // No request of a previous process appends any more.
            self.store.release_every_resumable_hold().await?;
        }
        self.settle_lapsed_uploads(self.store.single_process()).await?;
        self.settle_abandoned_jobs().await?;
        let sweeper = self.clone();
        tokio::spawn(async move {
            // Listing a bucket's uploads is one request per thousand; a few times per grace
            // period is plenty, at once included.
            let every = (sweeper.stale_write_grace / 4).clamp(STALE_SWEEP_MIN, STALE_SWEEP_MAX);
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = sweeper.sweep_stale_writes().await {
                    slog::error!(sweeper.log, "sweeping stale writes failed";
                        "error" => format!("{error:#}"));
                }
            }
        });
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(self.store.lease() / 2);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                if let Err(error) = self.settle_lapsed_uploads(false).await {
                    slog::error!(self.log, "settling lapsed uploads failed"; "error" => %error);
                }
                if let Err(error) = self.settle_abandoned_jobs().await {
                    slog::error!(self.log, "settling abandoned jobs failed"; "error" => %error);
                }
            }
        });
        Ok(())
    }

    /// Settles the jobs whose process is gone, each by its operation (see the table above).
    async fn settle_abandoned_jobs(&self) -> anyhow::Result<()> {
        let (store, jobs, metrics, log) = (&self.store, &self.jobs, &self.metrics, &self.log);
        abandoned::sweep(store, jobs, metrics, log, |job| {
            let recovery = self.clone();
            async move { recovery.settle(&job).await }
        })
        .await
    }

    /// Settles one job this process took over, by its operation.
    async fn settle(&self, job: &JobRecord) -> Result<JobOutcome, CfError> {
        let (store, blobs, log) = (&self.store, self.blobs.as_ref(), &self.log);
        // Every job the server writes names its droplet: without one, which droplet and which
        // bits the job was working on is unknown, so nothing but the job is touched.
        let Some(droplet) = job.droplet_guid else {
            slog::error!(log, "an abandoned job names no droplet; failing it alone";
                "job" => %job.guid, "operation" => &job.operation);
            store.fail_job_alone(job.guid, &unknown_job_error(NO_DROPLET), now_secs()).await?;
            return Ok(JobOutcome::Failed);
        };
        let failure = match (job.operation.as_str(), job.source_guid) {
            (DELETE_OPERATION, _) => {
                return Ok(delete::finish(store, blobs, log, droplet, job.guid).await);
            }
            (COPY_OPERATION, Some(source)) => {
                return copy::finish(store, blobs, log, source, droplet, job.guid).await;
            }
            (UPLOAD_OPERATION, _) => match store.resumable_upload_of_job(job.guid).await? {
                Some(upload) => {
                    let log = log.new(slog::o!("droplet" => droplet.to_string(),
                        "job" => job.guid.to_string()));
                    let parts = JobParts { store, blobs, metrics: &self.metrics, log };
                    return Ok(completion::redo(&parts, upload, job.guid).await);
                }
                None => UPLOAD_INTERRUPTED,
            },
            _ => "The job was interrupted: its server stopped.",
        };
        if let Some(pending) = store.pending_blob(droplet).await? {
            self.discard_pending(droplet, &pending).await?;
        }
        // The blob may have been published just before the process died: the droplet is about
        // to be FAILED, so its bits must not linger.
        blobs.delete(&droplet_key(droplet)).await?;
        let error = unknown_job_error(failure);
        store.fail_job(job.guid, droplet, &error, now_secs()).await?;
        Ok(JobOutcome::Failed)
    }

    /// Takes over the upload claims whose process is gone (their lease ran out; with `all`,
    /// every claim, at start-up on SQLite) and discards each one's pending blob write, then frees
    /// the droplet for the next upload. A write that cannot be discarded now keeps its claim,
    /// which lapses again for a later sweep.
    async fn settle_lapsed_uploads(&self, all: bool) -> anyhow::Result<()> {
        let lapsed = self
            .store
            .lapsed_upload_claims(all)
            .await
            .context("looking for lapsed upload claims")?;
        for lapsed in lapsed {
            let LapsedClaim { droplet, pending_blob, .. } = &lapsed;
            let claim = Uuid::new_v4();
            let taken = self.store.take_over_upload_claim(&lapsed, claim, all).await;
            if !taken.context("taking over a lapsed upload claim")? {
                continue;
            }
            slog::warn!(self.log, "discarding an upload whose server process is gone";
                "droplet" => %droplet, "pending" => pending_blob.as_deref().unwrap_or("-"));
            if let Some(pending) = pending_blob
                && let Err(error) = self.discard_pending(*droplet, pending).await
            {
                slog::error!(self.log,
                    "discarding an interrupted upload's blob failed; a later sweep retries";
                    "droplet" => %droplet, "error" => %error);
                continue;
            }
            let released = self.store.release_upload_claim(*droplet, claim).await;
            released.context("freeing a droplet after a lapsed upload")?;
            self.metrics.recovered_upload_claims.inc();
        }
        self.store.remove_ended_uploads().await.context("removing ended resumable uploads")?;
        Ok(())
    }

    /// Discards the writes no upload recorded that are older than the grace period.
    async fn sweep_stale_writes(&self) -> anyhow::Result<()> {
        let (store, blobs) = (&self.store, self.blobs.as_ref());
        for write in stale_writes::find(store, blobs, self.stale_write_grace).await? {
            if stale_writes::discard(store, blobs, &write).await? {
                slog::warn!(self.log, "discarded a write no upload recorded";
                    "key" => write.key.as_deref().unwrap_or("-"), "name" => &write.name);
            }
        }
        Ok(())
    }

    /// Discards what a dead process's blob write left. Only a store that cannot be reached is an
    /// error, to be retried by a later sweep; a store that refuses is logged and left to the
    /// backstop (the bucket's lifecycle rule for incomplete uploads), since asking again would
    /// not help.
    async fn discard_pending(&self, droplet: Uuid, pending: &str) -> Result<(), BlobError> {
        match self.blobs.discard(&droplet_key(droplet), pending).await {
            Err(error @ BlobError::Unavailable(_)) => Err(error),
            Err(error) => {
                slog::error!(self.log, "discarding an interrupted upload's blob failed; leaving it";
                    "droplet" => %droplet, "pending" => pending, "error" => %error);
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }
}
