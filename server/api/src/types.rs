//! Wire types of the droplet and job resources, in the field order the Cloud Controller uses.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A UTC timestamp rendered the way the Cloud Controller renders it: `YYYY-MM-DDThh:mm:ssZ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now().trunc_subsecs(0))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0.format("%Y-%m-%dT%H:%M:%SZ"))
    }
}

/// Where a droplet is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DropletState {
    /// Created; waiting for its bits.
    AwaitingUpload,
    /// Bits received; the upload job is storing and checking them.
    ProcessingUpload,
    /// Bits stored and checksummed; the droplet can be downloaded.
    Staged,
    /// The upload or copy failed; `error` says why.
    Failed,
    /// Being copied from another droplet.
    Copying,
    /// The bits were removed by retention.
    Expired,
}

impl DropletState {
    pub fn as_str(self) -> &'static str {
        match self {
            DropletState::AwaitingUpload => "AWAITING_UPLOAD",
            DropletState::ProcessingUpload => "PROCESSING_UPLOAD",
            DropletState::Staged => "STAGED",
            DropletState::Failed => "FAILED",
            DropletState::Copying => "COPYING",
            DropletState::Expired => "EXPIRED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "AWAITING_UPLOAD" => DropletState::AwaitingUpload,
            "PROCESSING_UPLOAD" => DropletState::ProcessingUpload,
            "STAGED" => DropletState::Staged,
            "FAILED" => DropletState::Failed,
            "COPYING" => DropletState::Copying,
            "EXPIRED" => DropletState::Expired,
            _ => return None,
        })
    }
}

/// A Cloud Foundry droplet: the staged, runnable form of an app.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Droplet {
    pub guid: Uuid,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub state: DropletState,
    /// Why the droplet failed, when `state` is `FAILED`.
    pub error: Option<String>,
    pub lifecycle: Lifecycle,
    /// The SHA-256 of the bits, once staged.
    pub checksum: Option<Checksum>,
    pub buildpacks: Vec<Buildpack>,
    pub stack: Option<String>,
    /// The image reference of a docker droplet; always null for buildpack droplets.
    pub image: Option<String>,
    pub execution_metadata: String,
    /// Process type name to start command.
    pub process_types: BTreeMap<String, String>,
    pub relationships: DropletRelationships,
    pub metadata: Metadata,
    pub links: DropletLinks,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Lifecycle {
    #[serde(rename = "type")]
    pub type_: LifecycleType,
    pub data: LifecycleData,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleType {
    Buildpack,
    Docker,
}

/// Lifecycle data; empty for droplets.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
pub struct LifecycleData {}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct Checksum {
    /// Always `sha256`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Lowercase hex digest.
    pub value: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Buildpack {
    pub name: String,
    pub detect_output: Option<String>,
    pub buildpack_name: Option<String>,
    pub version: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct DropletRelationships {
    pub app: ToOneRelationship,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct ToOneRelationship {
    pub data: RelationshipData,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct RelationshipData {
    pub guid: Uuid,
}

/// User-defined labels and annotations.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
pub struct Metadata {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Link {
    /// Absolute URL.
    pub href: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct DropletLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub app: Link,
    pub assign_current_droplet: Link,
    /// Present only while the droplet awaits its bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<Link>,
    /// Present only when the droplet is staged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<Link>,
}

/// Request body of `POST /v3/droplets`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct DropletCreate {
    pub relationships: DropletRelationships,
    /// Process type name to start command; defaults to `{"web": ""}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_types: Option<BTreeMap<String, String>>,
}

/// One entry of the optional `resources` form field of an upload: a file the tarball must hold.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadResource {
    /// Path of the file inside the tarball.
    pub path: String,
    pub size_in_bytes: u64,
    pub checksum: ResourceChecksum,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceChecksum {
    /// Lowercase hex SHA-1 of the file.
    pub value: String,
}

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
    pub errors: Vec<crate::ErrorItem>,
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

/// Path of a droplet. Any string is accepted: a guid that names no droplet is simply not found.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct DropletPath {
    pub guid: String,
}

/// Path of a job.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct JobPath {
    pub guid: String,
}

/// The `Location` header of a 202: where to follow the job.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct LocationHeader {
    /// Absolute URL of the job.
    pub location: String,
}

/// Request headers of a download.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct DownloadHeaders {
    /// A single byte range, `bytes=FIRST-LAST`, `bytes=FIRST-` or `bytes=-SUFFIX`, answered with
    /// 206; an unsatisfiable one gets 416.
    pub range: Option<String>,
}

/// Query of a signed blob URL, as produced by a 302 from a download.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct SignedUrlQuery {
    /// Unix time after which the URL is refused.
    pub expires: i64,
    /// Hex HMAC-SHA256 over method, path and expiry.
    pub signature: String,
}
