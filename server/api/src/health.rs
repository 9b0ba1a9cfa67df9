//! The answer of `GET /healthz`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The server is healthy: every check passed.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Health {
    /// Always `ok` (an unhealthy server answers 503 with an error instead).
    pub status: String,
    /// Each check by name (`metadata`, `blobstore`) with its outcome, `ok`.
    pub checks: BTreeMap<String, String>,
}
