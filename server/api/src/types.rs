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
    /// Redacted to `[PRIVATE DATA HIDDEN]` for callers who may not read secrets, and to
    /// `[PRIVATE DATA HIDDEN IN LISTS]` in lists.
    pub execution_metadata: String,
    /// Process type name to start command. Redacted as the reference does: in lists, and for
    /// callers who may not read secrets, it is `{"redacted_message": "[PRIVATE DATA HIDDEN IN
    /// LISTS]"}` (lists) or `{"redacted_message": "[PRIVATE DATA HIDDEN]"}` instead.
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
    /// Labels and annotations of the new droplet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetadataUpdate>,
}

/// Request body of `PATCH /v3/droplets/{guid}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
pub struct DropletUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetadataUpdate>,
}

/// Labels and annotations to set; a null value deletes the key.
///
/// Keys are an optional DNS-style prefix (at most 253 characters, not `cloudfoundry.org`) and
/// `/`, then a name of at most 63 alphanumerics, `-`, `_` and `.`, starting and ending
/// alphanumeric. Label values follow the name rules or are empty; annotation values are at most
/// 5000 characters.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
pub struct MetadataUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, Option<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, Option<String>>>,
}

/// Query of `GET /v3/droplets`. Lists are comma-separated; a parameter not named here is 400.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct DropletListParams {
    /// Droplet guids to include.
    pub guids: Option<String>,
    /// Droplet states to include, e.g. `STAGED,FAILED`.
    pub states: Option<String>,
    /// App guids whose droplets to include.
    pub app_guids: Option<String>,
    /// Label requirements, joined by commas: `key`, `!key`, `key=value`, `key==value`,
    /// `key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`.
    pub label_selector: Option<String>,
    /// Creation times (`YYYY-MM-DDThh:mm:ssZ`) to include, comma-separated; or a single time as
    /// `created_ats[lt]`, `created_ats[lte]`, `created_ats[gt]` or `created_ats[gte]`.
    pub created_ats: Option<String>,
    /// Update times, like `created_ats`: a list, or `updated_ats[lt|lte|gt|gte]`.
    pub updated_ats: Option<String>,
    /// Page to show, from 1 (the default).
    pub page: Option<u32>,
    /// Droplets per page, 1 to 5000; 50 by default.
    pub per_page: Option<u32>,
    /// `created_at` (the default), `updated_at`, or either with `-` for descending order.
    pub order_by: Option<String>,
}

/// A page of droplets.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct DropletList {
    pub pagination: Pagination,
    pub resources: Vec<Droplet>,
}

/// Where a page is in a list; every href is absolute and carries the list's query.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Pagination {
    pub total_results: u64,
    pub total_pages: u64,
    pub first: PageLink,
    pub last: PageLink,
    pub next: Option<PageLink>,
    pub previous: Option<PageLink>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct PageLink {
    /// Absolute URL.
    pub href: String,
}

/// Query of `POST /v3/droplets`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct DropletCreateQuery {
    /// Copy this droplet (which must be `STAGED`) to the app named in the body.
    pub source_guid: Option<String>,
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

/// `GET /`: where the APIs and the token issuer are. CF clients read it first.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct RootDocument {
    pub links: RootLinks,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct RootLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    /// Always null: this service has no v2 API.
    pub cloud_controller_v2: Option<Link>,
    pub cloud_controller_v3: Link,
    /// The UAA that issues tokens for this API (its `/oauth/token` takes grants), when known.
    pub login: Option<Link>,
    /// Same as `login`.
    pub uaa: Option<Link>,
}

/// `GET /v3`: the resources of the v3 API this service serves.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct V3RootDocument {
    pub links: V3RootLinks,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct V3RootLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub droplets: Link,
    pub jobs: Link,
}
