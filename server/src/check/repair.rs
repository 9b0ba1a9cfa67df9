//! `--repair`: settles each finding, after asking again, under the same conditions a server
//! works under, whether it still holds, so that a check run while replicas serve never undoes
//! their work:
//!
//! | finding | repair |
//! |---|---|
//! | missing blob, size or checksum mismatch | the droplet becomes `FAILED` with an error that says so (one UPDATE, only if still `STAGED` with the checksum compared); its blob is kept |
//! | orphan blob | deleted, once no droplet row or running job owns it, and it is still older than the grace period |
//! | stale multipart upload or temporary file | discarded, once no upload recorded it |
//! | overdue job | none: a server's recovery settles it (`droplet-server serve`) |
//!
//! The blob of a `STAGED` droplet is never deleted. Every action is logged. Repairing twice
//! changes nothing the second time.

use std::time::{Duration, SystemTime};

use slog::Logger;

use super::findings::{Outcome, Problem};
use super::stale_writes::{self, age};
use super::survey::confirm_bits;
use crate::blobstore::{BlobError, Blobstore, PendingKind, PendingWrite};
use crate::store::MetadataStore;
use crate::store::consistency::StagedBits;
use crate::time::now_secs;

/// What the repair works with.
pub struct Repair<'a> {
    pub store: &'a MetadataStore,
    pub blobs: &'a dyn Blobstore,
    pub grace: Duration,
    pub log: &'a Logger,
}

impl Repair<'_> {
    /// Settles `problem`; an error is what kept it from being settled.
    pub async fn settle(&self, problem: &Problem) -> anyhow::Result<Outcome> {
        match problem {
            Problem::MissingBlob { droplet, .. } => {
                let error = "The droplet's bits are lost: its blob is missing from the \
                    blobstore. Upload the droplet again.";
                self.fail_if_still_lost(problem, *droplet, error).await
            }
            Problem::SizeMismatch { droplet, expected, actual, .. } => {
                let error = format!(
                    "The droplet's bits are corrupt: its blob holds {actual} bytes, not \
                     {expected}. Upload the droplet again."
                );
                self.fail_if_still_lost(problem, *droplet, &error).await
            }
            Problem::ChecksumMismatch { droplet, expected, actual, .. } => {
                let error = format!(
                    "The droplet's bits are corrupt: their SHA-256 is {actual}, not {expected}. \
                     Upload the droplet again."
                );
                self.fail(*droplet, expected, &error).await
            }
            Problem::OrphanBlob { key, .. } => self.delete_orphan(key).await,
            Problem::StaleMultipartUpload { key, upload_id, .. } => {
                let kind = PendingKind::MultipartUpload;
                self.discard(kind, Some(key.clone()), upload_id).await
            }
            Problem::StaleTempFile { name, copy_into, .. } => {
                let kind = match copy_into {
                    Some(_) => PendingKind::CopyTempFile,
                    None => PendingKind::TempFile,
                };
                self.discard(kind, copy_into.clone(), name).await
            }
            Problem::StaleResumableWrite { name, .. } => {
                let kind = match name.ends_with('/') {
                    true => PendingKind::ResumableTails,
                    false => PendingKind::ResumableFile,
                };
                self.discard(kind, None, name).await
            }
            Problem::OverdueJob { .. } => Ok(Outcome::Remains(
                "no server is settling it: start `droplet-server serve`, whose recovery does"
                    .to_owned(),
            )),
        }
    }

    /// A droplet whose blob the survey found missing or of the wrong size, failed if the blob
    /// still is (asked again now) and the droplet still `STAGED` with the same bits.
    async fn fail_if_still_lost(
        &self,
        problem: &Problem,
        droplet: uuid::Uuid,
        error: &str,
    ) -> anyhow::Result<Outcome> {
        let Some((_, bits)) = self.store.staged_bits(droplet).await? else {
            return Ok(Outcome::Resolved("the droplet is no longer STAGED".to_owned()));
        };
        let bits = StagedBits { droplet, sha256: bits.sha256, size: bits.size };
        let again = confirm_bits(self.store, self.blobs, &bits).await?;
        if again.as_ref().map(Problem::kind) != Some(problem.kind()) {
            return Ok(Outcome::Resolved("the blob is as recorded now".to_owned()));
        }
        self.fail(droplet, &bits.sha256, error).await
    }

    /// Fails the droplet, in one UPDATE conditional on its still being `STAGED` with the
    /// checksum the check compared against.
    async fn fail(
        &self,
        droplet: uuid::Uuid,
        sha256: &str,
        error: &str,
    ) -> anyhow::Result<Outcome> {
        if self.store.fail_staged(droplet, sha256, error, now_secs()).await? {
            slog::warn!(self.log, "a STAGED droplet whose bits are lost or corrupt is now FAILED";
                "droplet" => %droplet, "error" => error);
            return Ok(Outcome::Repaired("the droplet is FAILED".to_owned()));
        }
        Ok(Outcome::Resolved("the droplet changed meanwhile; left as it is".to_owned()))
    }

    /// Discards a stale write once no upload recorded it and no copy is in flight into it.
    async fn discard(
        &self,
        kind: PendingKind,
        key: Option<String>,
        name: &str,
    ) -> anyhow::Result<Outcome> {
        let write = PendingWrite { kind, key, name: name.to_owned(), started: SystemTime::now() };
        if !stale_writes::discard(self.store, self.blobs, &write).await? {
            return Ok(Outcome::Resolved("a write in flight owns it now; kept".to_owned()));
        }
        slog::info!(self.log, "discarded a stale write"; "name" => name,
            "key" => write.key.as_deref().unwrap_or("-"));
        Ok(Outcome::Repaired("discarded".to_owned()))
    }

    /// Deletes an orphan once no droplet row or running job owns it, and it was not written
    /// again meanwhile.
    async fn delete_orphan(&self, key: &str) -> anyhow::Result<Outcome> {
        let guid = key.strip_prefix(crate::blobstore::DROPLETS_PREFIX).unwrap_or(key);
        if self.store.owns_blob(guid).await? {
            return Ok(Outcome::Resolved("a droplet owns it now; kept".to_owned()));
        }
        match self.blobs.stat(key).await {
            Ok(blob) if age(blob.modified, SystemTime::now()) < self.grace => {
                return Ok(Outcome::Resolved("written again meanwhile; kept".to_owned()));
            }
            Ok(_) => {}
            Err(BlobError::NotFound) => return Ok(Outcome::Resolved("gone already".to_owned())),
            Err(error) => return Err(error.into()),
        }
        self.blobs.delete(key).await?;
        slog::info!(self.log, "deleted a blob no droplet owns"; "key" => key);
        Ok(Outcome::Repaired("deleted".to_owned()))
    }
}
