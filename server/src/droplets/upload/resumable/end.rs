//! Ending an upload that is not complete (tus's termination): its droplet freed, its bytes
//! discarded.

use std::sync::Arc;

use super::hold::Hold;
use super::lookup::{Refused, complete, discard, find};
use crate::auth::Caller;
use crate::blobstore::resumable::ResumableWrite;
use crate::context::ServerContext;

/// Ends an upload that is not complete and frees its bytes: the droplet takes another upload.
pub async fn end(
    ctx: &Arc<ServerContext>,
    guid: &str,
    id: &str,
    caller: &Caller,
) -> Result<(), Refused> {
    let upload = find(ctx, guid, id, caller).await?;
    if upload.job.is_some() {
        return Err(complete().into());
    }
    // Held, so that no append runs (one of this process's is asked to stop first).
    let hold = Hold::take(ctx, &upload).await?;
    // The droplet is freed first, as a failed multipart upload frees it: whoever finds the
    // bytes gone finds the droplet free too. Should the process die in between, the write is
    // no upload's, and the stale-write sweep discards it.
    ctx.store.release_upload_claim(upload.droplet, upload.id).await?;
    hold.ended();
    ctx.parked_checks.drop_checks(upload.id);
    let write: ResumableWrite = serde_json::from_str(&upload.write).unwrap_or_default();
    let write = ResumableWrite { name: upload.write_name.clone(), ..write };
    discard(ctx, &upload.droplet, &write).await;
    Ok(())
}
