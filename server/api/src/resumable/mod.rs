//! Resumable uploads on the wire: tus 1.0.0 (<https://tus.io/protocols/resumable-upload>) with
//! its creation, termination, expiration and checksum extensions. A droplet's bits arrive in
//! any number of `PATCH` requests to the upload's URL, each appending at the offset the server
//! reported; a client whose connection broke asks the offset again (`HEAD`) and goes on.
//!
//! This module is the dialect only: the paths, the headers each request carries and each
//! response sends. What an upload is (its length, offset, expiry and bytes) is the server's,
//! kept apart from any protocol's headers.

mod chunk;
mod protocol;
mod responses;

pub use chunk::UploadChunk;
pub use protocol::*;
pub use responses::{
    Tus, TusAnswer, TusCapabilities, TusResumable, UploadAppended, UploadCreated, UploadEnded,
    UploadStatus,
};

use schemars::JsonSchema;
use serde::Deserialize;

/// Path of a resumable upload: its droplet and its id, as the `Location` of its creation gave.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct ResumableUploadPath {
    pub guid: String,
    /// The upload's id: unguessable, and valid only with its droplet.
    pub id: String,
}

/// The header every tus request but `OPTIONS` carries. Request headers are named in lower
/// case, as HTTP/2 sends them (and generated clients must name them: reqwest refuses static
/// header names in upper case); names match whatever their case.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct TusHeaders {
    /// The tus version the client speaks, `1.0.0`. Without it, or with another, 412 and
    /// `Tus-Version` naming the one this server speaks.
    #[serde(rename = "tus-resumable")]
    pub tus_resumable: Option<String>,
}

/// Request headers of an upload's creation.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct UploadCreationHeaders {
    /// The tus version the client speaks, `1.0.0` (412 otherwise).
    #[serde(rename = "tus-resumable")]
    pub tus_resumable: Option<String>,
    /// The droplet's size in bytes, all of which the upload must bring. More than the server's
    /// `max_upload_bytes` is 413; 0 is 422 (a droplet cannot be empty).
    #[serde(rename = "upload-length")]
    pub upload_length: u64,
    /// tus metadata, kept with the upload and answered by `HEAD`: comma-separated pairs of a
    /// key (no spaces or commas, each key once) and its value in Base64, such as
    /// `filename ZHJvcGxldC50Z3o=`. At most 4096 bytes; malformed metadata is 400.
    #[serde(rename = "upload-metadata")]
    pub upload_metadata: Option<String>,
}

/// Request headers of an append.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct UploadAppendHeaders {
    /// The tus version the client speaks, `1.0.0` (412 otherwise).
    #[serde(rename = "tus-resumable")]
    pub tus_resumable: Option<String>,
    /// Where the body goes: the upload's offset, as `HEAD` or the last `PATCH` reported it.
    /// Another offset is 409, and nothing is read.
    #[serde(rename = "upload-offset")]
    pub upload_offset: u64,
    /// `sha256 <Base64 of the body's SHA-256>`: the body is kept only if it matches (460
    /// otherwise, and nothing of it is kept). Another algorithm, or a malformed value, is 400.
    #[serde(rename = "upload-checksum")]
    pub upload_checksum: Option<String>,
}
