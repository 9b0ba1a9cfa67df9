//! The asynchronous work behind droplet operations, and the one place that knows what each kind
//! of job does after a crash.
//!
//! Every job is a row in the metadata store, written in the same transaction as the droplet change
//! that starts it, and left `PROCESSING` until the transaction that records its outcome. A job the
//! previous process left `PROCESSING` is therefore exactly a job whose outcome is not recorded;
//! [`recover`] settles each at start-up by its operation:
//!
//! | operation | what was lost | recovery |
//! |---|---|---|
//! | `droplet.upload` | the uploaded bits' digests and inspection | remove the blob, fail the job and the droplet |
//! | `droplet.copy` (internal) | nothing needed, but the copy may be half-published | remove the blob, fail the droplet (`failed to copy - ...`) |
//! | `droplet.delete` | nothing: the droplet is gone already | remove the blob (idempotent), complete the job |
//!
//! The blob goes first and the job's row last, so a crash during recovery only repeats it.
//! Job state changes stay single conditional statements (`WHERE state = 'PROCESSING'`), so a job
//! ends once, whoever records it.

use std::time::Duration;

use droplet_api::{CfError, ErrorItem, JobState};
use slog::Logger;
use uuid::Uuid;

use crate::blobstore::{Blobstore, droplet_key};
use crate::metadata::{
    COPY_OPERATION, DELETE_OPERATION, JobRecord, MetadataStore, UPLOAD_OPERATION,
};
use crate::time::now_secs;

/// Attempts at removing a deleted droplet's blob before its job fails.
const DELETE_ATTEMPTS: u32 = 3;

const UPLOAD_INTERRUPTED: &str =
    "The upload was interrupted by a server restart; upload into a new droplet.";
const COPY_INTERRUPTED: &str = "failed to copy - interrupted by a server restart";

/// A new `PROCESSING` job of `operation` on `droplet`.
pub fn new_job(operation: &str, droplet: Uuid, now: i64) -> JobRecord {
    JobRecord {
        guid: Uuid::new_v4(),
        operation: operation.to_owned(),
        state: JobState::Processing,
        droplet_guid: Some(droplet),
        errors: vec![],
        created_at: now,
        updated_at: now,
    }
}

/// An `UnknownError` job error with this detail.
pub fn unknown_error(detail: impl Into<String>) -> ErrorItem {
    let mut item = CfError::unknown().item().clone();
    item.detail = detail.into();
    item
}

/// Removes the blob a job published for a droplet that was deleted while the job ran: the
/// droplet's delete job ran before the blob existed, so it is this job's to remove.
pub async fn remove_orphan(
    blobs: &dyn Blobstore,
    log: &Logger,
    droplet: Uuid,
) -> Result<(), CfError> {
    slog::info!(log, "droplet deleted while its job ran; removing its blob");
    blobs.delete(&droplet_key(droplet)).await.map_err(CfError::from)
}

/// The `droplet.delete` job, once the droplet's row is gone: removes the blob, then completes.
pub async fn finish_delete(
    store: &MetadataStore,
    blobs: &dyn Blobstore,
    log: &Logger,
    droplet: Uuid,
    job: Uuid,
) {
    let key = droplet_key(droplet);
    let mut attempt = 1;
    let removed = loop {
        match blobs.delete(&key).await {
            Ok(()) => break Ok(()),
            Err(error) if attempt < DELETE_ATTEMPTS => {
                slog::warn!(log, "removing a deleted droplet's blob failed; retrying";
                    "droplet" => %droplet, "error" => %error);
                tokio::time::sleep(Duration::from_millis(500) * attempt).await;
                attempt += 1;
            }
            Err(error) => break Err(error),
        }
    };
    let recorded = match removed {
        Ok(()) => store.complete_job(job, now_secs()).await,
        Err(error) => {
            slog::error!(log, "removing a deleted droplet's blob failed";
                "droplet" => %droplet, "error" => %error);
            let mut item = CfError::blobstore_error().item().clone();
            item.detail = format!("{} ({error})", item.detail);
            store.fail_job(job, droplet, &item, now_secs()).await
        }
    };
    if let Err(error) = recorded {
        slog::error!(log, "recording the delete job's outcome failed";
            "job" => %job, "error" => %error);
    }
}

/// After a restart of the only server on the database: settles every job the previous process
/// left unfinished (see the module documentation).
pub async fn recover(
    store: &MetadataStore,
    blobs: &dyn Blobstore,
    log: &Logger,
) -> anyhow::Result<()> {
    let unfinished = store
        .recover_after_restart()
        .await
        .map_err(|e| anyhow::anyhow!("recovering after a restart: {e}"))?;
    for job in &unfinished {
        // Every job names its droplet; a row without one has nothing to clean up.
        let droplet = job.droplet_guid.unwrap_or_default();
        slog::warn!(log, "settling a job interrupted by a restart";
            "job" => %job.guid, "operation" => &job.operation, "droplet" => %droplet);
        let failure = match job.operation.as_str() {
            DELETE_OPERATION => {
                finish_delete(store, blobs, log, droplet, job.guid).await;
                continue;
            }
            UPLOAD_OPERATION => UPLOAD_INTERRUPTED,
            COPY_OPERATION => COPY_INTERRUPTED,
            _ => "The job was interrupted by a server restart.",
        };
        // The blob may have been published just before the process died: the droplet is about
        // to be FAILED, so its bits must not linger.
        if job.droplet_guid.is_some() {
            blobs.delete(&droplet_key(droplet)).await?;
        }
        store
            .fail_job(job.guid, droplet, &unknown_error(failure), now_secs())
            .await
            .map_err(|e| anyhow::anyhow!("recovering after a restart: {e}"))?;
    }
    Ok(())
}
