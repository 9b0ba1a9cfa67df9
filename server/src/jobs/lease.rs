//! Keeping a hold alive: a job's lease and an upload's claim are both renewed every third of the
//! lease by one loop, so that a hold lapses only when its process is gone.

use std::future::Future;

use slog::Logger;

use crate::store::{MetadataStore, StoreError};

/// A hold being renewed; dropping it stops the renewal (the hold then lapses unless it ended).
pub struct LeaseRenewal {
    task: tokio::task::JoinHandle<()>,
}

impl LeaseRenewal {
    /// Calls `renew` every third of the store's lease until it answers that the hold is gone
    /// (ended, or taken over by a replica that thought this process dead: whatever this process
    /// records then changes nothing) or this is dropped. A failed renewal is logged and retried
    /// at the next tick.
    pub fn start<R, F>(store: &MetadataStore, log: &Logger, hold: &'static str, renew: R) -> Self
    where
        R: Fn(MetadataStore) -> F + Send + 'static,
        F: Future<Output = Result<bool, StoreError>> + Send,
    {
        let (store, log) = (store.clone(), log.clone());
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(store.lease() / 3);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match renew(store.clone()).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(error) => {
                        slog::warn!(log, "renewing a lease failed"; "hold" => hold,
                            "error" => %error)
                    }
                }
            }
        });
        LeaseRenewal { task }
    }
}

impl Drop for LeaseRenewal {
    fn drop(&mut self) {
        self.task.abort();
    }
}
