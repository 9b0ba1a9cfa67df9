//! Droplet rows, and their labels kept as rows of `droplet_labels` for label selectors.

use std::collections::BTreeMap;

use droplet_api::{DropletState, JobState};
use sqlx::Row;
use uuid::Uuid;

use super::jobs::insert_job;
use super::records::{
    DropletRecord, JobRecord, StoredBits, droplet_from_row, droplet_state_column, to_json,
};
use super::resumable_uploads::end_resumable_upload;
use super::{MetadataStore, StoreError};

type Transaction<'c> = sqlx::Transaction<'c, sqlx::Any>;
type StringMap = BTreeMap<String, String>;

/// What became of a job's record of the bits it stored (an upload's or a copy's).
pub enum BitsRecorded {
    /// The droplet has its bits; the job is `COMPLETE`.
    Recorded,
    /// The droplet was deleted while the job ran (its delete job found no blob yet to remove):
    /// the job is `COMPLETE`, and the stored blob is the caller's to remove.
    DropletGone,
    /// Another replica took the job over (this process looked dead) and settles it; nothing
    /// was recorded. What becomes of the stored blob is up to the kind of job.
    JobLost,
}

impl MetadataStore {
    pub async fn insert_droplet(&self, droplet: &DropletRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_droplet_row(&mut tx, droplet).await?;
        sync_labels(&mut tx, droplet.guid, &droplet.labels).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn droplet(&self, guid: Uuid) -> Result<Option<DropletRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM droplets WHERE guid = $1")
            .bind(guid.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| droplet_from_row(&row)).transpose()?)
    }

    /// Changes a droplet's labels and annotations by `change`, applied to the stored ones, as
    /// one atomic step: the write is conditional on the stored values being those `change` saw,
    /// and a change made meanwhile by another request makes it read and apply again, so that
    /// concurrent changes of distinct keys all survive. None if there is no such droplet (or it
    /// was deleted meanwhile).
    pub async fn update_metadata(
        &self,
        guid: Uuid,
        change: impl Fn(&StringMap, &StringMap) -> (StringMap, StringMap),
        now: i64,
    ) -> Result<Option<DropletRecord>, StoreError> {
        // Ends: a write that finds the values changed means another one succeeded (or the
        // droplet went), so every round makes progress.
        loop {
            let row = sqlx::query("SELECT * FROM droplets WHERE guid = $1")
                .bind(guid.to_string())
                .fetch_optional(&self.pool)
                .await?;
            let Some(row) = row else { return Ok(None) };
            let current = droplet_from_row(&row)?;
            let (seen_labels, seen_annotations): (String, String) =
                (row.try_get("labels")?, row.try_get("annotations")?);
            let (labels, annotations) = change(&current.labels, &current.annotations);
            let mut tx = self.pool.begin().await?;
            let updated = sqlx::query(concat!(
                "UPDATE droplets SET labels = $1, annotations = $2, ",
                touched!("$3"),
                " WHERE guid = $4 AND labels = $5 AND annotations = $6"
            ))
            .bind(to_json(&labels))
            .bind(to_json(&annotations))
            .bind(now)
            .bind(guid.to_string())
            .bind(seen_labels)
            .bind(seen_annotations)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 1 {
                sync_labels(&mut tx, guid, &labels).await?;
                tx.commit().await?;
                return self.droplet(guid).await;
            }
        }
    }

    /// Deletes the droplet and records the `droplet.delete` job that removes its blob, in one
    /// transaction, so that a crash cannot lose the blob's removal. False if there was no
    /// droplet (or a concurrent delete won).
    pub async fn delete_droplet(&self, droplet: Uuid, job: &JobRecord) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM droplets WHERE guid = $1")
            .bind(droplet.to_string())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM droplet_labels WHERE droplet_guid = $1")
            .bind(droplet.to_string())
            .execute(&mut *tx)
            .await?;
        // Its write, recorded by nothing now, is the stale-write sweep's to discard.
        end_resumable_upload(&mut tx, droplet).await?;
        insert_job(&mut tx, job, self.instance, self.lease_expiry()).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Creates a `COPYING` droplet and records the internal job that copies its bits, in one
    /// transaction.
    pub async fn insert_copy(
        &self,
        droplet: &DropletRecord,
        job: &JobRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_droplet_row(&mut tx, droplet).await?;
        insert_job(&mut tx, job, self.instance, self.lease_expiry()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The stored bits of a droplet that has them (`STAGED`), with its state.
    pub async fn staged_bits(
        &self,
        droplet: Uuid,
    ) -> Result<Option<(DropletState, StoredBits)>, StoreError> {
        let row = sqlx::query(
            "SELECT state, checksum_sha256, blob_size FROM droplets
             WHERE guid = $1 AND state = 'STAGED'",
        )
        .bind(droplet.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let state = droplet_state_column(&row)?;
        let sha256: Option<String> = row.try_get("checksum_sha256")?;
        let size: Option<i64> = row.try_get("blob_size")?;
        Ok(match (sha256, size) {
            (Some(sha256), Some(size)) => Some((state, StoredBits { sha256, size: size as u64 })),
            _ => None,
        })
    }

    /// The copy job succeeded: the droplet takes the source's state and bits, the job is
    /// `COMPLETE`.
    pub async fn complete_copy(
        &self,
        droplet: Uuid,
        job: Uuid,
        state: DropletState,
        bits: &StoredBits,
        now: i64,
    ) -> Result<BitsRecorded, StoreError> {
        self.complete_with_bits(job, droplet, DropletState::Copying, state, bits, now).await
    }

    /// Completes `job` and gives its droplet, if still `from`, its bits and the state `to`, in
    /// one transaction.
    pub(super) async fn complete_with_bits(
        &self,
        job: Uuid,
        droplet: Uuid,
        from: DropletState,
        to: DropletState,
        bits: &StoredBits,
        now: i64,
    ) -> Result<BitsRecorded, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !self.settle_job(&mut tx, job, JobState::Complete, &[], now).await? {
            return Ok(BitsRecorded::JobLost);
        }
        let recorded = record_bits(&mut tx, droplet, from, to, bits, now).await?;
        tx.commit().await?;
        Ok(if recorded { BitsRecorded::Recorded } else { BitsRecorded::DropletGone })
    }
}

/// Gives a droplet that is still `from` its stored bits and the state `to`, in `tx`. False if
/// the droplet is gone (deleted meanwhile) or no longer `from`.
async fn record_bits(
    tx: &mut Transaction<'_>,
    droplet: Uuid,
    from: DropletState,
    to: DropletState,
    bits: &StoredBits,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(concat!(
        "UPDATE droplets SET state = $1, checksum_sha256 = $2,
                blob_size = $3, error = NULL, pending_blob = NULL, ",
        touched!("$4"),
        " WHERE guid = $5 AND state = $6"
    ))
    .bind(to.as_str())
    .bind(bits.sha256.clone())
    .bind(bits.size as i64)
    .bind(now)
    .bind(droplet.to_string())
    .bind(from.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(updated.rows_affected() == 1)
}

pub(super) async fn insert_droplet_row(
    tx: &mut Transaction<'_>,
    droplet: &DropletRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO droplets (guid, app_guid, state, error, checksum_sha256, blob_size,
            process_types, labels, annotations, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(droplet.guid.to_string())
    .bind(droplet.app_guid.to_string())
    .bind(droplet.state.as_str())
    .bind(droplet.error.clone())
    .bind(droplet.checksum_sha256.clone())
    .bind(droplet.blob_size.map(|s| s as i64))
    .bind(to_json(&droplet.process_types))
    .bind(to_json(&droplet.labels))
    .bind(to_json(&droplet.annotations))
    .bind(droplet.created_at)
    .bind(droplet.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Makes `droplet_labels` hold exactly `labels` for the droplet.
pub(super) async fn sync_labels(
    tx: &mut Transaction<'_>,
    droplet: Uuid,
    labels: &BTreeMap<String, String>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM droplet_labels WHERE droplet_guid = $1")
        .bind(droplet.to_string())
        .execute(&mut **tx)
        .await?;
    for (key, value) in labels {
        sqlx::query("INSERT INTO droplet_labels (droplet_guid, key, value) VALUES ($1, $2, $3)")
            .bind(droplet.to_string())
            .bind(key.clone())
            .bind(value.clone())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
