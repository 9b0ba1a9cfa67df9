//! The one way a job runs, whatever its kind (upload, copy, delete, or recovery's settling of a
//! dead process's job): recorded first, then run in the background under a lease this process
//! renews until the work ends, as a task graceful shutdown waits for. On SIGTERM every job
//! started so far finishes (or is cut off by the process's exit and left, with its lapsing
//! lease, for recovery).

use std::future::Future;

use slog::Logger;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::lease::LeaseRenewal;
use crate::store::{MetadataStore, StoreError};

#[derive(Clone)]
pub struct JobRunner {
    store: MetadataStore,
    log: Logger,
    running: TaskTracker,
}

impl JobRunner {
    pub fn new(store: MetadataStore, log: Logger) -> Self {
        JobRunner { store, log, running: TaskTracker::new() }
    }

    /// Starts job `job`. `record` writes the job's row owned by this process under a fresh
    /// lease, in the transaction that also makes the change the job belongs to (or takes an
    /// abandoned job over), and answers false if it lost a race: then nothing runs, and this
    /// answers None. Otherwise `work` runs in the background while the job's lease is renewed;
    /// the handle resolves once it is done.
    pub async fn start(
        &self,
        job: Uuid,
        record: impl Future<Output = Result<bool, StoreError>>,
        work: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Option<JoinHandle<()>>, StoreError> {
        if !record.await? {
            return Ok(None);
        }
        let lease = LeaseRenewal::start(&self.store, &self.log, "job", move |store| async move {
            store.renew_job_lease(job).await
        });
        Ok(Some(self.running.spawn(async move {
            work.await;
            drop(lease);
        })))
    }

    /// Waits for every job started so far, and those started meanwhile.
    pub async fn wait(&self) {
        self.running.close();
        self.running.wait().await;
    }
}
