//! Graceful shutdown (SIGTERM or Ctrl-C): stop accepting connections, let the requests in flight
//! finish for up to `shutdown_grace_secs`, then cut the uploads still streaming exactly as if
//! their clients had gone away (the droplet stays `AWAITING_UPLOAD`, the partial blob is
//! dropped), and let every job started so far (`crate::jobs::runner`) finish within the same
//! grace period: uploads end `STAGED` or `FAILED`, copies with their bits, deletes with the blob
//! removed. A job still running at the deadline is left to recovery, like one of a process that
//! died: its lease lapses and the next process (or a replica) settles it.
//!
//! The sequence is `crate::server::RunningServer::shutdown`; this holds the end of the grace
//! period that the uploads watch.

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// The end of a shutdown's grace period, which upload bodies still streaming end at.
#[derive(Default)]
pub struct GracePeriod {
    over: CancellationToken,
}

impl GracePeriod {
    /// Resolves once the grace period is over.
    pub fn over(&self) -> WaitForCancellationFutureOwned {
        self.over.clone().cancelled_owned()
    }

    /// Ends the grace period: the uploads still streaming are cut.
    pub fn end(&self) {
        self.over.cancel();
    }
}
