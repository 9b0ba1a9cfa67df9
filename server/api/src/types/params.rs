//! Path parameters and headers of the endpoints.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Path of a droplet. Any string is accepted: a guid that names no droplet is simply not found.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct DropletPath {
    pub guid: String,
}

/// Path of an app. The app is an opaque reference: an app that no droplet names has none.
#[derive(Deserialize, JsonSchema)]
pub struct AppPath {
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
    /// `ETag`s the client holds (or `*`): when one is the droplet's, 304 and no body.
    #[serde(rename = "if-none-match")]
    pub if_none_match: Option<String>,
    /// With `Range`, the `ETag` of the client's partial copy: when it is no longer the
    /// droplet's, the whole droplet is sent (200), never a slice of other bits.
    #[serde(rename = "if-range")]
    pub if_range: Option<String>,
}

/// Query of a signed blob URL, as produced by a 302 from a download.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct SignedUrlQuery {
    /// Unix time after which the URL is refused.
    pub expires: i64,
    /// Hex HMAC-SHA256 over method, path and expiry.
    pub signature: String,
}
