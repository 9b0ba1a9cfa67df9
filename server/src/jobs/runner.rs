//! The one way a job runs, whatever its kind (upload, copy, delete, or recovery's settling of a
//! dead process's job): recorded first, then run in the background under a lease this process
//! renews until the work ends, as a task graceful shutdown waits for. On SIGTERM every job
//! started so far finishes (or is cut off by the process's exit and left, with its lapsing
//! lease, for recovery).
//!
//! A job that panics is caught here, whatever its kind: it ends `FAILED` with a reason, as does
//! the droplet it was working on, its lease ends, an error line names both, and the process goes
//! on serving. A job that ends with no outcome recorded (the store failed, or a step kept failing
//! for a passing reason) is given up for recovery to settle. A process never takes over its own
//! jobs, so either would otherwise stay `PROCESSING` until a restart.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use slog::Logger;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::lease::LeaseRenewal;
use crate::errors::unknown_job_error;
use crate::metrics::Metrics;
use crate::store::{MetadataStore, StoreError};
use crate::time::now_secs;

/// What a job that panicked records; the panic's message goes to the log only.
const PANICKED: &str = "The job failed unexpectedly (an internal error of the server).";

/// How a job ended, as this process saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    Complete,
    Failed,
    /// This process recorded no outcome: another one took the job over, or the store failed.
    Unrecorded,
}

impl JobOutcome {
    fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Complete => "complete",
            JobOutcome::Failed => "failed",
            JobOutcome::Unrecorded => "unrecorded",
        }
    }
}

#[derive(Clone)]
pub struct JobRunner {
    store: MetadataStore,
    log: Logger,
    metrics: Arc<Metrics>,
    running: TaskTracker,
}

impl JobRunner {
    pub fn new(store: MetadataStore, log: Logger, metrics: Arc<Metrics>) -> Self {
        JobRunner { store, log, metrics, running: TaskTracker::new() }
    }

    /// Starts job `job` of `operation`. `record` writes the job's row owned by this process
    /// under a fresh lease, in the transaction that also makes the change the job belongs to (or
    /// takes an abandoned job over), and answers false if it lost a race: then nothing runs, and
    /// this answers None. Otherwise `work` runs in the background while the job's lease is
    /// renewed, and its outcome and duration are counted; the handle resolves once it is done.
    /// If `work` panics, the job is failed here (see the module's documentation).
    pub async fn start(
        &self,
        job: Uuid,
        operation: &str,
        record: impl Future<Output = Result<bool, StoreError>>,
        work: impl Future<Output = JobOutcome> + Send + 'static,
    ) -> Result<Option<JoinHandle<()>>, StoreError> {
        if !record.await? {
            return Ok(None);
        }
        let lease = LeaseRenewal::start(&self.store, &self.log, "job", move |store| async move {
            store.renew_job_lease(job).await
        });
        let (metrics, operation, started) =
            (self.metrics.clone(), operation.to_owned(), Instant::now());
        let (store, log) = (self.store.clone(), self.log.clone());
        Ok(Some(self.running.spawn(async move {
            // Unwind safety: after a panic nothing of `work` is used again but what its drop
            // releases; the job's state is read back from the store.
            let outcome = match AssertUnwindSafe(work).catch_unwind().await {
                Ok(outcome) => outcome,
                // Recorded while the lease still holds, so that the job is still this process's.
                Err(panic) => fail_panicked(&store, &log, job, &operation, panic).await,
            };
            if outcome == JobOutcome::Unrecorded {
                give_up(&store, &log, job).await;
            }
            drop(lease);
            let labels = [operation.as_str(), outcome.as_str()];
            let duration = metrics.job_duration.with_label_values(&labels);
            duration.observe(started.elapsed().as_secs_f64());
        })))
    }

    /// Waits for every job started so far, and those started meanwhile.
    pub async fn wait(&self) {
        self.running.close();
        self.running.wait().await;
    }
}

/// Records a job that panicked as `FAILED`, with its droplet, and logs why.
async fn fail_panicked(
    store: &MetadataStore,
    log: &Logger,
    job: Uuid,
    operation: &str,
    panic: Box<dyn Any + Send>,
) -> JobOutcome {
    let message = panic_message(panic.as_ref());
    let log = log.new(slog::o!("job" => job.to_string(), "operation" => operation.to_owned()));
    let error = unknown_job_error(PANICKED);
    match store.fail_job_and_its_droplet(job, &error, now_secs()).await {
        Ok(droplet) => {
            let droplet = droplet.map_or_else(|| "-".to_owned(), |d| d.to_string());
            slog::error!(log, "a job panicked; it is FAILED, as is its droplet if in progress";
                "droplet" => droplet, "panic" => message);
            JobOutcome::Failed
        }
        Err(error) => {
            slog::error!(log, "a job panicked, and recording its failure failed";
                "panic" => message, "error" => %error);
            JobOutcome::Unrecorded
        }
    }
}

/// A job that ended without an outcome recorded by this process is given up, so that the next
/// sweep of recovery (this process's or another replica's) settles it; otherwise, since a process
/// never takes over its own jobs, it would wait for a restart. A job another replica took over
/// is not this process's to give up, and stays as it is.
async fn give_up(store: &MetadataStore, log: &Logger, job: Uuid) {
    if let Err(error) = store.release_job(job).await {
        slog::error!(log, "giving up a job whose outcome was not recorded failed";
            "job" => %job, "error" => %error);
    }
}

/// The text a panic was raised with (`panic!` with a literal or a format string), if any.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => (*text).to_owned(),
        (_, Some(text)) => text.clone(),
        _ => "(no message)".to_owned(),
    }
}
