//! The local store's resumable writes: one file per write under `resumable/`, which a restart
//! keeps (unlike `tmp/`, whose files no one can resume), appended in place, flushed in the
//! background as the bytes stream in and fsynced before an append returns. The caller holds
//! one append at a time on a write (two would write over each other).

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::{
    FLUSH_EVERY_BYTES, LocalBlobstore, RESUMABLE_DIRECTORY, RESUMABLE_SUFFIX, WRITE_QUEUE_CHUNKS,
    failed, join_flush, publish,
};
use crate::blobstore::resumable::{Appended, ResumableWrite};
use crate::blobstore::{BlobError, BlobStream};

impl LocalBlobstore {
    /// The file of the resumable write `name`, if `name` is one this store gives.
    pub(super) fn resumable_path(&self, name: &str) -> Result<PathBuf, BlobError> {
        if name.contains(['/', '\\']) || !name.ends_with(RESUMABLE_SUFFIX) {
            return Err(BlobError::Failed(format!("not a resumable write's name: {name:?}")));
        }
        Ok(self.root.join(RESUMABLE_DIRECTORY).join(name))
    }

    pub(super) async fn start_resumable_file(&self) -> Result<ResumableWrite, BlobError> {
        let name = format!("{}{RESUMABLE_SUFFIX}", uuid::Uuid::new_v4());
        let path = self.resumable_path(&name)?;
        blocking(move || {
            let directory = path.parent().expect("under the store's root");
            std::fs::create_dir_all(directory)?;
            File::create_new(&path)?.sync_all()?;
            // The new name is durable too: an acknowledged append must find its file.
            File::open(directory)?.sync_all()
        })
        .await?;
        Ok(ResumableWrite { name, ..ResumableWrite::default() })
    }

    pub(super) async fn append_to_file(
        &self,
        write: &ResumableWrite,
        mut bytes: BlobStream,
    ) -> Result<Appended, BlobError> {
        let path = self.resumable_path(&write.name)?;
        let offset = write.offset;
        let (chunks, received) = mpsc::channel(WRITE_QUEUE_CHUNKS);
        let writer = tokio::task::spawn_blocking(move || append_chunks(&path, offset, received));
        let mut interrupted = None;
        while let Some(item) = bytes.next().await {
            match item {
                // A closed channel: the writer failed, and says why below.
                Ok(chunk) => {
                    if chunks.send(chunk).await.is_err() {
                        break;
                    }
                }
                Err(error) => {
                    interrupted = Some(error);
                    break;
                }
            }
        }
        drop(chunks);
        let written = writer
            .await
            .map_err(|e| BlobError::Failed(format!("the append task died: {e}")))?
            .map_err(failed)?;
        let write = ResumableWrite { offset: offset + written, ..write.clone() };
        Ok(Appended { write, interrupted })
    }

    pub(super) async fn finish_file(
        &self,
        key: &str,
        write: &ResumableWrite,
    ) -> Result<(), BlobError> {
        let path = self.resumable_path(&write.name)?;
        let (final_path, offset) = (self.path(key), write.offset);
        blocking(move || {
            let file = OpenOptions::new().write(true).open(&path)?;
            if file.metadata()?.len() < offset {
                let message = format!("{} holds fewer than {offset} bytes", path.display());
                return Err(std::io::Error::other(message));
            }
            // What an unrecorded append left past the offset is not the blob's.
            file.set_len(offset)?;
            file.sync_all()?;
            publish(&path, &final_path)
        })
        .await
    }
}

/// Writes `chunks` into the file at `path` from `offset` on (what lies past it is dropped
/// first), and makes them durable; the bytes written.
fn append_chunks(
    path: &Path,
    offset: u64,
    mut chunks: mpsc::Receiver<Bytes>,
) -> std::io::Result<u64> {
    let mut file = OpenOptions::new().write(true).open(path)?;
    file.set_len(offset)?;
    file.seek(SeekFrom::Start(offset))?;
    let (mut written, mut unflushed) = (0u64, 0u64);
    let mut flusher: Option<JoinHandle<std::io::Result<()>>> = None;
    let mut result = Ok(());
    while let Some(chunk) = chunks.blocking_recv() {
        result = file.write_all(&chunk);
        if result.is_err() {
            break;
        }
        written += chunk.len() as u64;
        unflushed += chunk.len() as u64;
        // Flushed as it goes, so that the fsync before the answer is short.
        if unflushed >= FLUSH_EVERY_BYTES && flusher.as_ref().is_none_or(|f| f.is_finished()) {
            unflushed = 0;
            if let Some(previous) = flusher.take() {
                join_flush(previous)?;
            }
            flusher = file.try_clone().ok().map(|f| std::thread::spawn(move || f.sync_data()));
        }
    }
    let flushed = flusher.map_or(Ok(()), join_flush);
    result.and(flushed).and_then(|()| file.sync_data())?;
    Ok(written)
}

async fn blocking(
    work: impl FnOnce() -> std::io::Result<()> + Send + 'static,
) -> Result<(), BlobError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| BlobError::Failed(format!("the file task died: {e}")))?
        .map_err(failed)
}
