//! Following jobs.

use std::time::Duration;

use crate::generated::{Client, Error, ResponseValue, types};

/// Delay between two looks at a job.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum JobWaitError {
    #[error("the response has no usable Location header naming a job")]
    NoJobLocation,
    #[error(transparent)]
    Api(#[from] Error<types::Error>),
}

impl Client {
    /// Polls the job until it is `COMPLETE` or `FAILED`, and returns it.
    pub async fn wait_for_job(&self, job_guid: &str) -> Result<types::Job, JobWaitError> {
        loop {
            let job = self.job_get(job_guid).await?.into_inner();
            if job.state != types::JobState::Processing {
                return Ok(job);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Polls a droplet being copied until it is no longer `COPYING`, and returns it (`STAGED` or
    /// `FAILED`, as the source was copied or not).
    pub async fn wait_for_copy(
        &self,
        droplet_guid: &str,
    ) -> Result<types::Droplet, Error<types::Error>> {
        loop {
            let droplet = self.droplet_get(droplet_guid).await?.into_inner();
            if droplet.state != types::DropletState::Copying {
                return Ok(droplet);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits for the job named by the `Location` header of a 202 (an upload's answer).
    pub async fn wait_for_accepted_job<T>(
        &self,
        accepted: &ResponseValue<T>,
    ) -> Result<types::Job, JobWaitError> {
        let guid = accepted_job_guid(accepted).ok_or(JobWaitError::NoJobLocation)?;
        self.wait_for_job(&guid).await
    }
}

/// The guid of the job named by the `Location` header of a 202 (an upload's or delete's answer);
/// None without a usable header.
pub fn accepted_job_guid<T>(accepted: &ResponseValue<T>) -> Option<String> {
    let location = accepted.headers().get(reqwest::header::LOCATION)?.to_str().ok()?;
    location.rsplit('/').next().filter(|g| !g.is_empty()).map(str::to_owned)
}
