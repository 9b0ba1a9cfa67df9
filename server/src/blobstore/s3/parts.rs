//! The parts of one multipart upload going out, a bounded number at once, numbered on from
//! those already sent: what a streaming blob write and a resumable write's append both do.

use std::sync::Arc;

use object_store::aws::AmazonS3;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, PutPayload};
use tokio::task::JoinSet;

use super::errors::{blob_error, logged};
use crate::blobstore::BlobError;
use crate::blobstore::resumable::SentPart;

pub(super) struct PartUploads {
    store: Arc<AmazonS3>,
    path: Path,
    upload: MultipartId,
    /// Parts going out, by index; `sent` holds those done, and `None` for those going out.
    in_flight: JoinSet<(usize, u64, Result<PartId, object_store::Error>)>,
    sent: Vec<Option<SentPart>>,
    limit: usize,
    log: slog::Logger,
}

impl PartUploads {
    /// The parts of `upload` into `path`, after those `sent` already; `limit` at once.
    pub(super) fn new(
        store: Arc<AmazonS3>,
        path: Path,
        upload: MultipartId,
        sent: &[SentPart],
        limit: usize,
        log: slog::Logger,
    ) -> Self {
        let sent = sent.iter().cloned().map(Some).collect();
        PartUploads { store, path, upload, in_flight: JoinSet::new(), sent, limit, log }
    }

    /// Sends `part` as the next one, once fewer than the limit are going out.
    pub(super) async fn send(&mut self, part: PutPayload) -> Result<(), BlobError> {
        while self.in_flight.len() >= self.limit {
            self.join_one().await?;
        }
        let index = self.sent.len();
        self.sent.push(None);
        let (store, path, upload) = (self.store.clone(), self.path.clone(), self.upload.clone());
        let size = part.content_length() as u64;
        self.in_flight.spawn(async move {
            let sent = store.put_part(&path, &upload, index, part).await;
            (index, size, sent)
        });
        Ok(())
    }

    /// Waits for one part going out.
    async fn join_one(&mut self) -> Result<(), BlobError> {
        let Some(joined) = self.in_flight.join_next().await else { return Ok(()) };
        let (index, size, result) =
            joined.map_err(|e| BlobError::Failed(format!("a part upload died: {e}")))?;
        let part = result.map_err(|e| logged(&self.log, blob_error(e)))?;
        self.sent[index] = Some(SentPart { etag: part.content_id, size });
        Ok(())
    }

    /// Every part, in order, once all are sent.
    pub(super) async fn all_sent(&mut self) -> Result<Vec<SentPart>, BlobError> {
        while !self.in_flight.is_empty() {
            self.join_one().await?;
        }
        let sent = std::mem::take(&mut self.sent);
        Ok(sent.into_iter().map(|part| part.expect("every part joined")).collect())
    }

    /// The parts still going out, to be let finish before the upload is aborted (a part whose
    /// upload completes after the abort may be kept, S3 says).
    pub(super) fn take_in_flight(
        &mut self,
    ) -> JoinSet<(usize, u64, Result<PartId, object_store::Error>)> {
        std::mem::take(&mut self.in_flight)
    }
}

/// The parts' ids, in order, as completing the upload takes them.
pub(super) fn part_ids(parts: Vec<SentPart>) -> Vec<PartId> {
    parts.into_iter().map(|part| PartId { content_id: part.etag }).collect()
}
