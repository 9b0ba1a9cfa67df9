//! Workers that consume the upload's bytes on threads of their own, fed the same chunks in parallel
//! (a chunk is reference-counted, not copied). Their queues are bounded, so a slow worker slows the
//! upload down instead of letting memory grow.

use std::io::{BufRead, Read};

use bytes::{Buf, Bytes};
use tokio::sync::mpsc;

/// Chunks queued per worker: enough to keep each busy while the next arrives, and few, since a
/// chunk may be hundreds of KiB and 32 uploads may stream at once.
const QUEUE_CHUNKS: usize = 2;

pub struct Sink<T> {
    chunks: Option<mpsc::Sender<Bytes>>,
    worker: tokio::task::JoinHandle<T>,
}

impl<T: Send + 'static> Sink<T> {
    /// Runs `work` on a blocking thread, reading the chunks sent to the sink.
    pub fn spawn(work: impl FnOnce(ChunkReader) -> T + Send + 'static) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_CHUNKS);
        let worker = tokio::task::spawn_blocking(move || {
            work(ChunkReader { receiver, current: Bytes::new() })
        });
        Sink { chunks: Some(sender), worker }
    }

    /// Hands `chunk` to the worker. A worker that has already finished (it found the bits invalid)
    /// takes no more; that is not an error here, its result says why.
    pub async fn send(&mut self, chunk: Bytes) {
        if let Some(sender) = &self.chunks
            && sender.send(chunk).await.is_err()
        {
            self.chunks = None;
        }
    }

    /// Ends the input and waits for the worker's result; Err with the panic's message if the
    /// worker panicked (its readers run over whatever bytes a client sent).
    pub async fn finish(mut self) -> Result<T, String> {
        self.chunks = None;
        self.worker.await.map_err(|error| match error.try_into_panic() {
            Ok(panic) => crate::jobs::runner::panic_message(panic.as_ref()),
            Err(error) => error.to_string(),
        })
    }
}

/// The chunks sent to a sink, as a blocking reader.
pub struct ChunkReader {
    receiver: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChunkReader {
    /// The next chunk, or `None` at the end of the input.
    pub fn next_chunk(&mut self) -> Option<Bytes> {
        if self.current.has_remaining() {
            return Some(std::mem::take(&mut self.current));
        }
        self.receiver.blocking_recv()
    }
}

/// Reading in place: a consumer that takes a `BufRead` (the inflater) reads the chunks
/// themselves, without a copy.
impl BufRead for ChunkReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while !self.current.has_remaining() {
            match self.receiver.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => break,
            }
        }
        Ok(&self.current)
    }

    fn consume(&mut self, amount: usize) {
        self.current.advance(amount);
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = buf.len().min(available.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}
