//! Upload claims: the hold an upload whose body is still streaming has on its droplet, and the
//! name of the blob write it started (`pending_blob`), from the moment the bits start streaming
//! until the upload job commits or drops it. A claim lapses unless renewed, so an upload whose
//! server died does not block its droplet forever, and whichever replica finds the claim lapsed
//! can discard what the write left.

use droplet_api::{DropletState, JobState};
use sqlx::Row;
use uuid::Uuid;

use super::droplets::record_bits;
use super::jobs::insert_job;
use super::records::{JobRecord, StoredBits, uuid_column};
use super::{MetadataStore, StoreError};
use crate::time::now_ms;

/// An upload claim whose process is gone.
pub struct LapsedClaim {
    pub droplet: Uuid,
    pub claim: String,
    /// The blob write the upload recorded, if it got that far.
    pub pending_blob: Option<String>,
}

impl MetadataStore {
    /// Reserves the droplet for one upload while its body streams in. The droplet stays
    /// `AWAITING_UPLOAD` to the outside; the claim lapses after the lease unless renewed. False
    /// if another upload holds it or the droplet is no longer awaiting bits.
    pub async fn claim_upload(&self, droplet: Uuid, claim: Uuid) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE droplets SET upload_claim = $1, upload_claim_expires_ms = $2
             WHERE guid = $3 AND state = 'AWAITING_UPLOAD'
               AND (upload_claim IS NULL OR upload_claim_expires_ms < $4)",
        )
        .bind(claim.to_string())
        .bind(self.lease_expiry())
        .bind(droplet.to_string())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Extends an upload claim by a lease. False if the claim is gone.
    pub async fn renew_upload_claim(&self, droplet: Uuid, claim: Uuid) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE droplets SET upload_claim_expires_ms = $1 WHERE guid = $2 AND upload_claim = $3",
        )
        .bind(self.lease_expiry())
        .bind(droplet.to_string())
        .bind(claim.to_string())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Ends an upload claim that did not become a job; its blob writer was dropped, which
    /// discarded the pending blob, so the record of it goes too.
    pub async fn release_upload_claim(&self, droplet: Uuid, claim: Uuid) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE droplets SET upload_claim = NULL, upload_claim_expires_ms = NULL,
                pending_blob = NULL
             WHERE guid = $1 AND upload_claim = $2",
        )
        .bind(droplet.to_string())
        .bind(claim.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the name of the blob write a claimed upload has started. False if the claim was
    /// lost meanwhile.
    pub async fn record_pending_blob(
        &self,
        droplet: Uuid,
        claim: Uuid,
        pending: &str,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE droplets SET pending_blob = $1 WHERE guid = $2 AND upload_claim = $3",
        )
        .bind(pending.to_owned())
        .bind(droplet.to_string())
        .bind(claim.to_string())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The name of the blob write recorded for a droplet's upload, if one is.
    pub async fn pending_blob(&self, droplet: Uuid) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT pending_blob FROM droplets WHERE guid = $1")
            .bind(droplet.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let pending = row.map(|row| row.try_get::<Option<String>, _>("pending_blob"));
        Ok(pending.transpose()?.flatten())
    }

    /// Upload claims whose process is gone: those whose lease ran out, or, with `all` (at
    /// start-up on SQLite, where no other process streams), every one.
    pub async fn lapsed_upload_claims(&self, all: bool) -> Result<Vec<LapsedClaim>, StoreError> {
        let rows = sqlx::query(
            "SELECT guid, upload_claim, pending_blob FROM droplets
             WHERE upload_claim IS NOT NULL AND ($1 OR upload_claim_expires_ms < $2)",
        )
        .bind(all)
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?;
        let lapsed = rows.iter().map(|row| {
            Ok(LapsedClaim {
                droplet: uuid_column(row, "guid")?,
                claim: row.try_get("upload_claim")?,
                pending_blob: row.try_get("pending_blob")?,
            })
        });
        Ok(lapsed.collect::<Result<_, sqlx::Error>>()?)
    }

    /// Takes a lapsed upload claim over under a new claim of this process's, in one conditional
    /// UPDATE, so that exactly one replica cleans up after it and no new upload starts meanwhile.
    /// False if another replica won, or the claim was renewed or ended.
    pub async fn take_over_upload_claim(
        &self,
        lapsed: &LapsedClaim,
        claim: Uuid,
        all: bool,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE droplets SET upload_claim = $1, upload_claim_expires_ms = $2
             WHERE guid = $3 AND upload_claim = $4 AND ($5 OR upload_claim_expires_ms < $6)",
        )
        .bind(claim.to_string())
        .bind(self.lease_expiry())
        .bind(lapsed.droplet.to_string())
        .bind(lapsed.claim.clone())
        .bind(all)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The body of a claimed upload has arrived: moves the droplet to `PROCESSING_UPLOAD` and
    /// records its job, atomically. False if the claim was lost meanwhile.
    pub async fn start_upload_job(
        &self,
        droplet: Uuid,
        claim: Uuid,
        job: &JobRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE droplets SET state = 'PROCESSING_UPLOAD', upload_claim = NULL,
                upload_claim_expires_ms = NULL, updated_at = $1
             WHERE guid = $2 AND upload_claim = $3 AND state = 'AWAITING_UPLOAD'",
        )
        .bind(job.created_at)
        .bind(droplet.to_string())
        .bind(claim.to_string())
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        insert_job(&mut tx, job, self.instance, self.lease_expiry()).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The upload job succeeded: the droplet is `STAGED` with its checksum, the job `COMPLETE`.
    /// False if the droplet was deleted meanwhile, or the job was taken over by another replica:
    /// its published blob is then the caller's to remove.
    pub async fn complete_upload(
        &self,
        droplet: Uuid,
        job: Uuid,
        bits: &StoredBits,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !self.settle_job(&mut tx, job, JobState::Complete, &[], now).await? {
            // Another replica took the job over (this one looked dead): it fails the droplet and
            // removes the blob; removing it here too is harmless.
            return Ok(false);
        }
        let (from, to) = (DropletState::ProcessingUpload, DropletState::Staged);
        let staged = record_bits(&mut tx, droplet, from, to, bits, now).await?;
        tx.commit().await?;
        Ok(staged)
    }
}
