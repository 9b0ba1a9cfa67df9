//! Hand-written additions to the generated client.

mod download;
mod error;
mod jobs;
mod list;
mod resumable;
mod transfer;
mod upload;

pub use download::{DownloadOptions, DownloadReport};
pub use error::ClientError;
pub use jobs::{WaitOptions, accepted_job_guid};
pub use list::{DropletQuery, TimeBounds};
pub use resumable::ResumeOptions;
pub use upload::{UploadOptions, UploadProtocol, UploadReport};
