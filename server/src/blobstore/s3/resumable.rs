//! The S3 store's resumable writes: a multipart upload (its id is the write's name) whose parts
//! are sent as an append's bytes stream in, each of the configured part size or a little more
//! (whole chunks). The bytes left at an append's end that are fewer than S3's minimum part size
//! are put in a tail object of their own, which the next append (or the finish) reads back and
//! sends first; an append whose length is announced (a request's `Content-Length`) makes its
//! last part take them instead, so that it leaves no tail unless it brought fewer bytes than the
//! minimum. A part or a tail is durable once S3 answered for it, which is before the append
//! returns. Any replica can append, from the recorded parts and tail alone. Where tails are
//! kept is `tails`.

use bytes::Bytes;
use futures::StreamExt;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use super::S3Blobstore;
use super::errors::logged;
use super::parts::{PartUploads, part_ids};
use super::tails::new_tail_key;
use crate::blobstore::resumable::{Appended, HeldTail, ResumableWrite};
use crate::blobstore::{BlobError, BlobStream};

/// S3's smallest part but the last.
const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// A part being filled: its chunks, and their length.
#[derive(Default)]
struct Part {
    chunks: Vec<Bytes>,
    len: u64,
}

impl Part {
    fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.len += chunk.len() as u64;
            self.chunks.push(chunk);
        }
    }

    /// The part as a payload, leaving an empty one.
    fn take(&mut self) -> PutPayload {
        self.len = 0;
        std::mem::take(&mut self.chunks).into_iter().collect()
    }
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
        announced: Option<u64>,
    ) -> Result<Appended, BlobError> {
        let mut parts = self.part_uploads(key, write);
        // The part being filled, its chunks as they came (not copied into one buffer).
        let mut part = Part::default();
        part.push(self.tail(write).await?);
        let mut to_come = announced;
        let mut interrupted = None;
        while let Some(item) = bytes.next().await {
            match item {
                Ok(chunk) => {
                    to_come = to_come.map(|left| left.saturating_sub(chunk.len() as u64));
                    part.push(chunk);
                    if part.len < self.part_bytes as u64 {
                        continue;
                    }
                    match to_come {
                        // What would follow this part is fewer bytes than a part may hold but
                        // the last: this part takes them, so that the append leaves no tail.
                        // The parts going out finish first, so that the longer part holds no
                        // more memory than they did.
                        Some(left) if left > 0 && left < MIN_PART_BYTES => parts.settle().await?,
                        _ => parts.send(part.take()).await?,
                    }
                }
                Err(error) => {
                    interrupted = Some(error);
                    break;
                }
            }
        }
        let left = part.len;
        let held = if left >= MIN_PART_BYTES {
            parts.send(part.take()).await?;
            None
        } else {
            (left > 0).then(|| part.take())
        };
        let mut appended = ResumableWrite { parts: parts.all_sent().await?, ..write.clone() };
        // Where the parts end: the old tail went into the new parts, or into the new tail.
        let new_parts = appended.parts[write.parts.len()..].iter().map(|p| p.size).sum::<u64>();
        let parts_end = write.offset - write.tail_size() + new_parts;
        appended.tail = None;
        if let Some(held) = held {
            let tail = HeldTail { key: new_tail_key(&write.name, parts_end), size: left };
            let path = Path::from(tail.key.as_str());
            self.store.put(&path, held).await.map_err(|e| self.fail(e))?;
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
        let mut parts = self.part_uploads(key, write);
        let tail = self.tail(write).await?;
        // S3 completes no upload without a part: an empty blob is one empty part.
        if !tail.is_empty() || write.parts.is_empty() {
            parts.send(tail.into()).await?;
        }
        let ids = part_ids(parts.all_sent().await?);
        let path = Path::from(key);
        self.store.complete_multipart(&path, &write.name, ids).await.map_err(|e| self.fail(e))?;
        if let Err(error) = self.remove_tails(&write.name).await {
            // The blob is there; a tail left over is the check's to report.
            logged(&self.log, error);
        }
        Ok(())
    }

    /// The parts of the write's upload, to send more after those it has.
    fn part_uploads(&self, key: &str, write: &ResumableWrite) -> PartUploads {
        let (store, log) = (self.store.clone(), self.log.clone());
        let (path, upload) = (Path::from(key), write.name.clone());
        PartUploads::new(store, path, upload, &write.parts, self.parts_in_flight, log)
    }

    /// The bytes of the write's tail (none if it holds none).
    async fn tail(&self, write: &ResumableWrite) -> Result<Bytes, BlobError> {
        let Some(held) = &write.tail else { return Ok(Bytes::new()) };
        let path = Path::from(held.key.as_str());
        let got = self.store.get(&path).await.map_err(|e| self.fail(e))?;
        let tail = got.bytes().await.map_err(|e| self.fail(e))?;
        if tail.len() as u64 != held.size {
            let message = format!("tail {path} holds {} bytes, not {}", tail.len(), held.size);
            return Err(logged(&self.log, BlobError::Failed(message)));
        }
        Ok(tail)
    }
}
