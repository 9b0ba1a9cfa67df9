//! Where a resumable write's tails are kept (the bytes past its last part, fewer than S3's part
//! minimum): objects outside the droplets' prefix, one folder per write, named by a hash of the
//! write's name (its multipart upload's id, which may hold any character).
//!
//! A write's tails go when it is finished or discarded. Should removing them fail, the folder
//! outlives its multipart upload: `pending_writes` then lists it as a write of its own
//! (`PendingKind::ResumableTails`), so that the check reports it and the stale-write sweep
//! removes it, asking the bucket once more first that no upload in progress owns it.

use std::collections::{BTreeMap, HashSet};
use std::time::SystemTime;

use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};

use super::S3Blobstore;
use super::errors::blob_error;
use crate::blobstore::{BlobError, DROPLETS_PREFIX, PendingKind, PendingWrite};

const TAILS_PREFIX: &str = "resumable-tails/";

/// The folder of write `name`'s tails.
pub(super) fn tails_folder(name: &str) -> String {
    format!("{TAILS_PREFIX}{}/", hex::encode(Sha256::digest(name.as_bytes())))
}

/// A new name for a tail of write `name` that starts at `offset`.
pub(super) fn new_tail_key(name: &str, offset: u64) -> String {
    format!("{}{offset:020}-{}", tails_folder(name), uuid::Uuid::new_v4())
}

impl S3Blobstore {
    /// Whether `pending` names a folder of tails (as `pending_writes` lists them), not an
    /// upload.
    pub(super) fn names_tails(&self, pending: &str) -> bool {
        pending.starts_with(TAILS_PREFIX)
    }

    /// Removes every tail of write `name`.
    pub(super) async fn remove_tails(&self, name: &str) -> Result<(), BlobError> {
        self.remove_folder(&tails_folder(name)).await
    }

    /// The folders of tails whose write's multipart upload is not among `uploads` (the
    /// bucket's uploads in progress), each as a pending write started when its newest tail was
    /// written.
    pub(super) async fn orphan_tails(
        &self,
        uploads: &[PendingWrite],
    ) -> Result<Vec<PendingWrite>, BlobError> {
        let owned: HashSet<String> = uploads.iter().map(|u| tails_folder(&u.name)).collect();
        let mut folders: BTreeMap<String, SystemTime> = BTreeMap::new();
        let mut listing = self.store.list(Some(&Path::from(TAILS_PREFIX)));
        while let Some(object) = listing.next().await {
            let object = object.map_err(blob_error)?;
            let key = object.location.as_ref();
            let Some((folder, _)) = key[TAILS_PREFIX.len()..].split_once('/') else { continue };
            let folder = format!("{TAILS_PREFIX}{folder}/");
            let written = SystemTime::from(object.last_modified);
            let newest = folders.entry(folder).or_insert(written);
            *newest = (*newest).max(written);
        }
        let orphans = folders.into_iter().filter(|(folder, _)| !owned.contains(folder));
        let writes = orphans.map(|(name, started)| PendingWrite {
            kind: PendingKind::ResumableTails,
            key: None,
            name,
            started,
        });
        Ok(writes.collect())
    }

    /// Removes an orphan folder of tails, unless an upload in progress owns it after all (it
    /// is asked again now: an upload that started since the listing is not dropped).
    pub(super) async fn discard_orphan_tails(&self, folder: &str) -> Result<(), BlobError> {
        let uploads = self.uploads.list(&self.store, DROPLETS_PREFIX).await?;
        if uploads.iter().any(|upload| tails_folder(&upload.name) == folder) {
            return Ok(());
        }
        self.remove_folder(folder).await
    }

    async fn remove_folder(&self, folder: &str) -> Result<(), BlobError> {
        let listed: Vec<_> = self.store.list(Some(&Path::from(folder))).collect().await;
        for object in listed {
            let object = object.map_err(blob_error)?;
            match self.store.delete(&object.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(blob_error(error)),
            }
        }
        Ok(())
    }
}
