//! Graceful shutdown: stop accepting connections, let the requests in flight finish for up to
//! `shutdown_grace_secs`, then cut the uploads still streaming exactly as if their clients had gone
//! away (the droplet stays `AWAITING_UPLOAD`, the partial blob is dropped), and wait for the upload
//! jobs that were already verifying bits, so that their droplets end `STAGED` or `FAILED`.

use std::future::Future;
use std::sync::Mutex;

use tokio::task::JoinSet;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

#[derive(Default)]
pub struct Shutdown {
    deadline: CancellationToken,
    jobs: Mutex<JoinSet<()>>,
}

impl Shutdown {
    /// Resolves once the grace period is over: an upload body stream ends there.
    pub fn deadline(&self) -> WaitForCancellationFutureOwned {
        self.deadline.clone().cancelled_owned()
    }

    /// The grace period is over.
    pub fn cut(&self) {
        self.deadline.cancel();
    }

    /// Runs a job that shutdown waits for.
    pub fn spawn_job(&self, job: impl Future<Output = ()> + Send + 'static) {
        let mut jobs = self.jobs.lock().expect("jobs lock");
        // Finished jobs are forgotten here, so the set holds only running ones.
        while jobs.try_join_next().is_some() {}
        jobs.spawn(job);
    }

    /// Waits for every job started so far.
    pub async fn jobs_done(&self) {
        let mut jobs = std::mem::take(&mut *self.jobs.lock().expect("jobs lock"));
        while jobs.join_next().await.is_some() {}
    }
}
