//! The root documents, `/` and `/v3`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::shared::Link;

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
