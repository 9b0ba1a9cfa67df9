//! Resumable uploads: a droplet's upload that arrives in many requests, from any replica, over
//! hours. Its row (migration 12) holds what any protocol needs, none of a protocol's own: the
//! length announced, the metadata sent with it, how far it got, when it expires, and the state
//! of its blob write, which the blobstore defines (kept here as text the store does not read).
//!
//! It holds its droplet the way a streaming upload does (`upload_claims`): the droplet's claim is
//! the upload's id, lapsing when the upload expires, and its pending blob is the write's name.
//! So one droplet has one upload at a time, of either kind; the stale-write sweep leaves the
//! write alone; and once the upload expires, recovery takes the claim over, discards the write
//! and releases the claim, which removes the row. A server's start-up sweep, which takes every
//! streaming upload's claim for dead on SQLite, leaves a resumable one to its expiry.
//!
//! One request appends at a time: it holds the upload for a lease (which also keeps the claim
//! from lapsing meanwhile), and what it appended is recorded only from the offset it started
//! at, by the request that holds it; recording moves the expiry on. Once every byte is there,
//! the upload's job starts (`upload_claims::start_upload_job`) and the row stays, naming the
//! job, for clients that ask how the upload ended, until it expires (`remove_ended_uploads`).

use sqlx::Row;
use uuid::Uuid;

use super::records::{JobRecord, uuid_column};
use super::{MetadataStore, StoreError};
use crate::time::now_ms;

/// One resumable upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumableUpload {
    /// Unguessable: whoever knows it and may write the droplet may append.
    pub id: Uuid,
    pub droplet: Uuid,
    /// The bytes the upload will hold once complete.
    pub length: u64,
    /// What the client sent along with the upload, as it sent it.
    pub metadata: Option<String>,
    /// The bytes received and durable.
    pub offset: u64,
    /// The blob write's name, what `Blobstore::discard` takes.
    pub write_name: String,
    /// The blob write's state, as the blobstore gave it.
    pub write: String,
    /// When it expires, in Unix milliseconds, unless appended to first.
    pub expires_ms: i64,
    /// Once complete: the job its bits went to.
    pub job: Option<Uuid>,
}

impl MetadataStore {
    /// Starts a resumable upload of a droplet that is awaiting its bits and held by no other
    /// upload. False if it is not.
    pub async fn create_resumable_upload(
        &self,
        upload: &ResumableUpload,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE droplets SET upload_claim = $1, upload_claim_expires_ms = $2, pending_blob = $3
             WHERE guid = $4 AND state = 'AWAITING_UPLOAD'
               AND (upload_claim IS NULL OR upload_claim_expires_ms < $5)",
        )
        .bind(upload.id.to_string())
        .bind(upload.expires_ms)
        .bind(upload.write_name.clone())
        .bind(upload.droplet.to_string())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            return Ok(false);
        }
        // A row left by an upload whose claim lapsed and was never settled is over.
        end_resumable_upload(&mut tx, upload.droplet).await?;
        sqlx::query(
            "INSERT INTO resumable_uploads (id, droplet_guid, length, metadata, upload_offset,
                write_name, blob_write, expires_ms, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(upload.id.to_string())
        .bind(upload.droplet.to_string())
        .bind(upload.length as i64)
        .bind(upload.metadata.clone())
        .bind(upload.offset as i64)
        .bind(upload.write_name.clone())
        .bind(upload.write.clone())
        .bind(upload.expires_ms)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The upload `id` of `droplet`, unless it expired (or is of another droplet).
    pub async fn resumable_upload(
        &self,
        droplet: Uuid,
        id: Uuid,
    ) -> Result<Option<ResumableUpload>, StoreError> {
        self.resumable_upload_at(droplet, id, now_ms()).await
    }

    /// The upload `id` of `droplet`, unless it expired before `unexpired_at_ms`.
    async fn resumable_upload_at(
        &self,
        droplet: Uuid,
        id: Uuid,
        unexpired_at_ms: i64,
    ) -> Result<Option<ResumableUpload>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM resumable_uploads
             WHERE id = $1 AND droplet_guid = $2 AND expires_ms >= $3",
        )
        .bind(id.to_string())
        .bind(droplet.to_string())
        .bind(unexpired_at_ms)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let read = || -> Result<ResumableUpload, sqlx::Error> {
            Ok(ResumableUpload {
                id: uuid_column(&row, "id")?,
                droplet: uuid_column(&row, "droplet_guid")?,
                length: row.try_get::<i64, _>("length")? as u64,
                metadata: row.try_get("metadata")?,
                offset: row.try_get::<i64, _>("upload_offset")? as u64,
                write_name: row.try_get("write_name")?,
                write: row.try_get("blob_write")?,
                expires_ms: row.try_get("expires_ms")?,
                job: row
                    .try_get::<Option<String>, _>("job_guid")?
                    .map(|job| Uuid::parse_str(&job).map_err(|e| sqlx::Error::Decode(e.into())))
                    .transpose()?,
            })
        };
        Ok(Some(read()?))
    }

    /// The completed upload whose bits went to `job`, expired or not: what recovery redoes the
    /// job from.
    pub async fn resumable_upload_of_job(
        &self,
        job: Uuid,
    ) -> Result<Option<ResumableUpload>, StoreError> {
        let row = sqlx::query("SELECT droplet_guid, id FROM resumable_uploads WHERE job_guid = $1")
            .bind(job.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (droplet, id) = (uuid_column(&row, "droplet_guid")?, uuid_column(&row, "id")?);
        self.resumable_upload_at(droplet, id, i64::MIN).await
    }

    /// Holds the upload for one request's append, for a lease, and keeps its droplet's claim
    /// from lapsing before the hold does. False if another request holds it, or it is gone,
    /// expired or complete.
    pub async fn hold_resumable_upload(&self, id: Uuid, holder: Uuid) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let held = sqlx::query(
            "UPDATE resumable_uploads SET holder = $1, held_until_ms = $2
             WHERE id = $3 AND (holder IS NULL OR held_until_ms < $4) AND expires_ms >= $4
               AND job_guid IS NULL",
        )
        .bind(holder.to_string())
        .bind(self.lease_expiry())
        .bind(id.to_string())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() != 1 {
            return Ok(false);
        }
        keep_claim_for_a_lease(&mut tx, id, self.lease_expiry()).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Renews the holder's hold, and its droplet's claim with it. False if the hold is lost.
    pub async fn renew_resumable_hold(&self, id: Uuid, holder: Uuid) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let renewed = sqlx::query(
            "UPDATE resumable_uploads SET held_until_ms = $1 WHERE id = $2 AND holder = $3",
        )
        .bind(self.lease_expiry())
        .bind(id.to_string())
        .bind(holder.to_string())
        .execute(&mut *tx)
        .await?;
        if renewed.rows_affected() != 1 {
            return Ok(false);
        }
        keep_claim_for_a_lease(&mut tx, id, self.lease_expiry()).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// At start-up on SQLite, where no other process appends: every hold is a dead process's.
    pub async fn release_every_resumable_hold(&self) -> Result<(), StoreError> {
        sqlx::query("UPDATE resumable_uploads SET holder = NULL, held_until_ms = NULL")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes the rows of completed uploads that expired: their job took their bits, and
    /// nobody needs to ask how they ended any more.
    pub async fn remove_ended_uploads(&self) -> Result<u64, StoreError> {
        let removed = sqlx::query(
            "DELETE FROM resumable_uploads WHERE job_guid IS NOT NULL AND expires_ms < $1",
        )
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(removed.rows_affected())
    }

    /// Records what the holder's append made durable, and lets go of the upload: the write's
    /// new state, the offset now reached, and the expiry that moves on with it (the droplet's
    /// claim lapses then too). False, and nothing recorded, if the holder lost its hold or the
    /// upload is no longer at `from_offset`.
    pub async fn record_append(
        &self,
        id: Uuid,
        holder: Uuid,
        append: &RecordedAppend<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let recorded = sqlx::query(
            "UPDATE resumable_uploads SET upload_offset = $1, blob_write = $2, expires_ms = $3,
                holder = NULL, held_until_ms = NULL
             WHERE id = $4 AND holder = $5 AND upload_offset = $6",
        )
        .bind(append.offset as i64)
        .bind(append.write.to_owned())
        .bind(append.expires_ms)
        .bind(id.to_string())
        .bind(holder.to_string())
        .bind(append.from_offset as i64)
        .execute(&mut *tx)
        .await?;
        if recorded.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("UPDATE droplets SET upload_claim_expires_ms = $1 WHERE upload_claim = $2")
            .bind(append.expires_ms)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records the append that brought the upload's last byte, and starts its job, in one
    /// transaction: an upload is never complete without its job. False, and nothing recorded,
    /// as `record_append`, or if the droplet was deleted meanwhile.
    pub async fn record_last_append(
        &self,
        upload: &ResumableUpload,
        holder: Uuid,
        append: &RecordedAppend<'_>,
        job: &JobRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let recorded = sqlx::query(
            "UPDATE resumable_uploads SET upload_offset = $1, blob_write = $2, expires_ms = $3
             WHERE id = $4 AND holder = $5 AND upload_offset = $6",
        )
        .bind(append.offset as i64)
        .bind(append.write.to_owned())
        .bind(append.expires_ms)
        .bind(upload.id.to_string())
        .bind(holder.to_string())
        .bind(append.from_offset as i64)
        .execute(&mut *tx)
        .await?;
        if recorded.rows_affected() != 1
            || !self.start_upload_job_in(&mut tx, upload.droplet, upload.id, job).await?
        {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Lets go of the upload without recording anything (the append was refused).
    pub async fn let_go_of_resumable_upload(
        &self,
        id: Uuid,
        holder: Uuid,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE resumable_uploads SET holder = NULL, held_until_ms = NULL
             WHERE id = $1 AND holder = $2",
        )
        .bind(id.to_string())
        .bind(holder.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// What an append made durable, to record.
pub struct RecordedAppend<'a> {
    /// The offset the append started at, where the upload must still be.
    pub from_offset: u64,
    pub offset: u64,
    /// The blob write's state after it.
    pub write: &'a str,
    pub expires_ms: i64,
}

/// Makes the claim upload `id` holds on its droplet last at least until `until_ms`.
async fn keep_claim_for_a_lease(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: Uuid,
    until_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE droplets SET upload_claim_expires_ms = $1
         WHERE upload_claim = $2 AND upload_claim_expires_ms < $1",
    )
    .bind(until_ms)
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks the upload `id` complete, its bits gone to `job`; nothing if `id` is no upload's
/// (a multipart upload's claim).
pub(super) async fn complete_resumable_upload(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: Uuid,
    job: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE resumable_uploads SET job_guid = $1, holder = NULL, held_until_ms = NULL
         WHERE id = $2",
    )
    .bind(job.to_string())
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes the row of the droplet's resumable upload, if it has one: its claim is released,
/// or its bits became a job, or the droplet is deleted.
pub(super) async fn end_resumable_upload(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    droplet: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM resumable_uploads WHERE droplet_guid = $1")
        .bind(droplet.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
