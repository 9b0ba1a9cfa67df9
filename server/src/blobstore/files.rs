//! The local store's files as it reads them: a byte range read in chunks on a thread of its own,
//! a few chunks ahead of the consumer; and a directory's files, with when each last changed.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use super::BlobStream;

/// Chunks read ahead of the consumer (of the network, during a download).
const READ_AHEAD_CHUNKS: usize = 2;

/// Bytes `first..=last` of `file`, read in chunks of `chunk_bytes` on a thread of their own, a
/// few chunks ahead of the consumer.
pub(super) fn read_chunks(file: File, first: u64, last: u64, chunk_bytes: usize) -> BlobStream {
    let (sender, receiver) = mpsc::channel(READ_AHEAD_CHUNKS);
    tokio::task::spawn_blocking(move || {
        let mut offset = first;
        while offset <= last {
            let len = (last - offset + 1).min(chunk_bytes as u64) as usize;
            let mut buffer = BytesMut::zeroed(len);
            let chunk = match file.read_exact_at(&mut buffer, offset) {
                Ok(()) => Ok(buffer.freeze()),
                Err(e) => Err(e),
            };
            let stop = chunk.is_err();
            // A closed channel means the client went away: stop reading.
            if sender.blocking_send(chunk).is_err() || stop {
                return;
            }
            offset += len as u64;
        }
    });
    Box::pin(ChunkStream(receiver))
}

/// When a file last changed: its inode's change time, which a hard link (a copy) and a rename
/// (a publish) set too, where the modification time of a copy is its source's.
pub(super) fn changed(metadata: &std::fs::Metadata) -> std::time::SystemTime {
    use std::os::unix::fs::MetadataExt;
    let since_epoch = std::time::Duration::new(
        metadata.ctime().max(0) as u64,
        metadata.ctime_nsec().clamp(0, 999_999_999) as u32,
    );
    std::time::UNIX_EPOCH + since_epoch
}

/// The files of `directory` (none if it does not exist): name, size, when it last changed.
pub(super) fn files_in(
    directory: &Path,
) -> std::io::Result<Vec<(String, u64, std::time::SystemTime)>> {
    let entries = match std::fs::read_dir(directory) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        entries => entries?,
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        // Gone since the directory was read: removed by the writer that made it.
        let Ok(metadata) = entry.metadata() else { continue };
        if metadata.is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            files.push((name, metadata.len(), changed(&metadata)));
        }
    }
    Ok(files)
}

/// The chunks a reader thread sends, as a stream.
struct ChunkStream(mpsc::Receiver<std::io::Result<Bytes>>);

impl futures::Stream for ChunkStream {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}
