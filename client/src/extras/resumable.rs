//! Sending a droplet's file as a resumable upload (tus 1.0.0, API version 4): one upload, whose
//! bytes go in `PATCH`es from the offset the server acknowledged. When a `PATCH` breaks (the
//! connection drops, the server restarts or answers that it is busy), the client waits, asks
//! the server for its offset (`HEAD`) and goes on from there, as often as the attempts allow,
//! counted afresh whenever bytes were acknowledged.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use progenitor_client::{Error, ResponseValue};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use uuid::Uuid;

use super::error::ClientError;
use crate::generated::{Client, types};

/// The tus version every request names.
const TUS: Option<&str> = Some("1.0.0");

/// How a resumable upload sends its bytes and gets over a broken connection.
#[derive(Clone, Debug)]
pub struct ResumeOptions {
    /// Most bytes sent in one `PATCH`; by default all the rest of the file (a body that breaks
    /// keeps what arrived, so smaller requests only help past proxies that limit a body).
    pub chunk_bytes: Option<u64>,
    /// Attempts in a row that may fail without the server acknowledging a byte (8).
    pub attempts: u32,
    /// Waited after the first failure (500 ms), doubling after each, or what the server's
    /// `Retry-After` says if that is longer.
    pub first_backoff: Duration,
    /// The longest wait between two attempts (10 s).
    pub max_backoff: Duration,
}

impl Default for ResumeOptions {
    fn default() -> Self {
        ResumeOptions {
            chunk_bytes: None,
            attempts: 8,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// What a resumable upload sent: its bytes, their SHA-256, and the job that took them.
pub(super) struct Sent {
    pub bytes: u64,
    pub sha256: String,
    pub job: Uuid,
}

/// The SHA-256 of the file as far as it was sent: bytes sent again after a resume are the same
/// bytes, and are hashed once.
#[derive(Default)]
struct Hashed {
    hasher: Sha256,
    upto: u64,
}

impl Client {
    /// Sends the file at `path` into `droplet` as one resumable upload; answers once its last
    /// byte is acknowledged.
    pub(super) async fn send_resumable(
        &self,
        droplet: Uuid,
        path: &Path,
        progress: Option<Arc<dyn Fn(u64, u64) + Send + Sync>>,
        options: &ResumeOptions,
    ) -> Result<Sent, ClientError> {
        let io_error = |error| ClientError::Io { path: path.to_owned(), error };
        let length = tokio::fs::metadata(path).await.map_err(io_error)?.len();
        let guid = droplet.to_string();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let metadata = format!("filename {}", base64_of(name.as_bytes()));
        let created = self.resumable_upload_create(&guid, TUS, length, Some(&metadata)).await?;
        let id = last_segment(&created, "location").ok_or(ClientError::NoUploadLocation)?;
        let hashed = Arc::new(Mutex::new(Hashed::default()));
        let (mut offset, mut failures) = (0u64, 0u32);
        loop {
            let body = self.chunk(path, offset, length, options, &hashed, &progress).await?;
            let appended = self.resumable_upload_append(&guid, &id, TUS, None, offset, body).await;
            let wait = match appended {
                Ok(answer) => {
                    if let Some(job) = last_segment(&answer, "job-location") {
                        let job = Uuid::parse_str(&job).map_err(|_| ClientError::NoJobLocation)?;
                        let Hashed { hasher, upto } = std::mem::take(&mut *lock(&hashed));
                        return Ok(Sent {
                            bytes: upto,
                            sha256: hex::encode(hasher.finalize()),
                            job,
                        });
                    }
                    let reported = header_number(&answer, "upload-offset");
                    let reported = reported.ok_or(ClientError::NoUploadOffset)?;
                    let moved = reported > offset;
                    offset = reported;
                    match moved {
                        true => {
                            failures = 0;
                            None
                        }
                        // Nothing was taken: as a failure.
                        false => {
                            failures += 1;
                            if failures >= options.attempts {
                                return Err(ClientError::NoProgress { offset });
                            }
                            Some(backoff(options, failures))
                        }
                    }
                }
                Err(error) if worth_retrying(&error) => {
                    failures += 1;
                    if failures >= options.attempts {
                        return Err(error.into());
                    }
                    Some(backoff(options, failures).max(retry_after(&error)))
                }
                Err(error) => return Err(error.into()),
            };
            if let Some(wait) = wait {
                tokio::time::sleep(wait).await;
                let before = offset;
                offset = self.offset_of(&guid, &id, options, &mut failures).await?;
                if offset > before {
                    failures = 0;
                }
            }
        }
    }

    /// The upload's offset, as `HEAD` answers it, asked again while it cannot be reached.
    async fn offset_of(
        &self,
        guid: &str,
        id: &str,
        options: &ResumeOptions,
        failures: &mut u32,
    ) -> Result<u64, ClientError> {
        loop {
            match self.resumable_upload_head(guid, id, TUS).await {
                Ok(answer) => {
                    return header_number(&answer, "upload-offset")
                        .ok_or(ClientError::NoUploadOffset);
                }
                Err(error) if worth_retrying(&error) && *failures + 1 < options.attempts => {
                    *failures += 1;
                    tokio::time::sleep(backoff(options, *failures).max(retry_after(&error))).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// The body of a `PATCH` from `offset`: the file's bytes from there, hashed and reported
    /// as they go out.
    async fn chunk(
        &self,
        path: &Path,
        offset: u64,
        length: u64,
        options: &ResumeOptions,
        hashed: &Arc<Mutex<Hashed>>,
        progress: &Option<Arc<dyn Fn(u64, u64) + Send + Sync>>,
    ) -> Result<reqwest::Body, ClientError> {
        let io_error = |error| ClientError::Io { path: path.to_owned(), error };
        let mut file = tokio::fs::File::open(path).await.map_err(io_error)?;
        file.seek(std::io::SeekFrom::Start(offset)).await.map_err(io_error)?;
        let size = options.chunk_bytes.map_or(length - offset, |most| most.min(length - offset));
        let (hashed, progress) = (hashed.clone(), progress.clone());
        let mut position = offset;
        let stream = tokio_util::io::ReaderStream::with_capacity(file.take(size), 256 * 1024);
        let stream = stream.inspect_ok(move |chunk: &Bytes| {
            let mut hashed = lock(&hashed);
            let end = position + chunk.len() as u64;
            if end > hashed.upto {
                let new = &chunk[(hashed.upto.saturating_sub(position)) as usize..];
                hashed.hasher.update(new);
                hashed.upto = end;
            }
            position = end;
            if let Some(progress) = &progress {
                progress(position, length);
            }
        });
        Ok(reqwest::Body::wrap(Sized { stream, len: size }))
    }
}

/// A body of `len` bytes from `stream`, sent with its `Content-Length` rather than chunked: as
/// tus clients send an append, so that proxies that want a length pass it and an S3 store can
/// cut the append into parts of one size.
struct Sized<S> {
    stream: S,
    len: u64,
}

impl<S> http_body::Body for Sized<S>
where
    S: futures::Stream<Item = std::io::Result<Bytes>> + Unpin,
{
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        use futures::StreamExt;
        self.stream
            .poll_next_unpin(context)
            .map(|item| item.map(|chunk| chunk.map(http_body::Frame::data)))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len)
    }
}

/// A failure that waiting and resuming may mend: the server could not be reached or the
/// connection broke, it was busy or restarting (5xx, 503, 423), or the offset moved (409).
fn worth_retrying(error: &Error<types::CfErrorEnvelope>) -> bool {
    match error {
        Error::CommunicationError(_) | Error::ResponseBodyError(_) => true,
        Error::ErrorResponse(response) => retried_status(response.status().as_u16()),
        Error::UnexpectedResponse(response) => retried_status(response.status().as_u16()),
        _ => false,
    }
}

fn retried_status(status: u16) -> bool {
    matches!(status, 409 | 423 | 429) || status >= 500
}

/// The wait before the `failures`-th attempt again.
fn backoff(options: &ResumeOptions, failures: u32) -> Duration {
    let doubled = options.first_backoff.saturating_mul(1 << failures.saturating_sub(1).min(16));
    doubled.min(options.max_backoff)
}

/// What the server's `Retry-After` asks for, if it answered one.
fn retry_after(error: &Error<types::CfErrorEnvelope>) -> Duration {
    let Error::ErrorResponse(response) = error else { return Duration::ZERO };
    let seconds = header_number(response, "retry-after").unwrap_or(0);
    Duration::from_secs(seconds.min(60))
}

fn header_number<T>(response: &ResponseValue<T>, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The last path segment of a URL a header names: an upload's id, a job's guid.
fn last_segment<T>(response: &ResponseValue<T>, name: &str) -> Option<String> {
    let url = response.headers().get(name)?.to_str().ok()?;
    Some(url.trim_end_matches('/').rsplit('/').next()?.to_owned())
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn lock(hashed: &Mutex<Hashed>) -> std::sync::MutexGuard<'_, Hashed> {
    hashed.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
