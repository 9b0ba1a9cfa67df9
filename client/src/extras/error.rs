//! The one error type of the hand-written extras.

use std::path::PathBuf;
use std::time::Duration;

use crate::generated::{Error, types};

/// What a hand-written method of [`Client`](crate::Client) can fail with. When the API answered
/// with a Cloud Foundry error, or a job failed with one, [`ClientError::cf_error`] gives its
/// `code`, `title` and `detail`.
///
/// Its message is one self-contained line (it has no `source`), fit to show to a person; match
/// on the variants, or on [`ClientError::cf_error`]'s `title`, to act on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The API answered with an error status (a CF error envelope), answered something the client
    /// did not expect, or could not be reached. The generated methods fail with this error type;
    /// `?` turns it into a `ClientError`.
    #[error("{}", api_line(.0))]
    Api(Box<Error<types::CfErrorEnvelope>>),
    /// The token cannot be sent as a bearer token; nothing was sent.
    #[error("the token cannot be used: {0}")]
    InvalidToken(&'static str),
    /// A 202 without a `Location` header naming a job (or a resumable upload's last append
    /// without a `Job-Location`).
    #[error("the response has no usable Location header naming a job")]
    NoJobLocation,
    /// A resumable upload's creation answered no `Location` naming the upload.
    #[error("the server created the upload but answered no Location naming it")]
    NoUploadLocation,
    /// A resumable upload's answer had no `Upload-Offset`.
    #[error("the server answered no Upload-Offset for the upload")]
    NoUploadOffset,
    /// A resumable upload took no byte in all its attempts at `offset`.
    #[error("the server took no more bytes of the upload, at offset {offset}, in all attempts")]
    NoProgress {
        /// Where the upload stands.
        offset: u64,
    },
    /// What the options ask for cannot be done this way.
    #[error("{0}")]
    Unsupported(&'static str),
    /// A wait reached its deadline ([`WaitOptions::timeout`](crate::WaitOptions::timeout)) with
    /// the job or droplet still in `state`.
    #[error("{what} is still {state} after {waited:.1?}; giving up")]
    Timeout {
        /// What was waited for, e.g. `job 6a4b...`.
        what: String,
        /// Its state at the last look, e.g. `PROCESSING`.
        state: String,
        /// How long the wait took.
        waited: Duration,
    },
    /// A job ended `FAILED`; its errors say why (see [`ClientError::cf_errors`]).
    #[error("the {} job failed: {}", .0.operation, items(&.0.errors))]
    JobFailed(Box<types::Job>),
    /// A droplet that is not `STAGED` has no bits to download.
    #[error("the droplet has no checksum; only staged droplets can be downloaded")]
    NoChecksum,
    /// The HTTP client could not be built, or a transfer was cut short.
    #[error("{}", reqwest_line(.0))]
    Http(reqwest::Error),
    /// Reading or writing a local file.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The downloaded bits are not the droplet's: their SHA-256 is not its checksum. Nothing is
    /// left at the download's path.
    #[error("the downloaded bits have SHA-256 {actual}, the droplet's checksum is {expected}")]
    DownloadChecksumMismatch {
        /// The droplet's checksum.
        expected: String,
        /// The SHA-256 of the bits received.
        actual: String,
    },
    /// The server staged other bits than the client sent: the droplet's checksum is not the
    /// SHA-256 of what was uploaded. Do not use the droplet.
    #[error(
        "the droplet was staged with SHA-256 {staged}, but the bits sent have SHA-256 {sent}: \
         they were altered on the way"
    )]
    UploadChecksumMismatch {
        /// The SHA-256 of the bits as they were sent, computed while sending.
        sent: String,
        /// The checksum the server staged the droplet with.
        staged: String,
    },
}

impl ClientError {
    /// The CF errors the API answered with, or the errors of a failed job; empty for any other
    /// error.
    pub fn cf_errors(&self) -> &[types::ErrorItem] {
        match self {
            ClientError::Api(error) => match &**error {
                Error::ErrorResponse(response) => &response.errors,
                _ => &[],
            },
            ClientError::JobFailed(job) => &job.errors,
            _ => &[],
        }
    }

    /// The (first) CF error, with its `code` (e.g. 10010), `title` (e.g. `CF-ResourceNotFound`)
    /// and `detail`, when the API or a job failed with one.
    pub fn cf_error(&self) -> Option<&types::ErrorItem> {
        self.cf_errors().first()
    }

    /// The HTTP status the API answered with, for API errors.
    pub fn status(&self) -> Option<reqwest::StatusCode> {
        match self {
            ClientError::Api(error) => error.status(),
            ClientError::Http(error) => error.status(),
            _ => None,
        }
    }
}

impl From<Error<types::CfErrorEnvelope>> for ClientError {
    fn from(error: Error<types::CfErrorEnvelope>) -> Self {
        ClientError::Api(Box::new(error))
    }
}

fn items(errors: &[types::ErrorItem]) -> String {
    let each = errors.iter().map(|e| format!("{}: {}", e.title, e.detail));
    each.collect::<Vec<_>>().join("; ")
}

fn api_line(error: &Error<types::CfErrorEnvelope>) -> String {
    match error {
        Error::ErrorResponse(response) => {
            format!("{} ({})", items(&response.errors), response.status())
        }
        Error::UnexpectedResponse(response) => {
            format!("unexpected response {} from {}", response.status(), response.url())
        }
        Error::CommunicationError(error) => {
            format!("cannot reach the API: {}", reqwest_line(error))
        }
        other => other.to_string(),
    }
}

/// A reqwest error with its causes, which its own message leaves out ("error sending request").
fn reqwest_line(error: &reqwest::Error) -> String {
    let mut line = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    line
}
