//! Finding an upload for a request, and what a request is refused with.

use droplet_api::CfError;
use uuid::Uuid;

use crate::auth::{Access, Caller};
use crate::blobstore::resumable::ResumableWrite;
use crate::blobstore::{BlobError, droplet_key};
use crate::context::ServerContext;
use crate::store::StoreError;
use crate::store::resumable_uploads::ResumableUpload;

/// A request refused, and, when waiting helps, how long to wait before asking again.
pub struct Refused {
    pub error: CfError,
    pub retry_after_secs: Option<u64>,
}

impl From<CfError> for Refused {
    fn from(error: CfError) -> Self {
        Refused { error, retry_after_secs: None }
    }
}

impl From<BlobError> for Refused {
    fn from(error: BlobError) -> Self {
        CfError::from(error).into()
    }
}

impl From<StoreError> for Refused {
    fn from(error: StoreError) -> Self {
        CfError::from(error).into()
    }
}

/// The upload `id` of droplet `guid`, for a caller who may write it: 404, then 403.
pub async fn find(
    ctx: &ServerContext,
    guid: &str,
    id: &str,
    caller: &Caller,
) -> Result<ResumableUpload, CfError> {
    let not_found = || CfError::not_found("Upload");
    let (droplet, id) = match (Uuid::parse_str(guid), Uuid::parse_str(id)) {
        (Ok(droplet), Ok(id)) => (droplet, id),
        _ => return Err(not_found()),
    };
    let upload = ctx.store.resumable_upload(droplet, id).await?.ok_or_else(not_found)?;
    caller.require(Access::Write)?;
    Ok(upload)
}

/// What a request on a complete upload is told.
pub(super) fn complete() -> CfError {
    CfError::unprocessable(
        "The upload is complete: its bits went to the droplet's upload job; delete the droplet \
         to discard them.",
    )
}

/// Discards a write no upload records any more; a store that fails leaves it to the
/// stale-write sweep.
pub(super) async fn discard(ctx: &ServerContext, droplet: &Uuid, write: &ResumableWrite) {
    if let Err(error) = ctx.blobs.discard(&droplet_key(*droplet), &write.name).await {
        slog::warn!(ctx.log, "discarding an upload's bytes failed; the stale-write sweep will";
            "droplet" => %droplet, "write" => &write.name, "error" => %error);
    }
}
