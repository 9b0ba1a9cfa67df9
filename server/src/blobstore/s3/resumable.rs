//! The S3 store's resumable writes: a multipart upload (its id is the write's name) whose parts
//! are sent as an append's bytes stream in, each of the configured part size; the bytes left
//! at an append's end that are fewer than S3's minimum part size are put in a tail object of
//! their own, which the next append (or the finish) reads back and sends first. A part or a
//! tail is durable once S3 answered for it, which is before the append returns. Any replica
//! can append, from the recorded parts and tail alone.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use super::S3Blobstore;
use super::errors::{blob_error, logged};
use crate::blobstore::resumable::{Appended, HeldTail, ResumableWrite, SentPart};
use crate::blobstore::{BlobError, BlobStream};

/// S3's smallest part but the last.
const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// Where the tails are kept: outside the droplets' prefix, one folder per write.
const TAILS_PREFIX: &str = "resumable-tails/";

/// The folder of write `name`'s tails (a hash: an upload id may hold any character).
fn tails_folder(name: &str) -> String {
    format!("{TAILS_PREFIX}{}/", hex::encode(Sha256::digest(name.as_bytes())))
}

/// A new name for a tail of write `name` that starts at `offset`.
fn new_tail_key(name: &str, offset: u64) -> String {
    format!("{}{offset:020}-{}", tails_folder(name), uuid::Uuid::new_v4())
}

impl S3Blobstore {
    pub(super) async fn start_upload(&self, key: &str) -> Result<ResumableWrite, BlobError> {
        let upload =
            self.store.create_multipart(&Path::from(key)).await.map_err(|e| self.fail(e))?;
        Ok(ResumableWrite { name: upload, ..ResumableWrite::default() })
    }

    pub(super) async fn append_parts(
        &self,
        key: &str,
        write: &ResumableWrite,
        mut bytes: BlobStream,
    ) -> Result<Appended, BlobError> {
        let mut parts = Parts::new(self, key, write);
        let mut buffer = self.tail(write).await?;
        let mut interrupted = None;
        while let Some(item) = bytes.next().await {
            match item {
                Ok(chunk) => {
                    buffer.extend_from_slice(&chunk);
                    if buffer.len() >= self.part_bytes {
                        parts.send(buffer.split().freeze()).await?;
                    }
                }
                Err(error) => {
                    interrupted = Some(error);
                    break;
                }
            }
        }
        let left = buffer.freeze();
        if left.len() as u64 >= MIN_PART_BYTES {
            parts.send(left.clone()).await?;
        }
        let mut appended = parts.done().await?;
        // Where the parts end: the old tail went into the new parts, or into the new tail.
        let new_parts = appended.parts[write.parts.len()..].iter().map(|p| p.size).sum::<u64>();
        let parts_end = write.offset - write.tail_size() + new_parts;
        appended.tail = None;
        if (left.len() as u64) < MIN_PART_BYTES && !left.is_empty() {
            let tail =
                HeldTail { key: new_tail_key(&write.name, parts_end), size: left.len() as u64 };
            let path = Path::from(tail.key.as_str());
            self.store.put(&path, left.into()).await.map_err(|e| self.fail(e))?;
            appended.tail = Some(tail);
        }
        appended.offset = parts_end + appended.tail_size();
        Ok(Appended { write: appended, interrupted })
    }

    pub(super) async fn finish_upload(
        &self,
        key: &str,
        write: &ResumableWrite,
    ) -> Result<(), BlobError> {
        let mut parts = Parts::new(self, key, write);
        let tail = self.tail(write).await?;
        // S3 completes no upload without a part: an empty blob is one empty part.
        if !tail.is_empty() || write.parts.is_empty() {
            parts.send(tail.freeze()).await?;
        }
        let sent = parts.done().await?.parts;
        let ids = sent.into_iter().map(|part| PartId { content_id: part.etag }).collect();
        let path = Path::from(key);
        self.store.complete_multipart(&path, &write.name, ids).await.map_err(|e| self.fail(e))?;
        if let Err(error) = self.remove_tails(&write.name).await {
            // The blob is there; a tail left over is the check's to report.
            logged(&self.log, error);
        }
        Ok(())
    }

    /// The bytes of the write's tail, as the buffer the next part fills.
    async fn tail(&self, write: &ResumableWrite) -> Result<BytesMut, BlobError> {
        let mut buffer = BytesMut::with_capacity(self.part_bytes);
        if let Some(held) = &write.tail {
            let path = Path::from(held.key.as_str());
            let got = self.store.get(&path).await.map_err(|e| self.fail(e))?;
            let tail = got.bytes().await.map_err(|e| self.fail(e))?;
            if tail.len() as u64 != held.size {
                let message = format!("tail {path} holds {} bytes, not {}", tail.len(), held.size);
                return Err(logged(&self.log, BlobError::Failed(message)));
            }
            buffer.extend_from_slice(&tail);
        }
        Ok(buffer)
    }

    /// Removes every tail of write `name`.
    pub(super) async fn remove_tails(&self, name: &str) -> Result<(), BlobError> {
        let folder = Path::from(tails_folder(name));
        let listed: Vec<_> = self.store.list(Some(&folder)).collect().await;
        for object in listed {
            let object = object.map_err(blob_error)?;
            match self.store.delete(&object.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(blob_error(error)),
            }
        }
        Ok(())
    }
}

/// The parts an append sends, numbered on from those the write had, a bounded number at once.
struct Parts {
    store: std::sync::Arc<object_store::aws::AmazonS3>,
    path: Path,
    write: ResumableWrite,
    in_flight: JoinSet<(usize, u64, Result<PartId, object_store::Error>)>,
    sent: Vec<Option<SentPart>>,
    limit: usize,
    log: slog::Logger,
}

impl Parts {
    fn new(s3: &S3Blobstore, key: &str, write: &ResumableWrite) -> Self {
        Parts {
            store: s3.store.clone(),
            path: Path::from(key),
            write: write.clone(),
            in_flight: JoinSet::new(),
            sent: write.parts.iter().cloned().map(Some).collect(),
            limit: s3.parts_in_flight,
            log: s3.log.clone(),
        }
    }

    async fn send(&mut self, part: Bytes) -> Result<(), BlobError> {
        while self.in_flight.len() >= self.limit {
            self.join_one().await?;
        }
        let index = self.sent.len();
        self.sent.push(None);
        let (store, path, upload) =
            (self.store.clone(), self.path.clone(), self.write.name.clone());
        let size = part.len() as u64;
        let payload = PutPayload::from(part);
        self.in_flight.spawn(async move {
            (index, size, store.put_part(&path, &upload, index, payload).await)
        });
        Ok(())
    }

    async fn join_one(&mut self) -> Result<(), BlobError> {
        let Some(joined) = self.in_flight.join_next().await else { return Ok(()) };
        let (index, size, result) =
            joined.map_err(|e| BlobError::Failed(format!("a part upload died: {e}")))?;
        let part = result.map_err(|e| logged(&self.log, blob_error(e)))?;
        self.sent[index] = Some(SentPart { etag: part.content_id, size });
        Ok(())
    }

    /// The write with every part sent, once all are.
    async fn done(mut self) -> Result<ResumableWrite, BlobError> {
        while !self.in_flight.is_empty() {
            self.join_one().await?;
        }
        let parts = self.sent.into_iter().map(|part| part.expect("every part joined")).collect();
        Ok(ResumableWrite { parts, ..self.write })
    }
}
