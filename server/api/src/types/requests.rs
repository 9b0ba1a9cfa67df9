//! Request bodies and queries of the droplet endpoints, and the upload form's `resources`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::droplet::DropletRelationships;

/// Request body of `POST /v3/droplets`. A copy (`?source_guid=`) takes `relationships` only.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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
