//! Following jobs and droplets being copied: polling with a backoff, up to a deadline.

use std::time::{Duration, Instant};

use uuid::Uuid;

use super::error::ClientError;
use crate::generated::{Client, ResponseValue, types};

/// How long and how often a wait looks at a job or droplet.
///
/// The first look is at once; then the delay between looks starts at `first_interval` and
/// doubles after each look up to `max_interval`. Once `timeout` has passed the wait fails with
/// [`ClientError::Timeout`] (the job goes on; only the wait stops).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitOptions {
    /// Longest wait; 10 minutes by default.
    pub timeout: Duration,
    /// Delay after the first look; 100 ms by default.
    pub first_interval: Duration,
    /// Longest delay between two looks; 5 s by default.
    pub max_interval: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout: Duration::from_secs(600),
            first_interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(5),
        }
    }
}

impl WaitOptions {
    /// The delays between looks, before the deadline cuts them short.
    fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        let max = self.max_interval;
        std::iter::successors(Some(self.first_interval.min(max)), move |d| Some((*d * 2).min(max)))
    }

    /// Looks with `look` until it returns `Ok(done)`; `Err(state)` means not yet, in that state.
    /// (A closure returning a future rather than an async closure: the future of an async
    /// closure cannot be named `Send`, and then neither could the wait's, nor an upload's.)
    async fn poll<T, Look, Looked>(&self, what: String, mut look: Look) -> Result<T, ClientError>
    where
        Look: FnMut() -> Looked,
        Looked: std::future::Future<Output = Result<Result<T, String>, ClientError>>,
    {
        let started = Instant::now();
        let mut delays = self.delays();
        loop {
            let state = match look().await? {
                Ok(done) => return Ok(done),
                Err(state) => state,
            };
            let waited = started.elapsed();
            let left = self.timeout.saturating_sub(waited);
            if left.is_zero() {
                return Err(ClientError::Timeout { what, state, waited });
            }
            let delay = delays.next().unwrap_or(self.max_interval);
            tokio::time::sleep(delay.min(left)).await;
        }
    }
}

impl Client {
    /// Follows the job until it is `COMPLETE` or `FAILED` and returns it, waiting as
    /// [`WaitOptions::default`] says. A `FAILED` job is returned, not an error: its `errors` say
    /// why.
    pub async fn wait_for_job(&self, job_guid: Uuid) -> Result<types::Job, ClientError> {
        self.wait_for_job_with(job_guid, &WaitOptions::default()).await
    }

    /// [`Client::wait_for_job`], waiting as `options` say.
    pub async fn wait_for_job_with(
        &self,
        job_guid: Uuid,
        options: &WaitOptions,
    ) -> Result<types::Job, ClientError> {
        let guid = job_guid.to_string();
        options
            .poll(format!("job {guid}"), || async {
                let job = self.job_get(&guid).await?.into_inner();
                Ok(match job.state {
                    types::JobState::Processing => Err(job.state.to_string()),
                    _ => Ok(job),
                })
            })
            .await
    }

    /// Follows a droplet being copied until it is no longer `COPYING`, and returns it: `STAGED`
    /// with the source's bits, or `FAILED` with an `error` saying why.
    pub async fn wait_for_copy(&self, droplet_guid: Uuid) -> Result<types::Droplet, ClientError> {
        self.wait_for_copy_with(droplet_guid, &WaitOptions::default()).await
    }

    /// [`Client::wait_for_copy`], waiting as `options` say.
    pub async fn wait_for_copy_with(
        &self,
        droplet_guid: Uuid,
        options: &WaitOptions,
    ) -> Result<types::Droplet, ClientError> {
        let guid = droplet_guid.to_string();
        options
            .poll(format!("droplet {guid}"), || async {
                let droplet = self.droplet_get(&guid).await?.into_inner();
                Ok(match droplet.state {
                    types::DropletState::Copying => Err(droplet.state.to_string()),
                    _ => Ok(droplet),
                })
            })
            .await
    }

    /// Follows the job named by the `Location` header of a 202 (the answer of an upload or a
    /// delete), as [`Client::wait_for_job`] does.
    pub async fn wait_for_accepted_job<T>(
        &self,
        accepted: &ResponseValue<T>,
    ) -> Result<types::Job, ClientError> {
        self.wait_for_accepted_job_with(accepted, &WaitOptions::default()).await
    }

    /// [`Client::wait_for_accepted_job`], waiting as `options` say.
    pub async fn wait_for_accepted_job_with<T>(
        &self,
        accepted: &ResponseValue<T>,
        options: &WaitOptions,
    ) -> Result<types::Job, ClientError> {
        let guid = accepted_job_guid(accepted).ok_or(ClientError::NoJobLocation)?;
        self.wait_for_job_with(guid, options).await
    }
}

/// The guid of the job named by the `Location` header of a 202 (an upload's or delete's answer);
/// `None` without a usable header.
pub fn accepted_job_guid<T>(accepted: &ResponseValue<T>) -> Option<Uuid> {
    let location = accepted.headers().get(reqwest::header::LOCATION)?.to_str().ok()?;
    location.rsplit('/').next().and_then(|guid| guid.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_longest() {
        let options = WaitOptions {
            timeout: Duration::from_secs(60),
            first_interval: Duration::from_millis(100),
            max_interval: Duration::from_millis(500),
        };
        let delays: Vec<u128> = options.delays().take(5).map(|d| d.as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500]);
    }
}
