//! The droplet resource, in the field order the Cloud Controller uses.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::shared::{Link, Timestamp};

/// Where a droplet is in its life:
///
/// - `AWAITING_UPLOAD`: created; waiting for its bits.
///
/// - `PROCESSING_UPLOAD`: bits received; the upload job is storing and checking them.
///
/// - `STAGED`: bits stored and checksummed; the droplet can be downloaded.
///
/// - `FAILED`: the upload or copy failed; `error` says why.
///
/// - `COPYING`: being copied from another droplet.
///
/// - `EXPIRED`: the reference's state for a droplet whose bits its retention removed; this
///   server removes no droplet's bits by itself, so it never reports it.
// The states are described above, not one by one: a described variant would make each its own
// `oneOf` branch in the document, and generators of other languages a type per state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DropletState {
    AwaitingUpload,
    ProcessingUpload,
    Staged,
    Failed,
    Copying,
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
