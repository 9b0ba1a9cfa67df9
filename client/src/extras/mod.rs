//! Hand-written additions to the generated client.

mod download;
// The generated upload form names its file part by this module.
pub(crate) mod file_part;
mod jobs;
mod transfer;

pub use download::{DownloadError, DownloadOptions, DownloadReport};
pub use file_part::FilePart;
pub use jobs::{JobWaitError, accepted_job_guid};
