//! Abandoned jobs: the sweep that takes over the jobs whose process is gone and has each one
//! settled, whatever its kind. What settling a job means is its operation's (the caller's
//! `settle`); this makes sure exactly one replica settles each, under the job runner like any job,
//! and that a job that cannot be settled now is given up again, for a later sweep.

use std::fmt::Display;
use std::future::Future;

use anyhow::Context;
use slog::Logger;

use super::runner::{JobOutcome, JobRunner};
use crate::metrics::Metrics;
use crate::store::MetadataStore;
use crate::store::records::{DamagedJob, JobRecord};

/// Takes over the jobs whose process is gone and settles each with `settle`, one at a time. A
/// row that cannot be read back is logged and left as it is, for an operator: settling what
/// cannot be read could only guess; the other jobs are settled all the same.
pub async fn sweep<S, F, E>(
    store: &MetadataStore,
    jobs: &JobRunner,
    metrics: &Metrics,
    log: &Logger,
    settle: S,
) -> anyhow::Result<()>
where
    S: Fn(JobRecord) -> F,
    F: Future<Output = Result<JobOutcome, E>> + Send + 'static,
    E: Display + Send,
{
    let abandoned = store.abandoned_jobs().await.context("looking for abandoned jobs")?;
    for job in abandoned {
        let job = match job {
            Ok(job) => job,
            Err(DamagedJob { guid, error }) => {
                slog::error!(log, "an abandoned job's row cannot be read; leaving it as it is";
                    "job" => guid, "error" => %error);
                continue;
            }
        };
        let (guid, operation) = (job.guid, job.operation.clone());
        let settled = metrics.recovered_jobs.with_label_values(&[operation.as_str()]);
        let settling = settle(job);
        let work = {
            let (store, log, operation) = (store.clone(), log.clone(), operation.clone());
            async move {
                slog::warn!(log, "settling a job whose server process is gone";
                    "job" => %guid, "operation" => &operation);
                match settling.await {
                    Ok(outcome) => {
                        settled.inc();
                        outcome
                    }
                    Err(error) => {
                        slog::error!(log,
                            "settling an abandoned job failed; a later sweep retries";
                            "job" => %guid, "error" => %error);
                        if let Err(error) = store.release_job(guid).await {
                            slog::error!(log, "giving up an abandoned job failed";
                                "job" => %guid, "error" => %error);
                        }
                        JobOutcome::Unrecorded
                    }
                }
            }
        };
        let take_over = store.take_over_job(guid);
        let taken = jobs.start(guid, &operation, take_over, work).await;
        if let Some(settling) = taken.context("taking over an abandoned job")? {
            let _ = settling.await;
        }
    }
    Ok(())
}
