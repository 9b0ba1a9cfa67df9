//! The S3 store's resumable writes: a multipart upload (its id is the write's name) whose parts
//! are sent as an append's bytes stream in, each of the configured part size or a little more
//! (whole chunks). The bytes left at an append's end that are fewer than S3's minimum part size
//! are put in a tail object of their own, which the next append (or the finish) reads back and
//! sends first; an append whose length is announced (a request's `Content-Length`) plans its
//! parts so that the last takes them instead (`Plan`), leaving no tail unless it brought fewer
//! bytes than the minimum. A part or a tail is durable once S3 answered for it, which is before the append
//! returns. Any replica can append, from the recorded parts and tail alone. Where tails are
//! kept is `tails`.

use std::collections::VecDeque;

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
    chunks: VecDeque<Bytes>,
    len: u64,
}

impl Part {
    fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.len += chunk.len() as u64;
            self.chunks.push_back(chunk);
        }
    }

    /// The part as a payload, leaving an empty one.
    fn take(&mut self) -> PutPayload {
        self.len = 0;
        std::mem::take(&mut self.chunks).into_iter().collect()
    }

    /// Its first `bytes` (of at least that many) as a payload, the chunk they end in split
    /// where they end (without a copy); the rest stays.
    fn take_first(&mut self, bytes: u64) -> PutPayload {
        let mut taken = Vec::new();
        let mut wanted = bytes as usize;
        while wanted > 0 {
            let Some(mut chunk) = self.chunks.pop_front() else { break };
            if chunk.len() > wanted {
                self.chunks.push_front(chunk.split_off(wanted));
            }
            wanted -= chunk.len();
            taken.push(chunk);
        }
        self.len -= bytes;
        taken.into_iter().collect()
    }
}

/// How an append cuts its bytes into parts. Unless the caller announced how many bytes it
/// brings, parts of the configured size, the bytes left at the end held as a tail when too few
/// for a part. With the length announced, the parts are planned evenly so that the last takes
/// the end: `total / part_bytes` parts of about `part_bytes` or a little more, and no tail
/// unless the whole append (the old tail included) is fewer bytes than a part's minimum. No
/// part waits for the end, so the parts keep going out as the bytes come.
struct Plan {
    part_bytes: u64,
    /// Parts to send before the end, when the length is known.
    before_the_last: Option<u64>,
}

impl Plan {
    fn new(total: Option<u64>, part_bytes: u64) -> Self {
        match total {
            Some(total) if total >= MIN_PART_BYTES => {
                // Rounded down, so that the last takes what is left: it is never the smaller.
                let count = (total / part_bytes).max(1);
                Plan { part_bytes: total / count, before_the_last: Some(count - 1) }
            }
            _ => Plan { part_bytes, before_the_last: None },
        }
    }

    fn more_before_the_last(&self) -> bool {
        self.before_the_last != Some(0)
    }

    fn sent_one(&mut self) {
        self.before_the_last = self.before_the_last.map(|left| left.saturating_sub(1));
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
        let mut plan = Plan::new(announced.map(|n| n + part.len), self.part_bytes as u64);
        let mut interrupted = None;
        while let Some(item) = bytes.next().await {
            match item {
                Ok(chunk) => {
                    part.push(chunk);
                    while plan.more_before_the_last() && part.len >= plan.part_bytes {
                        parts.send(part.take_first(plan.part_bytes)).await?;
                        plan.sent_one();
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

#[cfg(test)]
mod tests {
    use super::{MIN_PART_BYTES, Plan};

    /// Every part an announced append sends is of S3's minimum or more, the last included,
    /// whatever its length: the parts planned, then the last with the rest.
    #[test]
    fn planned_parts_are_never_below_the_minimum() {
        const MIB: u64 = 1024 * 1024;
        for part_bytes in [5 * MIB, 8 * MIB] {
            let around = |n: u64| [n - 1, n, n + 1];
            let lengths = (1..8).flat_map(|k| around(k * part_bytes)).chain(around(16 * MIB));
            for total in lengths.filter(|total| *total >= MIN_PART_BYTES) {
                let plan = Plan::new(Some(total), part_bytes);
                let before = plan.before_the_last.expect("planned");
                let last = total - before * plan.part_bytes;
                assert!(plan.part_bytes >= MIN_PART_BYTES, "{total}: parts of {}", plan.part_bytes);
                assert!(last >= MIN_PART_BYTES && last >= plan.part_bytes, "{total}: last {last}");
                assert!(last < plan.part_bytes * 2, "{total}: the last holds {last}");
            }
        }
    }
}
