//! Resumable writes: a blob written by any number of appends, each from whichever process, and
//! published once complete. Each append makes durable every byte it reports before it returns,
//! so that an upload that broke off (or whose process died) goes on from the offset the caller
//! recorded. The write's state is a value (`ResumableWrite`) the caller keeps in the metadata
//! store; the blobstore keeps only the bytes.
//!
//! An append writes past the recorded offset, and only the state it returns counts them: a
//! caller that does not record it (a chunk whose checksum did not match, a process that died
//! before recording) leaves the recorded state as it was, and the next append overwrites what
//! lies past its offset.

use serde::{Deserialize, Serialize};

/// Where a resumable write stands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumableWrite {
    /// What [`super::Blobstore::discard`] takes to remove everything the write holds (a local
    /// file, an S3 multipart upload and its tail).
    pub name: String,
    /// The bytes appended and durable.
    pub offset: u64,
    /// S3: the parts sent, in order, each of S3's minimum part size or more.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<SentPart>,
    /// S3: the bytes past the last part (fewer than S3's minimum part size), held in an object
    /// of their own until an append brings enough for a part, or the write is finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<HeldTail>,
}

/// S3: a resumable write's tail, in an object each append names anew (an unrecorded append
/// must not write over the tail the recorded state holds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldTail {
    pub key: String,
    pub size: u64,
}

impl ResumableWrite {
    /// The bytes held in the tail.
    pub fn tail_size(&self) -> u64 {
        self.tail.as_ref().map_or(0, |tail| tail.size)
    }
}

/// One part of an S3 multipart upload, sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentPart {
    pub etag: String,
    pub size: u64,
}

/// What an append made durable, and, when its bytes stopped before their end (the connection
/// broke), why.
#[derive(Debug)]
pub struct Appended {
    pub write: ResumableWrite,
    pub interrupted: Option<std::io::Error>,
}
