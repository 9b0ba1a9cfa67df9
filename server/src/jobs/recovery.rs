//! Recovery: settling the upload claims and jobs of server processes that are gone (see the table
//! in the module documentation of `crate::jobs`). The blob goes first and the job's row last, so
//! a crash during recovery only repeats it (the take-over leased the job to the settling process,
//! and that lease runs out too).

use std::sync::Arc;

use anyhow::Context;
use droplet_api::CfError;
use slog::Logger;
use uuid::Uuid;

use super::runner::{JobOutcome, JobRunner};
use crate::blobstore::{BlobError, Blobstore, droplet_key};
use crate::droplets::{copy, delete};
use crate::errors::unknown_job_error;
use crate::metrics::Metrics;
use crate::store::MetadataStore;
use crate::store::records::{COPY_OPERATION, DELETE_OPERATION, JobRecord, UPLOAD_OPERATION};
use crate::store::upload_claims::LapsedClaim;
use crate::time::now_secs;

const UPLOAD_INTERRUPTED: &str =
    "The upload was interrupted: its server stopped; upload into a new droplet.";

/// What recovery works with.
#[derive(Clone)]
pub struct Recovery {
    pub store: MetadataStore,
    pub blobs: Arc<dyn Blobstore>,
    pub jobs: JobRunner,
    pub metrics: Arc<Metrics>,
    pub log: Logger,
}

impl Recovery {
    /// At start-up, before serving: settles the uploads and jobs whose process is gone (on
    /// SQLite, every upload claim: no upload of a previous process is streaming any more). Then,
    /// in the background, looks for more every half lease for as long as the process runs.
    pub async fn start(self) -> anyhow::Result<()> {
        self.settle_lapsed_uploads(self.store.single_process()).await?;
        self.settle_abandoned_jobs().await?;
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

    /// Takes over the jobs whose process is gone and settles each, one at a time. A job that
    /// cannot be settled now is given up again, for a later sweep.
    async fn settle_abandoned_jobs(&self) -> anyhow::Result<()> {
        let abandoned = self.store.abandoned_jobs().await.context("looking for abandoned jobs")?;
        for job in abandoned {
            let (guid, recovery) = (job.guid, self.clone());
            let operation = job.operation.clone();
            let work = async move {
                slog::warn!(recovery.log, "settling a job whose server process is gone";
                    "job" => %job.guid, "operation" => &job.operation);
                match recovery.settle(&job).await {
                    Ok(outcome) => {
                        let settled = &recovery.metrics.recovered_jobs;
                        settled.with_label_values(&[job.operation.as_str()]).inc();
                        outcome
                    }
                    Err(error) => {
                        slog::error!(recovery.log,
                            "settling an abandoned job failed; a later sweep retries";
                            "job" => %job.guid, "error" => %error);
                        if let Err(error) = recovery.store.release_job(job.guid).await {
                            slog::error!(recovery.log, "giving up an abandoned job failed";
                                "job" => %job.guid, "error" => %error);
                        }
                        JobOutcome::Unrecorded
                    }
                }
            };
            let take_over = self.store.take_over_job(guid);
            let taken = self.jobs.start(guid, &operation, take_over, work).await;
            if let Some(settling) = taken.context("taking over an abandoned job")? {
                let _ = settling.await;
            }
        }
        Ok(())
    }

    /// Settles one job this process took over, by its operation.
    async fn settle(&self, job: &JobRecord) -> Result<JobOutcome, CfError> {
        let (store, blobs, log) = (&self.store, self.blobs.as_ref(), &self.log);
        // Every job names its droplet; a row without one has nothing to clean up.
        let droplet = job.droplet_guid.unwrap_or_default();
        let failure = match (job.operation.as_str(), job.source_guid) {
            (DELETE_OPERATION, _) => {
                return Ok(delete::finish(store, blobs, log, droplet, job.guid).await);
            }
            (COPY_OPERATION, Some(source)) => {
                return copy::finish(store, blobs, log, source, droplet, job.guid).await;
            }
            (UPLOAD_OPERATION, _) => UPLOAD_INTERRUPTED,
            _ => "The job was interrupted: its server stopped.",
        };
        if job.droplet_guid.is_some() {
            if let Some(pending) = store.pending_blob(droplet).await? {
                self.discard_pending(droplet, &pending).await?;
            }
            // The blob may have been published just before the process died: the droplet is
            // about to be FAILED, so its bits must not linger.
            blobs.delete(&droplet_key(droplet)).await?;
        }
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
