//! The constants of tus 1.0.0 as this server speaks it.

/// The tus version this server speaks, and the one every request but `OPTIONS` must name.
pub const TUS_VERSION: &str = "1.0.0";
/// The tus extensions this server implements.
pub const TUS_EXTENSIONS: &str = "creation,termination,expiration,checksum";
/// The algorithms `Upload-Checksum` may name.
pub const TUS_CHECKSUM_ALGORITHMS: &str = "sha256";
/// The media type of a `PATCH` body.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
/// Largest `Upload-Metadata` kept with an upload.
pub const MAX_UPLOAD_METADATA_BYTES: usize = 4096;
