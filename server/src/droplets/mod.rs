//! The droplet operations, each in its own file: `create`, `update` (labels and annotations, by
//! the rules in `labels`), `listing` (the list's query parameters), `copy`, `delete`, `download`
//! (with `range`, and `accel_redirect` for the downloads nginx sends), `upload` (the streaming
//! upload and its job), and `recovery` (what becomes of each kind of job, and of an upload, whose
//! server process died). `crate::http` authenticates a request and hands it here; these call the
//! metadata store, the blobstore, the token rules and the job runner, all through
//! `crate::context::ServerContext`.

pub mod accel_redirect;
pub mod copy;
pub mod create;
pub mod delete;
pub mod download;
mod labels;
pub mod listing;
mod range;
pub mod recovery;
pub mod update;
pub mod upload;

use droplet_api::CfError;
use slog::Logger;
use uuid::Uuid;

use crate::blobstore::{Blobstore, droplet_key};
use crate::store::MetadataStore;
use crate::store::records::DropletRecord;

/// The droplet named by a path guid; 404 if there is none (a malformed guid names none).
pub async fn by_path(store: &MetadataStore, guid: &str) -> Result<DropletRecord, CfError> {
    let not_found = || CfError::not_found("Droplet");
    let guid = Uuid::parse_str(guid).map_err(|_| not_found())?;
    store.droplet(guid).await?.ok_or_else(not_found)
}

/// Removes the blob a job published for a droplet that was deleted while the job ran: the
/// droplet's delete job ran before the blob existed, so it is this job's to remove.
async fn remove_orphan_blob(
    blobs: &dyn Blobstore,
    log: &Logger,
    droplet: Uuid,
) -> Result<(), CfError> {
    slog::info!(log, "droplet deleted while its job ran; removing its blob");
    Ok(blobs.delete(&droplet_key(droplet)).await?)
}
