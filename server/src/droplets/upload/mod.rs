//! `POST /v3/droplets/{guid}/upload`: the multipart body is parsed as it arrives, and the bits are
//! fanned out, chunk by chunk, to their checks (`crate::inspection`: the SHA-256 digest, the
//! gzip/tar inspection) and the blobstore, each on a thread of its own. Nothing holds the
//! droplet in memory. `resumable` is the other way in: the bits in many requests.
//!
//! While the body streams in, the droplet stays `AWAITING_UPLOAD` under a lapsing upload claim
//! (`claim`), so that an upload that never completes leaves nothing behind. Once the body is
//! complete the droplet moves to `PROCESSING_UPLOAD` with a `droplet.upload` job, the client gets
//! its 202, and the job waits for the digests and the inspection, commits the blob and stages the
//! droplet.

mod claim;
mod form;
pub mod job;
pub mod resumable;

use std::sync::Arc;
use std::time::Duration;

use droplet_api::{CfError, DropletState, UploadForm, UploadResource};
use dropshot::ErrorStatusCode;

use crate::auth::{Access, Caller};
use crate::blobstore::{BlobWriter, droplet_key};
use crate::context::ServerContext;
use crate::inspection::Checks;
use crate::store::records::{DropletRecord, JobRecord, UPLOAD_OPERATION};
use crate::time::now_secs;
use claim::UploadClaim;
use form::UploadFormReader;

const ONLY_ONCE: &str = "Droplet may be uploaded only once. Create a new droplet to upload bits.";
const IN_PROGRESS: &str =
    "An upload of this droplet is in progress. Wait for its job, or create a new droplet.";

/// Seconds a client turned away for want of an upload slot is told to wait.
const RETRY_AFTER_SECS: u64 = 5;

/// One of the slots of the upload bodies that may stream at once (`max_concurrent_uploads`),
/// held while a body streams in; 503 when none is free (to be answered with `Retry-After`).
fn upload_slot(ctx: &ServerContext) -> Result<tokio::sync::SemaphorePermit<'_>, CfError> {
    ctx.upload_slots.try_acquire().map_err(|_| {
        CfError::service_unavailable(format!(
            "The server is receiving {} uploads at once, its limit (max_concurrent_uploads); \
             try again in a moment.",
            ctx.config.max_concurrent_uploads
        ))
    })
}

/// What became of an upload request.
pub enum Received {
    /// The bits arrived and their job started; the droplet is `PROCESSING_UPLOAD`.
    Started { droplet: Box<DropletRecord>, job: Box<JobRecord> },
    /// As many uploads as the server takes at once (`max_concurrent_uploads`) are streaming:
    /// the body was not read.
    Busy { error: CfError, retry_after_secs: u64 },
}

/// Receives an upload and starts its job, if an upload slot is free.
pub async fn receive(
    ctx: &Arc<ServerContext>,
    guid: &str,
    caller: &Caller,
    form: UploadForm,
) -> Result<Received, CfError> {
    // Held while the body streams in; the job that follows holds no slot.
    let _slot = match upload_slot(ctx) {
        Ok(slot) => slot,
        Err(error) => return Ok(Received::Busy { error, retry_after_secs: RETRY_AFTER_SECS }),
    };
    let idle_timeout = Duration::from_secs(ctx.config.upload_idle_timeout_secs);
    let max_bytes = ctx.config.max_upload_bytes;
    let received = ctx.metrics.upload_bytes_received.clone();
    let mut reader =
        UploadFormReader::open(form, max_bytes, idle_timeout, ctx.grace.over(), received)?;
    let result = receive_form(ctx, guid, caller, &mut reader).await;
    if let Err(error) = &result
        && error.status() != ErrorStatusCode::PAYLOAD_TOO_LARGE
    {
        // A client still sending would see the connection reset instead of this answer: read
        // and discard the rest first, as the reference's buffering proxy does. Past the upload
        // limit the stream ends by itself.
        reader.discard_rest().await;
    }
    result.map(|(droplet, job)| Received::Started { droplet: droplet.into(), job: job.into() })
}

async fn receive_form(
    ctx: &Arc<ServerContext>,
    guid: &str,
    caller: &Caller,
    reader: &mut UploadFormReader,
) -> Result<(DropletRecord, JobRecord), CfError> {
    // Checks in the reference's order: the form (422), the droplet (404), the caller (403), the
    // droplet's state (422).
    let (bits, early_resources) = reader.read_until_bits().await?;
    let target = async {
        let droplet = super::by_path(&ctx.store, guid).await?;
        caller.require(Access::Write)?;
        let Some(claim) = UploadClaim::take(ctx, droplet.guid).await? else {
            return Err(refused(ctx, &droplet).await);
        };
        Ok((droplet, claim))
    };
    let (droplet, claim) = match target.await {
        Ok(target) => target,
        Err(error) => {
            // The reference reads the whole form before it looks at the droplet: a bad field
            // after the bits is reported before a missing droplet or a missing scope.
            reader.read_after_bits(bits, early_resources.is_some()).await?;
            return Err(error);
        }
    };
    let blob = match ctx.blobs.create(&droplet_key(droplet.guid)).await {
        Ok(blob) => blob,
        Err(error) => {
            claim.release().await;
            return Err(error.into());
        }
    };
    let received = stream_bits(ctx, &droplet, &claim, blob, bits, early_resources, reader).await;
    let received = match received {
        Ok(received) => received,
        Err((error, blob)) => {
            // Released before answering, so that a client retrying at once finds the droplet
            // free, and before the partial blob goes (dropping the writer), so that whoever sees
            // it gone finds the droplet free too.
            claim.release().await;
            drop(blob);
            return Err(error);
        }
    };
    let job = JobRecord::new(UPLOAD_OPERATION, droplet.guid, now_secs());
    let record = ctx.store.start_upload_job(droplet.guid, claim.id(), &job);
    let work = job::finish(ctx.clone(), droplet.guid, job.guid, received);
    if ctx.jobs.start(job.guid, UPLOAD_OPERATION, record, work).await?.is_none() {
        return Err(only_once());
    }
    claim.consumed();
    let droplet =
        ctx.store.droplet(droplet.guid).await?.ok_or_else(|| CfError::not_found("Droplet"))?;
    Ok((droplet, job))
}

/// Streams the bits part to the checks and `blob`; then reads the rest of the
/// form. On failure the writer comes back with the error, for the caller to drop in its time.
async fn stream_bits(
    ctx: &Arc<ServerContext>,
    droplet: &DropletRecord,
    claim: &UploadClaim,
    mut blob: Box<dyn BlobWriter>,
    mut bits: form::BitsField,
    early_resources: Option<Vec<UploadResource>>,
    reader: &mut UploadFormReader,
) -> Result<job::ReceivedBits, (CfError, Box<dyn BlobWriter>)> {
    let mut checks = Checks::start(early_resources.clone().unwrap_or_default());
    let streamed = async {
        // Recorded with the claim, so that if this process dies, whichever replica finds the
        // claim lapsed discards the write (dropping the writer does so while this process lives).
        if !ctx.store.record_pending_blob(droplet.guid, claim.id(), &blob.pending()).await? {
            return Err(only_once());
        }
        while let Some(chunk) = bits.next_chunk(reader).await? {
            checks.feed(chunk.clone()).await;
            blob.write(chunk).await?;
        }
        reader.read_after_bits(bits, early_resources.is_some()).await
    };
    match streamed.await {
        Ok(late_resources) => Ok(job::ReceivedBits { checks, blob, late_resources }),
        Err(error) => Err((error, blob)),
    }
}

fn only_once() -> CfError {
    CfError::unprocessable(ONLY_ONCE)
}

/// Why the droplet could not be claimed: another upload streams into it, or it is past taking
/// bits.
async fn refused(ctx: &ServerContext, droplet: &DropletRecord) -> CfError {
    match ctx.store.droplet(droplet.guid).await {
        Ok(Some(now)) if now.state == DropletState::AwaitingUpload => {
            CfError::unprocessable(IN_PROGRESS)
        }
        Ok(_) => only_once(),
        Err(error) => error.into(),
    }
}
