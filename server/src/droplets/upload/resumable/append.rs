//! One request's bytes appended to a resumable upload. Under the upload's hold, the body is
//! pumped into the blobstore's append (and into the upload's checks, when this process has them
//! in step), which makes the bytes durable; then they are recorded, and only then reported.
//! What a body that broke off brought is kept; a body refused as a whole (past the length, or
//! not matching its checksum) is not recorded, and the next append writes over it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use droplet_api::CfError;
use futures::StreamExt;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::super::{RETRY_AFTER_SECS, upload_slot};
use super::hold::Hold;
use super::lookup::{Refused, find};
use crate::auth::Caller;
use crate::blobstore::resumable::ResumableWrite;
use crate::blobstore::{BlobStream, droplet_key};
use crate::context::ServerContext;
use crate::inspection::Checks;
use crate::store::records::{JobRecord, UPLOAD_OPERATION};
use crate::store::resumable_uploads::{RecordedAppend, ResumableUpload};
use crate::time::{now_ms, now_secs};

/// Chunks on their way from the body to the store.
const QUEUED_CHUNKS: usize = 2;

/// An append as the client sent it.
pub struct AppendRequest {
    /// Where the client says the bytes go.
    pub offset: u64,
    /// The SHA-256 the whole body must have, if the client sent one.
    pub sha256: Option<[u8; 32]>,
    pub content_length: Option<u64>,
    pub body: dropshot::Body,
}

/// Where the upload stands after an append.
pub enum Appended {
    /// The bytes up to `offset` are durable; the upload expires at `expires_ms` unless
    /// appended to again.
    Partial { offset: u64, expires_ms: i64 },
    /// Every byte is there, and `job` checks and stores them.
    Complete { offset: u64, job: Uuid },
}

pub async fn append(
    ctx: &Arc<ServerContext>,
    guid: &str,
    id: &str,
    caller: &Caller,
    request: AppendRequest,
) -> Result<Appended, Refused> {
    let upload = find(ctx, guid, id, caller).await?;
    if upload.job.is_some() {
        return again_at_the_end(&upload, request).await;
    }
    check_offset(&upload, request.offset)?;
    let room = upload.length - upload.offset;
    if request.content_length.is_some_and(|length| length > room) {
        return Err(past_the_length(&upload).into());
    }
    if request.content_length == Some(0) {
        return Ok(Appended::Partial { offset: upload.offset, expires_ms: upload.expires_ms });
    }
    let _slot = upload_slot(ctx)
        .map_err(|error| Refused { error, retry_after_secs: Some(RETRY_AFTER_SECS) })?;
    let hold = Hold::take(ctx, &upload).await?;
    // Read again under the hold: the request it took over from may have moved the offset.
    let Some(upload) = ctx.store.resumable_upload(upload.droplet, upload.id).await? else {
        hold.let_go().await;
        return Err(CfError::not_found("Upload").into());
    };
    if let Err(error) = check_offset(&upload, request.offset) {
        hold.let_go().await;
        return Err(error.into());
    }
    let result = append_held(ctx, &upload, &hold, request).await;
    // The append's buffers are gone: what they held goes back to the system, as after an
    // upload's job (an upload of many appends would otherwise creep up).
    crate::allocator::release_freed_memory_now_and_then();
    match result {
        Ok(appended) => {
            hold.ended();
            Ok(appended)
        }
        Err(refused) => {
            hold.let_go().await;
            Err(refused)
        }
    }
}

/// The append itself, under the hold, at the upload's offset.
async fn append_held(
    ctx: &Arc<ServerContext>,
    upload: &ResumableUpload,
    hold: &Hold<'_>,
    request: AppendRequest,
) -> Result<Appended, Refused> {
    let write: ResumableWrite = serde_json::from_str(&upload.write)
        .map_err(|e| CfError::unknown().with_cause(format!("an upload's write state: {e}")))?;
    let mut checks = ctx.parked_checks.take(upload.id, upload.offset);
    let (chunks, queued) = mpsc::channel(QUEUED_CHUNKS);
    let body = Body {
        room: upload.length - upload.offset,
        sha256: request.sha256.map(|_| Sha256::new()),
        asked: hold.asked().clone(),
    };
    let key = droplet_key(upload.droplet);
    let (pumped, appended) = tokio::join!(
        body.pump(ctx, request.body, checks.as_mut(), chunks),
        ctx.blobs.append(&key, &write, queued_stream(queued), request.content_length),
    );
    let appended = appended?;
    let offset = appended.write.offset;
    let refusal = match pumped.end {
        BodyEnd::PastLength => Some(past_the_length(upload)),
        _ if request.sha256.is_none() => None,
        BodyEnd::Broken(why) => Some(CfError::invalid_request(format!(
            "The body broke off ({why}), so its Upload-Checksum could not be checked; none of \
             it was kept."
        ))),
        BodyEnd::Whole if pumped.sha256 != request.sha256 => Some(CfError::checksum_mismatch(
            "The body's SHA-256 is not the one Upload-Checksum names; none of it was kept.",
        )),
        BodyEnd::Whole => None,
    };
    if let Some(error) = refusal {
        // What the checks read is not the upload's.
        drop(checks);
        return Err(error.into());
    }
    let record = RecordedAppend {
        from_offset: upload.offset,
        offset,
        write: &serde_json::to_string(&appended.write).expect("a write's state serializes"),
        expires_ms: now_ms() + ctx.config.resumable_upload_expiry_secs as i64 * 1000,
    };
    let checks = checks.filter(|checks| checks.fed() == offset);
    if offset == upload.length {
        return complete_with(ctx, upload, hold, &record, checks).await;
    }
    if !ctx.store.record_append(upload.id, hold.holder(), &record).await? {
        return Err(not_recorded(ctx, upload).await);
    }
    if let Some(checks) = checks {
        ctx.parked_checks.park(upload.id, checks);
    }
    Ok(Appended::Partial { offset, expires_ms: record.expires_ms })
}

/// Records the append that brought the last byte and starts the upload's job with it.
async fn complete_with(
    ctx: &Arc<ServerContext>,
    upload: &ResumableUpload,
    hold: &Hold<'_>,
    record: &RecordedAppend<'_>,
    checks: Option<Checks>,
) -> Result<Appended, Refused> {
    let job = JobRecord::new(UPLOAD_OPERATION, upload.droplet, now_secs());
    let recorded = ctx.store.record_last_append(upload, hold.holder(), record, &job);
    let complete = ResumableUpload {
        offset: record.offset,
        write: record.write.to_owned(),
        job: Some(job.guid),
        ..upload.clone()
    };
    let work = super::completion::finish(ctx.clone(), complete, job.guid, checks);
    match ctx.jobs.start(job.guid, UPLOAD_OPERATION, recorded, work).await? {
        Some(_) => Ok(Appended::Complete { offset: record.offset, job: job.guid }),
        None => Err(not_recorded(ctx, upload).await),
    }
}

/// A request to an upload whose bytes have all arrived: an empty one at the end is answered
/// as the last append was (its answer may have been lost); any other is refused.
async fn again_at_the_end(
    upload: &ResumableUpload,
    request: AppendRequest,
) -> Result<Appended, Refused> {
    check_offset(upload, request.offset)?;
    let job = upload.job.expect("a complete upload");
    let empty = match request.content_length {
        Some(length) => length == 0,
        None => first_bytes(request.body).await.is_none(),
    };
    match empty {
        true => Ok(Appended::Complete { offset: upload.offset, job }),
        false => Err(past_the_length(upload).into()),
    }
}

/// The first bytes of a body, if it has any.
async fn first_bytes(body: dropshot::Body) -> Option<Bytes> {
    let mut chunks = body.into_data_stream();
    while let Some(Ok(chunk)) = chunks.next().await {
        if !chunk.is_empty() {
            return Some(chunk);
        }
    }
    None
}

fn check_offset(upload: &ResumableUpload, offset: u64) -> Result<(), CfError> {
    if offset == upload.offset {
        return Ok(());
    }
    let stands = match upload.job {
        Some(_) => format!("is complete, at {}", upload.offset),
        None => format!("is at {}", upload.offset),
    };
    Err(CfError::offset_mismatch(format!(
        "Upload-Offset is {offset}, but the upload {stands}: ask HEAD, and send from there."
    )))
}

fn past_the_length(upload: &ResumableUpload) -> CfError {
    let stands = match upload.job {
        Some(_) => "it is complete".to_owned(),
        None => format!("it is at {}", upload.offset),
    };
    CfError::past_upload_length(format!(
        "The body would take the upload past its Upload-Length of {} bytes ({stands}); nothing \
         of it was kept.",
        upload.length
    ))
}

/// Why an append could not be recorded: the upload is gone (its droplet was deleted), or
/// another request took it over.
async fn not_recorded(ctx: &ServerContext, upload: &ResumableUpload) -> Refused {
    match ctx.store.resumable_upload(upload.droplet, upload.id).await {
        Ok(None) => CfError::not_found("Upload").into(),
        Ok(Some(_)) => CfError::upload_locked(
            "Another request took this upload over; ask HEAD for its offset.",
        )
        .into(),
        Err(error) => error.into(),
    }
}

/// How an append's body ended.
enum BodyEnd {
    Whole,
    /// More bytes than the upload has room for: the rest of the body was not read.
    PastLength,
    /// It stopped before its end: the client went away or stalled, a newer request asked for
    /// the upload, or the server is shutting down.
    Broken(String),
}

struct Pumped {
    end: BodyEnd,
    sha256: Option<[u8; 32]>,
}

/// An append's body on its way to the store.
struct Body {
    room: u64,
    sha256: Option<Sha256>,
    asked: CancellationToken,
}

impl Body {
    /// Reads `body` into `chunks` (and `checks`) until it ends, breaks off, stalls, or would
    /// pass the upload's length; ends `chunks` either way.
    async fn pump(
        mut self,
        ctx: &ServerContext,
        body: dropshot::Body,
        mut checks: Option<&mut Checks>,
        chunks: mpsc::Sender<Bytes>,
    ) -> Pumped {
        let idle = Duration::from_secs(ctx.config.upload_idle_timeout_secs);
        let mut body = body.into_data_stream();
        let grace_over = ctx.grace.over();
        tokio::pin!(grace_over);
        let mut received = 0u64;
        let end = loop {
            let next = tokio::select! {
                biased;
                _ = self.asked.cancelled() => {
                    break BodyEnd::Broken("a newer request took the upload over".to_owned())
                }
                _ = &mut grace_over => break BodyEnd::Broken("the server is stopping".to_owned()),
                next = tokio::time::timeout(idle, body.next()) => next,
            };
            let chunk = match next {
                Err(_) => break BodyEnd::Broken(format!("no data for {} s", idle.as_secs())),
                Ok(None) => break BodyEnd::Whole,
                Ok(Some(Err(error))) => break BodyEnd::Broken(error.to_string()),
                Ok(Some(Ok(chunk))) => chunk,
            };
            ctx.metrics.upload_bytes_received.inc_by(chunk.len() as u64);
            received += chunk.len() as u64;
            if received > self.room {
                break BodyEnd::PastLength;
            }
            if let Some(hasher) = &mut self.sha256 {
                hasher.update(&chunk);
            }
            if let Some(checks) = checks.as_deref_mut() {
                checks.feed(chunk.clone()).await;
            }
            if chunks.send(chunk).await.is_err() {
                // The store stopped taking bytes; its append says why.
                break BodyEnd::Broken("the blobstore failed".to_owned());
            }
        };
        Pumped { end, sha256: self.sha256.map(|hasher| hasher.finalize().into()) }
    }
}

/// The chunks pumped into `queued`, as the store's append reads them.
fn queued_stream(queued: mpsc::Receiver<Bytes>) -> BlobStream {
    Box::pin(futures::stream::unfold(queued, |mut queued| async move {
        queued.recv().await.map(|chunk| (Ok(chunk), queued))
    }))
}
