//! `PATCH /v3/droplets/{guid}`: labels and annotations changed by the reference's rules.

use droplet_api::{CfError, DropletUpdate};

use super::labels;
use crate::auth::{Access, Caller};
use crate::context::ServerContext;
use crate::store::records::DropletRecord;
use crate::time::now_secs;

/// Applies the update; returns the droplet as it is now.
pub async fn update(
    ctx: &ServerContext,
    caller: &Caller,
    guid: &str,
    body: DropletUpdate,
) -> Result<DropletRecord, CfError> {
    caller.require(Access::Read)?;
    // The reference's order: 404, then 403, then 422.
    let droplet = super::by_path(&ctx.store, guid).await?;
    caller.require(Access::Write)?;
    let metadata = body.metadata.unwrap_or_default();
    labels::check(labels::metadata_errors(&metadata))?;
    let change = |stored_labels: &_, stored_annotations: &_| {
        let labels = labels::apply(stored_labels, metadata.labels.as_ref());
        (labels, labels::apply(stored_annotations, metadata.annotations.as_ref()))
    };
    ctx.store
        .update_metadata(droplet.guid, change, now_secs())
        .await?
        .ok_or_else(|| CfError::not_found("Droplet"))
}
