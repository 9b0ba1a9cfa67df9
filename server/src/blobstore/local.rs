//! Blobs as files in a local directory. A blob is written to `tmp/` on the same filesystem, flushed
//! to disk while it streams in (so that the final fsync is short), fsynced, and renamed into place;
//! the rename is then made durable by an fsync of the directory. Resumable writes are files of
//! their own (`resumable`).

mod resumable;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::files::{changed, files_in, read_chunks};
use super::resumable::{Appended, ResumableWrite};
use super::{BlobError, BlobStream, BlobWriter, Blobstore, PendingKind, PendingWrite, StoredBlob};

/// Written bytes after which a background fdatasync is started, so the disk keeps up with the
/// upload instead of receiving it all at commit.
const FLUSH_EVERY_BYTES: u64 = 64 * 1024 * 1024;
/// Chunks queued for the writer thread. A chunk may be as large as the HTTP server's read buffer
/// (hundreds of KiB), and 32 uploads may stream at once: a short queue keeps them within a small
/// memory, and the disk is rarely slower than the inflater anyway.
const WRITE_QUEUE_CHUNKS: usize = 2;
/// Size of the chunks a download is read in. Small enough that many downloads at once (an app
/// scaling out, its cells fetching one droplet together) stay within a small memory: a download
/// holds its read-ahead, the chunk being read and the one being sent, about 0.5 MiB.
const READ_CHUNK_BYTES: usize = 128 * 1024;
/// Size of the chunks a scrub reads a blob in: large reads are what keeps a sequential read of
/// a whole file at the disk's speed, and each chunk costs one hand-over between threads.
const SCAN_CHUNK_BYTES: usize = 1024 * 1024;
/// The directory of the resumable writes' files, under the store's root.
const RESUMABLE_DIRECTORY: &str = "resumable";
/// How the name of a resumable write's file ends.
const RESUMABLE_SUFFIX: &str = ".resumable";

pub struct LocalBlobstore {
    root: PathBuf,
}

impl LocalBlobstore {
    /// Opens the store at `root`. With `exclusive` (one server process uses the directory at a
    /// time) whatever is under `tmp/` was left by a process that died mid-write, and is removed.
    /// A directory shared by replicas keeps its `tmp/`: the others may be writing there, and what
    /// a dead replica left is discarded by name once its lease runs out.
    pub fn open(root: &Path, exclusive: bool) -> anyhow::Result<Self> {
        let tmp = root.join("tmp");
        if exclusive && tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        Ok(LocalBlobstore { root: root.to_owned() })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// The temporary file of a write in progress.
    fn temp_path(&self, name: &str) -> PathBuf {
        self.root.join("tmp").join(name)
    }

    /// The temporary name of a copy into `key`: one per key, so that a copy redone after a crash
    /// replaces what the first attempt left, and a delete of `key` removes it.
    fn copy_temp_path(&self, key: &str) -> PathBuf {
        self.temp_path(&format!("{}.copy", key.replace('/', "-")))
    }
}

async fn remove_if_present(path: &Path) -> Result<(), BlobError> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(failed(e)),
    }
}

fn failed(error: std::io::Error) -> BlobError {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::NotFound => BlobError::NotFound,
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
            BlobError::OutOfSpace(error.to_string())
        }
        _ => BlobError::Failed(error.to_string()),
    }
}

#[async_trait::async_trait]
impl Blobstore for LocalBlobstore {
    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        let final_path = self.path(key);
        let name = format!("{}.part", uuid::Uuid::new_v4());
        let temp_path = self.temp_path(&name);
        let file = File::create_new(&temp_path).map_err(failed)?;
        let (chunks, receiver) = mpsc::channel(WRITE_QUEUE_CHUNKS);
        let failure = Arc::new(Mutex::new(None));
        let worker_failure = failure.clone();
        let worker = std::thread::Builder::new()
            .name("blob-writer".to_owned())
            .spawn(move || write_blob(file, temp_path, final_path, receiver, worker_failure))
            .map_err(failed)?;
        Ok(Box::new(LocalBlobWriter { name, chunks, worker: Some(worker), failure }))
    }

    async fn read(&self, key: &str, first: u64, last: u64) -> Result<BlobStream, BlobError> {
        let file = File::open(self.path(key)).map_err(failed)?;
        Ok(read_chunks(file, first, last, READ_CHUNK_BYTES))
    }

    async fn scan(&self, key: &str, len: u64) -> Result<BlobStream, BlobError> {
        let file = File::open(self.path(key)).map_err(failed)?;
        match len {
            0 => Ok(Box::pin(futures::stream::empty())),
            _ => Ok(read_chunks(file, 0, len - 1, SCAN_CHUNK_BYTES)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<StoredBlob>, BlobError> {
        let directory = self.root.join(prefix);
        tokio::task::spawn_blocking(move || files_in(&directory))
            .await
            .map_err(|e| BlobError::Failed(format!("the listing task died: {e}")))?
            .map(|files| {
                let key = |name: String| format!("{prefix}{name}");
                files
                    .into_iter()
                    .map(|(name, size, modified)| StoredBlob { key: key(name), size, modified })
                    .collect()
            })
            .map_err(failed)
    }

    async fn stat(&self, key: &str) -> Result<StoredBlob, BlobError> {
        let metadata = tokio::fs::metadata(self.path(key)).await.map_err(failed)?;
        Ok(StoredBlob { key: key.to_owned(), size: metadata.len(), modified: changed(&metadata) })
    }

    /// Every file in `tmp/` and every resumable write's: their names tell no key.
    async fn pending_writes(&self, _prefix: &str) -> Result<Vec<PendingWrite>, BlobError> {
        let (directory, resumable) = (self.root.join("tmp"), self.root.join(RESUMABLE_DIRECTORY));
        let (files, resumable) = tokio::task::spawn_blocking(move || {
            Ok::<_, std::io::Error>((files_in(&directory)?, files_in(&resumable)?))
        })
        .await
        .map_err(|e| BlobError::Failed(format!("the listing task died: {e}")))?
        .map_err(failed)?;
        let resumable = resumable.into_iter().map(|(name, _, started)| PendingWrite {
            kind: PendingKind::ResumableFile,
            key: None,
            name,
            started,
        });
        let pending = files.into_iter().map(|(name, _, started)| {
            // `copy_temp_path`'s naming, read back: `droplets-GUID.copy` copies into
            // `droplets/GUID`.
            let copy_into = name.strip_suffix(".copy").and_then(|key| key.split_once('-'));
            let key = copy_into.map(|(prefix, rest)| format!("{prefix}/{rest}"));
            let kind =
                if key.is_some() { PendingKind::CopyTempFile } else { PendingKind::TempFile };
            PendingWrite { kind, key, name, started }
        });
        Ok(pending.chain(resumable).collect())
    }

    /// Removes the blob, and what a copy into `key` interrupted by a crash may have left.
    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        remove_if_present(&self.copy_temp_path(key)).await?;
        remove_if_present(&self.path(key)).await
    }

    async fn discard(&self, _key: &str, pending: &str) -> Result<(), BlobError> {
        if pending.ends_with(RESUMABLE_SUFFIX) {
            return remove_if_present(&self.resumable_path(pending)?).await;
        }
        // A name this store gives a file in `tmp/` (a write's, a copy's, a health probe's) is one
        // plain file name; anything else is not ours.
        let ours = [".part", ".copy", ".probe"].iter().any(|suffix| pending.ends_with(suffix));
        if pending.contains(['/', '\\']) || !ours {
            return Err(BlobError::Failed(format!("not a pending blob's name: {pending:?}")));
        }
        remove_if_present(&self.temp_path(pending)).await
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError> {
        let temp_path = self.copy_temp_path(to);
        let (from, to) = (self.path(from), self.path(to));
        tokio::task::spawn_blocking(move || copy_blob(&from, &temp_path, &to))
            .await
            .map_err(|e| BlobError::Failed(format!("the copy task died: {e}")))?
            .map_err(failed)
    }

    async fn start_resumable(&self, _key: &str) -> Result<ResumableWrite, BlobError> {
        self.start_resumable_file().await
    }

    async fn append(
        &self,
        _key: &str,
        write: &ResumableWrite,
        bytes: BlobStream,
        _announced: Option<u64>,
    ) -> Result<Appended, BlobError> {
        self.append_to_file(write, bytes).await
    }

    async fn finish_resumable(&self, key: &str, write: &ResumableWrite) -> Result<(), BlobError> {
        self.finish_file(key, write).await
    }

    /// Writes a probe file in `tmp/` (the directory blobs are written in first) and removes it.
    async fn check(&self) -> Result<(), BlobError> {
        let probe = self.root.join("tmp").join(format!("health-{}.probe", uuid::Uuid::new_v4()));
        let written = tokio::fs::write(&probe, b"ok").await;
        let removed = tokio::fs::remove_file(&probe).await;
        written
            .and(removed)
            .map_err(|e| BlobError::Unavailable(format!("{}: {e}", probe.display())))
    }
}

/// Copies a published blob to a new key. Published blobs are immutable (never written again,
/// only removed by unlinking their name), so the copy is a hard link: two names for one inode,
/// made in O(1) whatever the droplet's size, complete at once, and as durable as the source
/// already is. Like a written blob it is made under `tmp/` and renamed into place with the rename
/// fsynced, so a crash leaves either nothing under `to` or the whole blob. Where the filesystem
/// refuses hard links, the bytes are copied into the temp file and fsynced before the rename.
fn copy_blob(from: &Path, temp_path: &Path, to: &Path) -> std::io::Result<()> {
    // Left by an attempt that crashed: this attempt starts over.
    match std::fs::remove_file(temp_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let staged = match std::fs::hard_link(from, temp_path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => (|| {
            let mut source = File::open(from)?;
            let mut target = File::create_new(temp_path)?;
            std::io::copy(&mut source, &mut target)?;
            target.sync_all()
        })(),
    };
    let result = staged.and_then(|()| publish(temp_path, to));
    // Also after success: when a crashed attempt had already published `to`, the temp name and
    // `to` are links to one inode, and renaming one onto the other does nothing (POSIX), leaving
    // the temp name behind.
    let _ = std::fs::remove_file(temp_path);
    result
}

enum WriteCommand {
    Chunk(Bytes),
    Commit(oneshot::Sender<Result<(), BlobError>>),
}

struct LocalBlobWriter {
    /// The temporary file's name under `tmp/`.
    name: String,
    chunks: mpsc::Sender<WriteCommand>,
    worker: Option<JoinHandle<()>>,
    /// Why the writer thread stopped early, once it did.
    failure: Arc<Mutex<Option<std::io::Error>>>,
}

impl LocalBlobWriter {
    /// Why the writer thread is gone.
    fn stopped(&self) -> BlobError {
        match self.failure.lock().expect("not poisoned").take() {
            Some(error) => failed(error),
            None => BlobError::Failed("the blob writer stopped".to_owned()),
        }
    }
}

#[async_trait::async_trait]
impl BlobWriter for LocalBlobWriter {
    fn pending(&self) -> String {
        self.name.clone()
    }

    async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        let sent = self.chunks.send(WriteCommand::Chunk(chunk)).await;
        sent.map_err(|_| self.stopped())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), BlobError> {
        let (done, result) = oneshot::channel();
        let sent = self.chunks.send(WriteCommand::Commit(done)).await;
        sent.map_err(|_| self.stopped())?;
        let result =
            result.await.unwrap_or_else(|_| Err(BlobError::Failed("the blob writer died".into())));
        if let Some(worker) = self.worker.take() {
            let _ = tokio::task::spawn_blocking(move || worker.join()).await;
        }
        result
    }
}

/// The writer thread: appends chunks, flushes in the background as it goes, and on commit makes
/// the blob durable and renames it into place. If the channel closes without a commit (the upload
/// was abandoned), or anything fails, the partial file is removed. A write that fails (a full
/// disk) stops the thread at once, the file removed and the error left in `failure`, so that the
/// upload stops too instead of streaming the rest of its body into nothing.
fn write_blob(
    mut file: File,
    temp_path: PathBuf,
    final_path: PathBuf,
    mut commands: mpsc::Receiver<WriteCommand>,
    failure: Arc<Mutex<Option<std::io::Error>>>,
) {
    let mut unflushed: u64 = 0;
    let mut flusher: Option<JoinHandle<std::io::Result<()>>> = None;
    let mut result: std::io::Result<()> = Ok(());
    while let Some(command) = commands.blocking_recv() {
        match command {
            WriteCommand::Chunk(chunk) => {
                result = file.write_all(&chunk);
                unflushed += chunk.len() as u64;
                if unflushed >= FLUSH_EVERY_BYTES
                    && flusher.as_ref().is_none_or(|f| f.is_finished())
                {
                    unflushed = 0;
                    if let Some(previous) = flusher.take() {
                        result = result.and(join_flush(previous));
                    }
                    flusher =
                        file.try_clone().ok().map(|f| std::thread::spawn(move || f.sync_data()));
                }
                if let Err(error) = std::mem::replace(&mut result, Ok(())) {
                    if let Some(previous) = flusher.take() {
                        let _ = join_flush(previous);
                    }
                    // Closed and removed before the failure is told: the space is free again by
                    // the time the upload answers.
                    drop(file);
                    let _ = std::fs::remove_file(&temp_path);
                    *failure.lock().expect("not poisoned") = Some(error);
                    return;
                }
            }
            WriteCommand::Commit(done) => {
                let flushed = flusher.take().map_or(Ok(()), join_flush);
                let outcome = result
                    .and(flushed)
                    .and_then(|()| file.sync_all())
                    .and_then(|()| publish(&temp_path, &final_path))
                    .map_err(failed);
                if outcome.is_err() {
                    let _ = std::fs::remove_file(&temp_path);
                }
                let _ = done.send(outcome);
                return;
            }
        }
    }
    if let Some(previous) = flusher.take() {
        let _ = join_flush(previous);
    }
    let _ = std::fs::remove_file(&temp_path);
}

fn join_flush(flusher: JoinHandle<std::io::Result<()>>) -> std::io::Result<()> {
    flusher.join().unwrap_or_else(|_| Err(std::io::Error::other("flush thread panicked")))
}

/// Renames the durable temp file to its final name and makes the rename durable.
fn publish(temp_path: &Path, final_path: &Path) -> std::io::Result<()> {
    let directory = final_path.parent().expect("blob paths have a parent");
    std::fs::create_dir_all(directory)?;
    std::fs::rename(temp_path, final_path)?;
    File::open(directory)?.sync_all()
}
