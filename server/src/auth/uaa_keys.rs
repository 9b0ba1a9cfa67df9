//! The UAA's published keys, held in memory, and when they are fetched again: a token naming a
//! key id the server does not hold may be signed with a key the UAA rotated to, or may be forged
//! with any key id at all. So refetches are bounded for the whole server, whatever the key ids:
//! at most one starts per interval (the start-up fetch counts as one), every request that needs
//! one while it runs shares it, and outside the interval nothing is fetched. A key the UAA
//! publishes is thus accepted at most one interval after the previous fetch, and a request waits
//! at most one fetch.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use slog::Logger;

use super::uaa::{PublishedKey, Uaa};

pub struct UaaKeys {
    source: Arc<Uaa>,
    keys: Arc<RwLock<Arc<Vec<PublishedKey>>>>,
    /// Least time between the starts of two fetches.
    interval: Duration,
    /// Held only to look at or start a fetch, never across one.
    refetch: Mutex<Refetch>,
    log: Logger,
}

struct Refetch {
    /// When the last fetch started.
    started: Instant,
    /// The last fetch; shared while it runs.
    fetch: Option<Shared<BoxFuture<'static, ()>>>,
}

impl UaaKeys {
    /// Fetches the keys once, at start-up: a UAA that cannot be reached stops the server.
    pub async fn fetch(source: Uaa, interval: Duration, log: Logger) -> anyhow::Result<Self> {
        let started = Instant::now();
        let keys = source.token_keys().await?;
        Ok(UaaKeys {
            source: Arc::new(source),
            keys: Arc::new(RwLock::new(Arc::new(keys))),
            interval,
            refetch: Mutex::new(Refetch { started, fetch: None }),
            log,
        })
    }

    /// The keys as last fetched.
    pub fn current(&self) -> Arc<Vec<PublishedKey>> {
        self.keys.read().expect("not poisoned").clone()
    }

    /// Fetches the keys again if the interval allows, or waits for the fetch under way; false at
    /// once when neither (the keys are as they were).
    pub async fn refetch(&self) -> bool {
        let fetch = {
            let mut refetch = self.refetch.lock().expect("not poisoned");
            let running = refetch.fetch.as_ref().filter(|fetch| fetch.peek().is_none());
            match running {
                Some(fetch) => fetch.clone(),
                None if refetch.started.elapsed() < self.interval => return false,
                None => {
                    let fetch = self.start_fetch();
                    *refetch = Refetch { started: Instant::now(), fetch: Some(fetch.clone()) };
                    fetch
                }
            }
        };
        fetch.await;
        true
    }

    fn start_fetch(&self) -> Shared<BoxFuture<'static, ()>> {
        let (source, keys, log) = (self.source.clone(), self.keys.clone(), self.log.clone());
        async move {
            match source.token_keys().await {
                Ok(fetched) => *keys.write().expect("not poisoned") = Arc::new(fetched),
                // Tokens signed with a key the server does not hold stay refused until the next
                // fetch the interval allows.
                Err(error) => {
                    slog::warn!(log, "refetching the UAA's token keys failed";
                        "error" => format!("{error:#}"));
                }
            }
        }
        .boxed()
        .shared()
    }
}
