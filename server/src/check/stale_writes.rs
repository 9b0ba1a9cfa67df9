//! Writes left pending in the store: started, neither committed nor discarded, and recorded by
//! no upload. A multipart upload whose `CreateMultipartUpload` answer was lost, or a temporary
//! file of a process that died before it recorded the name, is one; the store keeps it (and bills
//! its parts) until someone discards it. Both the check and every server's recovery sweep look
//! for them, the same way: a write younger than the grace period, one an upload recorded (still
//! streaming, or settled by recovery once its claim lapses), or a local copy's whose droplet is
//! there (the copy is in flight, or recovery redoes it), is never one.

use std::time::{Duration, SystemTime};

use crate::blobstore::{BlobError, Blobstore, DROPLETS_PREFIX, PendingKind, PendingWrite};
use crate::store::MetadataStore;

/// How long ago `then` was, by `now`; zero for a time in the future.
pub fn age(then: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

/// The stale writes into the droplets' prefix: older than `grace`, and recorded by no upload.
/// The store is listed before the metadata is read, so that a write started meanwhile, and not
/// yet recorded, is too young to count.
pub async fn find(
    store: &MetadataStore,
    blobs: &dyn Blobstore,
    grace: Duration,
) -> anyhow::Result<Vec<PendingWrite>> {
    let writes = blobs.pending_writes(DROPLETS_PREFIX).await?;
    let recorded = store.pending_blob_names().await?;
    let now = SystemTime::now();
    let mut stale = Vec::new();
    for write in writes {
        if !recorded.contains(&write.name)
            && age(write.started, now) >= grace
            && !copy_in_flight(store, &write).await?
        {
            stale.push(write);
        }
    }
    Ok(stale)
}

/// Whether `write` is a local copy's whose droplet is there.
async fn copy_in_flight(store: &MetadataStore, write: &PendingWrite) -> anyhow::Result<bool> {
    let target = write.key.as_deref().and_then(|key| key.strip_prefix(DROPLETS_PREFIX));
    match (write.kind, target) {
        (PendingKind::CopyTempFile, Some(droplet)) => Ok(store.owns_blob(droplet).await?),
        _ => Ok(false),
    }
}

/// Discards a stale write, once the metadata says again that no upload recorded it. False if
/// one did meanwhile (the write is left to its upload, or to recovery).
pub async fn discard(
    store: &MetadataStore,
    blobs: &dyn Blobstore,
    write: &PendingWrite,
) -> anyhow::Result<bool> {
    if store.is_pending_blob(&write.name).await? || copy_in_flight(store, write).await? {
        return Ok(false);
    }
    match blobs.discard(write.key.as_deref().unwrap_or(""), &write.name).await {
        Ok(()) | Err(BlobError::NotFound) => Ok(true),
        Err(error) => Err(error.into()),
    }
}
