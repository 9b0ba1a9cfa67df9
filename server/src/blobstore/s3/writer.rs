//! Writing a blob into S3: a multipart upload, parts sent as the bits stream in, a bounded number
//! at a time; completed on commit, aborted when the writer is dropped.

use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{MultipartId, PutPayload};

use super::errors::{blob_error, logged};
use super::parts::{PartUploads, part_ids};
use crate::blobstore::{BlobError, BlobWriter};

/// A blob being written as a multipart upload, driven part by part (`MultipartStore`) rather
/// than through `WriteMultipart`, because the upload's id must be known: it is the writer's
/// [`BlobWriter::pending`] name, by which another replica aborts the upload if this process dies.
pub(super) struct S3BlobWriter {
    store: Arc<AmazonS3>,
    path: Path,
    upload: MultipartId,
    /// Chunks of the part being filled, and their length.
    part: Vec<Bytes>,
    part_len: usize,
    part_bytes: usize,
    parts: PartUploads,
    /// False once committed or aborted: a writer dropped while true aborts the upload.
    open: bool,
    log: slog::Logger,
}

impl S3BlobWriter {
    /// A writer of the multipart upload `upload`, just created, into `path`.
    pub(super) fn new(
        store: Arc<AmazonS3>,
        path: Path,
        upload: MultipartId,
        part_bytes: usize,
        parts_in_flight: usize,
        log: slog::Logger,
    ) -> Self {
        let (s, p, u, l) = (store.clone(), path.clone(), upload.clone(), log.clone());
        S3BlobWriter {
            store,
            path,
            upload,
            part: Vec::new(),
            part_len: 0,
            part_bytes,
            parts: PartUploads::new(s, p, u, &[], parts_in_flight, l),
            open: true,
            log,
        }
    }

    /// Sends the filled part (its chunks as they are, not copied into one buffer).
    async fn send_part(&mut self) -> Result<(), BlobError> {
        let payload: PutPayload = std::mem::take(&mut self.part).into_iter().collect();
        self.part_len = 0;
        self.parts.send(payload).await
    }
}

#[async_trait::async_trait]
impl BlobWriter for S3BlobWriter {
    fn pending(&self) -> String {
        self.upload.clone()
    }

    async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        self.part_len += chunk.len();
        self.part.push(chunk);
        if self.part_len >= self.part_bytes {
            self.send_part().await?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), BlobError> {
        if self.part_len > 0 {
            self.send_part().await?;
        }
        let ids = part_ids(self.parts.all_sent().await?);
        let completed = self.store.complete_multipart(&self.path, &self.upload, ids).await;
        // Once completion was asked for, an abort could only fail: the outcome is the store's.
        self.open = false;
        completed.map(drop).map_err(|e| logged(&self.log, blob_error(e)))
    }
}

impl Drop for S3BlobWriter {
    /// Abandoned (the client went away, the bits were invalid, a part failed): the multipart
    /// upload is aborted, so that the store drops the parts already sent. Parts still going out
    /// are let finish first: a part whose upload completes after the abort may be kept (S3 says
    /// as much), and nothing would remove it.
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let mut in_flight = self.parts.take_in_flight();
        let (store, path, upload) = (self.store.clone(), self.path.clone(), self.upload.clone());
        let log = self.log.clone();
        runtime.spawn(async move {
            while in_flight.join_next().await.is_some() {}
            if let Err(error) = abort(&store, &path, &upload).await {
                // The bucket's lifecycle rule for incomplete uploads is the backstop.
                logged(&log, error);
            }
        });
    }
}

/// Aborts a multipart upload; one that is gone already is not an error.
pub(super) async fn abort(
    store: &AmazonS3,
    path: &Path,
    upload: &MultipartId,
) -> Result<(), BlobError> {
    match store.abort_multipart(path, upload).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(error) => Err(blob_error(error)),
    }
}
