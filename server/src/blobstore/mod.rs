//! The blobstore seam: where droplet bits live. One implementation per backend, chosen at start-up.
//!
//! The contract every backend keeps: a blob written through a [`BlobWriter`] is visible under its
//! key only after `commit` returned, complete and durable; a writer dropped without commit leaves
//! nothing behind. A writer whose process died leaves what it had written aside, under the name
//! its [`BlobWriter::pending`] gave; the metadata store keeps that name, so that any replica can
//! [`Blobstore::discard`] it once the writer's lease ran out.
//!
//! The blobstore calls nothing else of the server; its errors are [`BlobError`]s, which become CF
//! errors in `crate::errors`.

pub mod local;
pub mod metered;
pub mod s3;

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

/// A stream of a blob's bytes.
pub type BlobStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + Sync>>;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob not found")]
    NotFound,
    /// The store could not be reached.
    #[error("blobstore unavailable: {0}")]
    Unavailable(String),
    /// The store has no room for what is written (a full disk or quota).
    #[error("blobstore out of space: {0}")]
    OutOfSpace(String),
    /// The store was reached but the operation failed.
    #[error("blobstore operation failed: {0}")]
    Failed(String),
}

impl BlobError {
    /// The store could not be reached: asking again later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, BlobError::Unavailable(_))
    }
}

/// The blob key of a droplet's bits.
pub fn droplet_key(guid: uuid::Uuid) -> String {
    format!("droplets/{guid}")
}

#[async_trait::async_trait]
pub trait Blobstore: Send + Sync {
    /// Starts a new blob under `key`; nothing is visible there until the writer commits.
    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError>;

    /// Bytes `first..=last` of the blob under `key`.
    async fn read(&self, key: &str, first: u64, last: u64) -> Result<BlobStream, BlobError>;

    /// Removes the blob under `key`; removing a missing blob is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;

    /// Removes what an unfinished write into `key` left, named by its [`BlobWriter::pending`]:
    /// a temporary file, or a multipart upload and its parts. Idempotent: discarding what is
    /// already gone is not an error.
    async fn discard(&self, key: &str, pending: &str) -> Result<(), BlobError>;

    /// Makes the blob under `from` also available under `to`, with the same contract as a
    /// written blob: `to` is visible only once complete and durable. [`BlobError::NotFound`] if
    /// there is no blob under `from`.
    async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError>;

    /// Checks that the store is reachable and takes writes, for `GET /healthz`, leaving nothing
    /// behind.
    async fn check(&self) -> Result<(), BlobError>;

    /// A URL that serves the blob under `key` to anyone holding it for `ttl`, when the store
    /// hands such URLs out (S3's presigned URLs); downloads are then redirected there. None when
    /// the bits are to be streamed through this server.
    async fn presigned_get(
        &self,
        _key: &str,
        _ttl: std::time::Duration,
    ) -> Result<Option<String>, BlobError> {
        Ok(None)
    }
}

#[async_trait::async_trait]
pub trait BlobWriter: Send {
    /// The name of this write in progress, for [`Blobstore::discard`] by another process should
    /// this one die before the writer commits or is dropped.
    fn pending(&self) -> String;

    /// Appends `chunk`. Waits when the backend is behind, so memory stays bounded. Fails as soon
    /// as the backend failed to store what came before (a full disk stops the upload at once).
    async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError>;

    /// Makes the blob durable and visible under its key.
    async fn commit(self: Box<Self>) -> Result<(), BlobError>;
}
