//! Any blobstore, counted: each operation, and each failure by kind, in `crate::metrics`.

use std::sync::Arc;

use super::resumable::{Appended, ResumableWrite};
use super::{BlobError, BlobStream, BlobWriter, Blobstore, PendingWrite, StoredBlob};
use crate::metrics::Metrics;

pub struct Metered {
    inner: Arc<dyn Blobstore>,
    metrics: Arc<Metrics>,
}

impl Metered {
    pub fn new(inner: Arc<dyn Blobstore>, metrics: Arc<Metrics>) -> Self {
        Metered { inner, metrics }
    }

    fn count<T>(&self, operation: &str, result: Result<T, BlobError>) -> Result<T, BlobError> {
        self.metrics.blobstore_operations.with_label_values(&[operation]).inc();
        if let Err(error) = &result {
            let kind = match error {
                BlobError::NotFound => "not_found",
                BlobError::Unavailable(_) => "unavailable",
                BlobError::OutOfSpace(_) => "out_of_space",
                BlobError::Failed(_) => "failed",
            };
            self.metrics.blobstore_errors.with_label_values(&[operation, kind]).inc();
        }
        result
    }
}

#[async_trait::async_trait]
impl Blobstore for Metered {
    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        self.count("create", self.inner.create(key).await)
    }

    async fn read(&self, key: &str, first: u64, last: u64) -> Result<BlobStream, BlobError> {
        self.count("read", self.inner.read(key, first, last).await)
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.count("delete", self.inner.delete(key).await)
    }

    async fn discard(&self, key: &str, pending: &str) -> Result<(), BlobError> {
        self.count("discard", self.inner.discard(key, pending).await)
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError> {
        self.count("copy", self.inner.copy(from, to).await)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<StoredBlob>, BlobError> {
        self.count("list", self.inner.list(prefix).await)
    }

    async fn stat(&self, key: &str) -> Result<StoredBlob, BlobError> {
        self.count("stat", self.inner.stat(key).await)
    }

    async fn pending_writes(&self, prefix: &str) -> Result<Vec<PendingWrite>, BlobError> {
        self.count("pending_writes", self.inner.pending_writes(prefix).await)
    }

    async fn scan(&self, key: &str, len: u64) -> Result<BlobStream, BlobError> {
        self.count("scan", self.inner.scan(key, len).await)
    }

    async fn start_resumable(&self, key: &str) -> Result<ResumableWrite, BlobError> {
        self.count("start_resumable", self.inner.start_resumable(key).await)
    }

    async fn append(
        &self,
        key: &str,
        write: &ResumableWrite,
        bytes: BlobStream,
        announced: Option<u64>,
    ) -> Result<Appended, BlobError> {
        self.count("append", self.inner.append(key, write, bytes, announced).await)
    }

    async fn finish_resumable(&self, key: &str, write: &ResumableWrite) -> Result<(), BlobError> {
        self.count("finish_resumable", self.inner.finish_resumable(key, write).await)
    }

    async fn check(&self) -> Result<(), BlobError> {
        self.count("check", self.inner.check().await)
    }

    async fn presigned_get(
        &self,
        key: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<String>, BlobError> {
        self.count("presigned_get", self.inner.presigned_get(key, ttl).await)
    }
}
