//! Upload claims: the hold an upload whose body is still streaming has on its droplet, and the
//! name of the blob write it started (`pending_blob`), from the moment the bits start streaming
//! until the upload job commits or drops it. A claim lapses unless renewed, so an upload whose
//! server died does not block its droplet forever, and whichever replica finds the claim lapsed
//! can discard what the write left.

use droplet_api::DropletState;
use sqlx::Row;
use uuid::Uuid;

use super::droplets::BitsRecorded;
use super::jobs::insert_job;
use super::records::{JobRecord, StoredBits, uuid_column};
use super::resumable_uploads::{complete_resumable_upload, end_resumable_upload};
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
    /// discarded the pending blob, so the record of it goes too, and a resumable upload's row.
    pub async fn release_upload_claim(&self, droplet: Uuid, claim: Uuid) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let released = sqlx::query(
            "UPDATE droplets SET upload_claim = NULL, upload_claim_expires_ms = NULL,
                pending_blob = NULL
             WHERE guid = $1 AND upload_claim = $2",
        )
        .bind(droplet.to_string())
        .bind(claim.to_string())
        .execute(&mut *tx)
        .await?;
        if released.rows_affected() == 1 {
            end_resumable_upload(&mut tx, droplet).await?;
        }
        tx.commit().await?;
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
    /// start-up on SQLite, where no other process streams), every streaming upload's (a
    /// resumable upload's lapses when it expires, whatever process was serving it).
    pub async fn lapsed_upload_claims(&self, all: bool) -> Result<Vec<LapsedClaim>, StoreError> {
        let rows = sqlx::query(
            "SELECT guid, upload_claim, pending_blob FROM droplets
             WHERE upload_claim IS NOT NULL AND (upload_claim_expires_ms < $2
                OR ($1 AND NOT EXISTS (
                    SELECT 1 FROM resumable_uploads r WHERE r.id = droplets.upload_claim)))",
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
             WHERE guid = $3 AND upload_claim = $4 AND (upload_claim_expires_ms < $6
                OR ($5 AND NOT EXISTS (
                    SELECT 1 FROM resumable_uploads r WHERE r.id = droplets.upload_claim)))",
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
        if !self.start_upload_job_in(&mut tx, droplet, claim, job).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// `start_upload_job`, in a transaction of the caller's.
    pub(super) async fn start_upload_job_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        droplet: Uuid,
        claim: Uuid,
        job: &JobRecord,
    ) -> Result<bool, StoreError> {
        let moved = sqlx::query(concat!(
            "UPDATE droplets SET state = 'PROCESSING_UPLOAD', upload_claim = NULL,
                    upload_claim_expires_ms = NULL, ",
            touched!("$1"),
            " WHERE guid = $2 AND upload_claim = $3 AND state = 'AWAITING_UPLOAD'"
        ))
        .bind(job.created_at)
        .bind(droplet.to_string())
        .bind(claim.to_string())
        .execute(&mut **tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        // A resumable upload's bits are complete: its row names their job from now on.
        complete_resumable_upload(tx, claim, job.guid).await?;
        insert_job(tx, job, self.instance, self.lease_expiry()).await?;
        Ok(true)
    }

    /// The upload job succeeded: the droplet is `STAGED` with its checksum, the job `COMPLETE`;
    /// or the droplet was deleted meanwhile, or the job was taken over by another replica.
    pub async fn complete_upload(
        &self,
        droplet: Uuid,
        job: Uuid,
        bits: &StoredBits,
        now: i64,
    ) -> Result<BitsRecorded, StoreError> {
        let (from, to) = (DropletState::ProcessingUpload, DropletState::Staged);
        self.complete_with_bits(job, droplet, from, to, bits, now).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use droplet_api::DropletState;
    use uuid::Uuid;

    use crate::store::MetadataStore;
    use crate::store::droplets::BitsRecorded;
    use crate::store::records::{
        DELETE_OPERATION, DropletRecord, JobRecord, StoredBits, UPLOAD_OPERATION,
    };

    async fn connect(url: &str) -> MetadataStore {
        let log = slog::Logger::root(slog::Discard, slog::o!());
        MetadataStore::connect(url, Duration::from_secs(30), &log).await.expect("a store")
    }

    /// A droplet whose upload job `store`'s process runs; answers the droplet and the job.
    async fn processing(store: &MetadataStore) -> (Uuid, Uuid) {
        let droplet = DropletRecord {
            guid: Uuid::new_v4(),
            app_guid: Uuid::new_v4(),
            state: DropletState::AwaitingUpload,
            error: None,
            checksum_sha256: None,
            blob_size: None,
            process_types: Default::default(),
            labels: Default::default(),
            annotations: Default::default(),
            created_at: 1,
            updated_at: 1,
        };
        store.insert_droplet(&droplet).await.unwrap();
        let claim = Uuid::new_v4();
        assert!(store.claim_upload(droplet.guid, claim).await.unwrap());
        let job = JobRecord::new(UPLOAD_OPERATION, droplet.guid, 2);
        assert!(store.start_upload_job(droplet.guid, claim, &job).await.unwrap());
        (droplet.guid, job.guid)
    }

    #[tokio::test]
    async fn completing_an_upload_tells_a_deleted_droplet_from_a_job_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("droplets.db").display());
        let this = connect(&url).await;
        let bits = StoredBits { sha256: "ab".repeat(32), size: 3 };

        let (droplet, job) = processing(&this).await;
        let recorded = this.complete_upload(droplet, job, &bits, 3).await.unwrap();
        assert!(matches!(recorded, BitsRecorded::Recorded));
        let staged = this.droplet(droplet).await.unwrap().unwrap();
        assert_eq!(staged.state, DropletState::Staged);

        let (droplet, job) = processing(&this).await;
        let delete = JobRecord::new(DELETE_OPERATION, droplet, 3);
        assert!(this.delete_droplet(droplet, &delete).await.unwrap());
        let recorded = this.complete_upload(droplet, job, &bits, 4).await.unwrap();
        assert!(matches!(recorded, BitsRecorded::DropletGone));

        // Another process on the same SQLite file takes over any job of this one at once.
        let (droplet, job) = processing(&this).await;
        let other = connect(&url).await;
        assert!(other.take_over_job(job).await.unwrap());
        let recorded = this.complete_upload(droplet, job, &bits, 4).await.unwrap();
        assert!(matches!(recorded, BitsRecorded::JobLost));
        let untouched = this.droplet(droplet).await.unwrap().unwrap();
        assert_eq!(untouched.state, DropletState::ProcessingUpload);
    }
}
