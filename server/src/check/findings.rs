//! What the check finds, and what became of each finding: the one vocabulary the survey, the
//! repair and the report share.

use serde::Serialize;
use uuid::Uuid;

/// One disagreement between the metadata and the bits.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Problem {
    /// A `STAGED` droplet whose blob is not in the store.
    MissingBlob { droplet: Uuid, key: String },
    /// A `STAGED` droplet whose blob has another size than its row says.
    SizeMismatch { droplet: Uuid, key: String, expected: u64, actual: u64 },
    /// A `STAGED` droplet whose blob's SHA-256 is not its checksum (`--deep`).
    ChecksumMismatch { droplet: Uuid, key: String, expected: String, actual: String },
    /// A blob under the droplets' prefix that no droplet owns.
    OrphanBlob { key: String, size: u64, age_secs: u64 },
    /// An S3 multipart upload neither completed nor aborted, that no upload recorded.
    StaleMultipartUpload { key: String, upload_id: String, age_secs: u64 },
    /// A local temporary file that no write in flight owns (`copy_into`: a copy's, into that key).
    StaleTempFile {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        copy_into: Option<String>,
        age_secs: u64,
    },
    /// The bytes of a resumable upload that no upload records: a local file under
    /// `resumable/`, or on S3 a folder of tails whose multipart upload is gone (`name`, as the
    /// store names it).
    StaleResumableWrite { name: String, age_secs: u64 },
    /// A job still `PROCESSING` long after its lease ran out: no server's recovery is running.
    OverdueJob { job: String, operation: String, droplet: Option<String>, overdue_secs: u64 },
}

impl Problem {
    /// The label of its kind, as the text report and the summary spell it.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::MissingBlob { .. } => "missing-blob",
            Problem::SizeMismatch { .. } => "size-mismatch",
            Problem::ChecksumMismatch { .. } => "checksum-mismatch",
            Problem::OrphanBlob { .. } => "orphan-blob",
            Problem::StaleMultipartUpload { .. } => "stale-multipart-upload",
            Problem::StaleTempFile { .. } => "stale-temp-file",
            Problem::StaleResumableWrite { .. } => "stale-resumable-write",
            Problem::OverdueJob { .. } => "overdue-job",
        }
    }

    /// What it names (a droplet, an object key, an upload, a job) and what is wrong, one line.
    pub fn describe(&self) -> String {
        match self {
            Problem::MissingBlob { droplet, key } => {
                format!("droplet {droplet}: STAGED, but its blob {key} is missing")
            }
            Problem::SizeMismatch { droplet, key, expected, actual } => format!(
                "droplet {droplet}: its blob {key} holds {actual} bytes, its record says {expected}"
            ),
            Problem::ChecksumMismatch { droplet, key, expected, actual } => format!(
                "droplet {droplet}: its blob {key} has SHA-256 {actual}, its record says {expected}"
            ),
            Problem::OrphanBlob { key, size, age_secs } => {
                format!("{key}: {size} bytes that no droplet owns, last written {age_secs} s ago")
            }
            Problem::StaleMultipartUpload { key, upload_id, age_secs } => format!(
                "{key}: multipart upload {upload_id} neither completed nor aborted, started \
                 {age_secs} s ago"
            ),
            Problem::StaleTempFile { name, age_secs, .. } => {
                format!("tmp/{name}: a temporary file no write owns, last changed {age_secs} s ago")
            }
            Problem::StaleResumableWrite { name, age_secs } if name.ends_with('/') => format!(
                "{name}: tails of a resumable upload whose multipart upload is gone, last \
                 written {age_secs} s ago"
            ),
            Problem::StaleResumableWrite { name, age_secs } => format!(
                "resumable/{name}: a resumable upload's bytes that no upload records, last \
                 written {age_secs} s ago"
            ),
            Problem::OverdueJob { job, operation, droplet, overdue_secs } => format!(
                "job {job} ({operation}, droplet {}): PROCESSING, its lease ran out \
                 {overdue_secs} s ago",
                droplet.as_deref().unwrap_or("-")
            ),
        }
    }
}

/// What became of a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    /// Found, and left as it is (no `--repair`).
    Found,
    /// Settled by the repair, as the text says.
    Repaired(String),
    /// Gone by the time the repair looked again: a server settled it, or it was in flight.
    Resolved(String),
    /// Still there after the repair: why.
    Remains(String),
}

impl Outcome {
    /// Whether the problem is still there after the check.
    pub fn is_open(&self) -> bool {
        matches!(self, Outcome::Found | Outcome::Remains(_))
    }
}

/// A problem and what became of it.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    #[serde(flatten)]
    pub problem: Problem,
    pub outcome: Outcome,
}
