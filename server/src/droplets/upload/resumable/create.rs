//! Starting a resumable upload: its write in the blobstore, then its row, which holds the
//! droplet against any other upload.

use std::sync::Arc;

use droplet_api::CfError;
use uuid::Uuid;

use super::lookup::discard;
use crate::auth::{Access, Caller};
use crate::blobstore::droplet_key;
use crate::context::ServerContext;
use crate::store::resumable_uploads::ResumableUpload;
use crate::time::now_ms;

/// Starts a resumable upload of `length` bytes into droplet `guid`, carrying `metadata`.
pub async fn create(
    ctx: &Arc<ServerContext>,
    guid: &str,
    caller: &Caller,
    length: u64,
    metadata: Option<String>,
) -> Result<ResumableUpload, CfError> {
    // The length is known before anything is looked up, as a multipart upload's is.
    if length > ctx.config.max_upload_bytes {
        return Err(CfError::upload_too_large(ctx.config.max_upload_bytes));
    }
    let droplet = crate::droplets::by_path(&ctx.store, guid).await?;
    caller.require(Access::Write)?;
    if length == 0 {
        return Err(CfError::unprocessable(
            "Uploaded droplet file is invalid: a droplet cannot be empty (Upload-Length is 0)",
        ));
    }
    if droplet.state != droplet_api::DropletState::AwaitingUpload {
        return Err(super::super::only_once());
    }
    let key = droplet_key(droplet.guid);
    let write = ctx.blobs.start_resumable(&key).await?;
    let expires_ms = now_ms() + ctx.config.resumable_upload_expiry_secs as i64 * 1000;
    let upload = ResumableUpload {
        id: Uuid::new_v4(),
        droplet: droplet.guid,
        length,
        metadata,
        offset: 0,
        write_name: write.name.clone(),
        write: serde_json::to_string(&write).expect("a write's state serializes"),
        expires_ms,
        job: None,
    };
    let created = ctx.store.create_resumable_upload(&upload).await;
    if !matches!(created, Ok(true)) {
        // Nothing records the write: it goes now (or with the stale-write sweep).
        discard(ctx, &upload.droplet, &write).await;
        created?;
        return Err(super::super::refused(ctx, &droplet).await);
    }
    Ok(upload)
}
