//! The one way a job runs, whatever its kind (upload, copy, delete, or recovery's settling of a
//! dead process's job): recorded first, then run in the background under a lease this process
//! renews until the work ends, as a task graceful shutdown waits for. On SIGTERM every job
//! started so far finishes (or is cut off by the process's exit and left, with its lapsing
//! lease, for recovery).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use slog::Logger;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::lease::LeaseRenewal;
use crate::metrics::Metrics;
use crate::store::{MetadataStore, StoreError};

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
        Ok(Some(self.running.spawn(async move {
            let outcome = work.await;
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
