//! Graceful shutdown (SIGTERM or Ctrl-C): stop accepting connections, let the requests in flight
//! finish for up to `shutdown_grace_secs`, then cut the uploads still streaming exactly as if
//! their clients had gone away (the droplet stays `AWAITING_UPLOAD`, the partial blob is
//! dropped), and wait for every job started so far (`crate::jobs::runner`), so that uploads end
//! `STAGED` or `FAILED`, copies end with their bits, and deletes with the blob removed.
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
