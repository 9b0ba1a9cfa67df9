//! The S3 store's resumable writes: a multipart upload (its id is the write's name) whose parts
//! are sent as an append's bytes stream in, each of the configured part size but the append's
//! last, which takes the rest; an append that brings fewer bytes than S3's minimum part size
//! puts them in a tail object of their own, which the next append (or the finish) reads back
//! and sends first. A part or a
//! tail is durable once S3 answered for it, which is before the append returns. Any replica
//! can append, from the recorded parts and tail alone.

use bytes::BytesMut;
use futures::StreamExt;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};

use super::S3Blobstore;
use super::errors::{blob_error, logged};
use super::parts::{PartUploads, part_ids};
use crate::blobstore::resumable::{Appended, HeldTail, ResumableWrite};
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
        let mut parts = self.part_uploads(key, write);
        let mut buffer = self.tail(write).await?;
        let mut interrupted = None;
        while let Some(item) = bytes.next().await {
            match item {
                Ok(chunk) => {
                    buffer.extend_from_slice(&chunk);
                    // A part goes once what is left after it makes a part too, so that the
                    // append's last part takes its end: only an append that brings fewer bytes
                    // than S3's minimum leaves a tail to hold (and to read back next time).
                    while buffer.len() >= self.part_bytes + MIN_PART_BYTES as usize {
                        parts.send(buffer.split_to(self.part_bytes).freeze().into()).await?;
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
            parts.send(left.clone().into()).await?;
        }
        let mut appended = ResumableWrite { parts: parts.all_sent().await?, ..write.clone() };
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
        let mut parts = self.part_uploads(key, write);
        let tail = self.tail(write).await?;
        // S3 completes no upload without a part: an empty blob is one empty part.
        if !tail.is_empty() || write.parts.is_empty() {
            parts.send(tail.freeze().into()).await?;
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
