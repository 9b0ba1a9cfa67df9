//! Hand-written additions to the generated client.

mod download;
mod file_part;
mod jobs;
mod transfer;

pub use download::{DownloadError, DownloadReport};
pub use file_part::FilePart;
pub use jobs::JobWaitError;
