//! The blobstore seam: where droplet bits live. One implementation per backend, chosen at start-up.
//!
//! The contract every backend keeps: a blob written through a [`BlobWriter`] is visible under its
//! key only after `commit` returned, complete and durable; a writer dropped without commit leaves
//! nothing behind. A writer whose process died leaves what it had written aside, under the name
//! its [`BlobWriter::pending`] gave; the metadata store keeps that name, so that any replica can
//! [`Blobstore::discard`] it once the writer's lease ran out.
//!
//! Besides the bits, a store answers what it holds (`list`, `stat`) and which writes were
//! started but neither committed nor discarded (`pending_writes`), so that the consistency check
//! (`crate::check`) and recovery can compare it with the metadata.
//!
//! The blobstore calls nothing else of the server but its configuration; its errors are
//! [`BlobError`]s, which become CF errors in `crate::errors`.

pub mod configured;
mod files;
pub mod local;
pub mod metered;
pub mod resumable;
#[cfg(test)]
mod resumable_tests;
pub mod s3;

use std::pin::Pin;
use std::time::SystemTime;

use bytes::Bytes;
use futures::Stream;
use resumable::{Appended, ResumableWrite};

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

/// The prefix of every droplet's blob key: what the server owns in a store.
pub const DROPLETS_PREFIX: &str = "droplets/";

/// The blob key of a droplet's bits.
pub fn droplet_key(guid: uuid::Uuid) -> String {
    format!("{DROPLETS_PREFIX}{guid}")
}

/// A blob in the store, as a listing shows it.
#[derive(Clone, Debug)]
pub struct StoredBlob {
    pub key: String,
    pub size: u64,
    /// When it was last written or, for a local file, linked or renamed (a copy's hard link
    /// keeps its source's modification time, not its change time).
    pub modified: SystemTime,
}

/// A write started and neither committed nor discarded: in progress, or left by a process that
/// died (or by a request to the store whose answer was lost).
#[derive(Clone, Debug)]
pub struct PendingWrite {
    pub kind: PendingKind,
    /// The key it writes into, where the store tells (S3 does, and a local copy's temporary
    /// file; an upload's temporary file does not).
    pub key: Option<String>,
    /// Its name, as [`BlobWriter::pending`] gave it: what [`Blobstore::discard`] takes.
    pub name: String,
    pub started: SystemTime,
}

/// What a pending write is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingKind {
    /// An S3 multipart upload.
    MultipartUpload,
    /// A local temporary file of an upload (or of a health probe).
    TempFile,
    /// A local temporary file of a copy into `key`: in flight while that droplet is there.
    CopyTempFile,
    /// A local file of a resumable write (S3's are multipart uploads).
    ResumableFile,
    /// S3: the folder of tails of a resumable write whose multipart upload is gone.
    ResumableTails,
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

    /// Every blob whose key starts with `prefix` (which ends with `/`).
    async fn list(&self, prefix: &str) -> Result<Vec<StoredBlob>, BlobError>;

    /// The blob under `key`, without its bits; [`BlobError::NotFound`] if there is none.
    async fn stat(&self, key: &str) -> Result<StoredBlob, BlobError>;

    /// The writes into keys under `prefix` that were started and neither committed nor
    /// discarded, in progress ones included: S3's multipart uploads, the local store's temporary
    /// files (whose names do not tell their keys: all of them).
    async fn pending_writes(&self, prefix: &str) -> Result<Vec<PendingWrite>, BlobError>;

    /// The whole blob under `key`, `len` bytes, for reading it through once (a scrub): in chunks
    /// larger than a download's where the store reads faster so.
    async fn scan(&self, key: &str, len: u64) -> Result<BlobStream, BlobError> {
        match len {
            0 => Ok(Box::pin(futures::stream::empty())),
            _ => self.read(key, 0, len - 1).await,
        }
    }

    /// Starts a resumable write into `key` (see [`resumable`]); nothing is visible there until
    /// it is finished.
    async fn start_resumable(&self, key: &str) -> Result<ResumableWrite, BlobError>;

    /// Appends `bytes` to the resumable write into `key` at `write.offset`, overwriting what an
    /// unrecorded append left past it. Every byte the returned state counts is durable; when
    /// `bytes` fails midway, what arrived before is kept and the failure returned with it. An
    /// error means nothing was added. `announced`: how many bytes `bytes` brings, when the
    /// caller knows (a request's `Content-Length`), which lets a store plan the write's pieces.
    async fn append(
        &self,
        key: &str,
        write: &ResumableWrite,
        bytes: BlobStream,
        announced: Option<u64>,
    ) -> Result<Appended, BlobError>;

    /// Publishes the resumable write's `write.offset` bytes under `key`, with the contract of a
    /// committed [`BlobWriter`], and removes what the write held apart.
    async fn finish_resumable(&self, key: &str, write: &ResumableWrite) -> Result<(), BlobError>;

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
