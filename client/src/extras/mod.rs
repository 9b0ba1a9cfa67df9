//! Hand-written additions to the generated client.

mod download;
mod error;
// The generated upload form names its file part by this module.
pub(crate) mod file_part;
mod jobs;
mod list;
mod transfer;
mod upload;

pub use download::{DownloadOptions, DownloadReport};
pub use error::ClientError;
pub use file_part::FilePart;
pub use jobs::{WaitOptions, accepted_job_guid};
pub use list::{DropletQuery, TimeBounds};
pub use upload::{UploadOptions, UploadReport};
