//! The job resource: an asynchronous operation and where it is.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::shared::{Link, Timestamp};
use crate::error::ErrorItem;

/// Where an asynchronous operation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    Processing,
    Complete,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Processing => "PROCESSING",
            JobState::Complete => "COMPLETE",
            JobState::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PROCESSING" => JobState::Processing,
            "COMPLETE" => JobState::Complete,
            "FAILED" => JobState::Failed,
            _ => return None,
        })
    }
}

/// An asynchronous operation, such as processing an upload.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Job {
    pub guid: Uuid,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// For example `droplet.upload`.
    pub operation: String,
    pub state: JobState,
    pub errors: Vec<ErrorItem>,
    pub warnings: Vec<JobWarning>,
    pub links: JobLinks,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct JobWarning {
    pub detail: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct JobLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    /// The droplet the job works on, while it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub droplet: Option<Link>,
}
