//! `POST /v3/droplets` (without `source_guid`, which is a `copy`): a new droplet,
//! `AWAITING_UPLOAD`, checked as the reference's `DropletCreateMessage` does.

use droplet_api::{CfError, DropletCreate, DropletState};
use uuid::Uuid;

use super::labels;
use crate::auth::{Access, Caller};
use crate::context::ServerContext;
use crate::store::records::DropletRecord;
use crate::time::now_secs;

/// Creates the droplet; returns it.
pub async fn create(
    ctx: &ServerContext,
    caller: &Caller,
    body: DropletCreate,
) -> Result<DropletRecord, CfError> {
    caller.require(Access::Write)?;
    let (labels, annotations) = labels::create_metadata(&body)?;
    let now = now_secs();
    let record = DropletRecord {
        guid: Uuid::new_v4(),
        app_guid: body.relationships.app.data.guid,
        state: DropletState::AwaitingUpload,
        error: None,
        checksum_sha256: None,
        blob_size: None,
        process_types: body
            .process_types
            .unwrap_or_else(|| [("web".to_owned(), String::new())].into()),
        labels,
        annotations,
        created_at: now,
        updated_at: now,
    };
    ctx.store.insert_droplet(&record).await?;
    Ok(record)
}
