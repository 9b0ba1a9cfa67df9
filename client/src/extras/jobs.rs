//! Following jobs.

use std::time::Duration;

use crate::{Client, Error, ResponseValue, types};

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

    /// Waits for the job named by the `Location` header of a 202 (an upload's answer).
    pub async fn wait_for_accepted_job<T>(
        &self,
        accepted: &ResponseValue<T>,
    ) -> Result<types::Job, JobWaitError> {
        let location = accepted
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or(JobWaitError::NoJobLocation)?;
        let guid = location
            .rsplit('/')
            .next()
            .filter(|g| !g.is_empty())
            .ok_or(JobWaitError::NoJobLocation)?;
        self.wait_for_job(guid).await
    }
}
