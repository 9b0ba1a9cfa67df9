//! Job rows and their leases. A `PROCESSING` job names its owner (the server process running
//! it) and a lease the owner renews while it works; a job whose lease ran out lost its process,
//! and exactly one replica takes it over with a conditional UPDATE. Every change of a job's
//! state is conditional on owning it, so a job ends once, and a process that lost its job to a
//! take-over (it only looked dead) changes nothing when it finally records an outcome.

use droplet_api::{ErrorItem, JobState};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::records::{DamagedJob, JobRecord, job_from_row, to_json};
use super::{MetadataStore, StoreError};
use crate::time::now_ms;

impl MetadataStore {
    pub async fn job(&self, guid: Uuid) -> Result<Option<JobRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM jobs WHERE guid = $1")
            .bind(guid.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| job_from_row(&row)).transpose()?)
    }

    /// A job that changes no droplet (a delete) is done.
    pub async fn complete_job(&self, job: Uuid, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        self.settle_job(&mut tx, job, JobState::Complete, &[], now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A job failed: the job is `FAILED` with `error`, and its droplet, if still being processed,
    /// `FAILED` with `error.detail`. Nothing changes if this process no longer owns the job.
    pub async fn fail_job(
        &self,
        job: Uuid,
        droplet: Uuid,
        error: &ErrorItem,
        now: i64,
    ) -> Result<(), StoreError> {
        self.fail_job_on(job, Some(droplet), error, now).await
    }

    /// A job that could not record its own outcome (it panicked) fails as [`Self::fail_job`]
    /// fails it, with the droplet its row names. Answers that droplet.
    pub async fn fail_job_and_its_droplet(
        &self,
        job: Uuid,
        error: &ErrorItem,
        now: i64,
    ) -> Result<Option<Uuid>, StoreError> {
        let droplet = self.job(job).await?.and_then(|job| job.droplet_guid);
        self.fail_job_on(job, droplet, error, now).await?;
        Ok(droplet)
    }

    async fn fail_job_on(
        &self,
        job: Uuid,
        droplet: Option<Uuid>,
        error: &ErrorItem,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let errors = std::slice::from_ref(error);
        if !self.settle_job(&mut tx, job, JobState::Failed, errors, now).await? {
            return Ok(());
        }
        let Some(droplet) = droplet else { return Ok(tx.commit().await?) };
        sqlx::query(concat!(
            "UPDATE droplets SET state = 'FAILED', error = $1, pending_blob = NULL, ",
            touched!("$2"),
            " WHERE guid = $3 AND state IN ('PROCESSING_UPLOAD', 'COPYING')"
        ))
        .bind(error.detail.clone())
        .bind(now)
        .bind(droplet.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A job that names no droplet failed: only the job changes. Nothing changes if this
    /// process no longer owns the job.
    pub async fn fail_job_alone(
        &self,
        job: Uuid,
        error: &ErrorItem,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let errors = std::slice::from_ref(error);
        self.settle_job(&mut tx, job, JobState::Failed, errors, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends a `PROCESSING` job owned by this process, first thing in `tx` (which locks the row,
    /// so that a replica taking the job over waits for the outcome, or wins and makes this
    /// return false). False if the job is no longer this process's: the caller changes nothing.
    pub(super) async fn settle_job(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        job: Uuid,
        state: JobState,
        errors: &[ErrorItem],
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let result = sqlx::query(
            "UPDATE jobs SET state = $1, errors = $2, updated_at = $3, lease_expires_ms = NULL
             WHERE guid = $4 AND state = 'PROCESSING' AND owner = $5",
        )
        .bind(state.as_str())
        .bind(to_json(&errors))
        .bind(now)
        .bind(job.to_string())
        .bind(self.instance.to_string())
        .execute(&mut **tx)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Extends this process's lease on a job it is working on. False if the job ended or another
    /// replica took it over.
    pub async fn renew_job_lease(&self, job: Uuid) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE jobs SET lease_expires_ms = $1
             WHERE guid = $2 AND state = 'PROCESSING' AND owner = $3",
        )
        .bind(self.lease_expiry())
        .bind(job.to_string())
        .bind(self.instance.to_string())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Gives up this process's hold on a job it could not settle, so that the next sweep of any
    /// replica (this one included) takes it over again.
    pub async fn release_job(&self, job: Uuid) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET owner = NULL, lease_expires_ms = NULL
             WHERE guid = $1 AND state = 'PROCESSING' AND owner = $2",
        )
        .bind(job.to_string())
        .bind(self.instance.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The condition on `jobs` rows of a job abandoned by its process, with `$1` this instance
    /// and `$2` now: its lease ran out without renewal, or, on SQLite (one server process per
    /// database file), another instance owns it at all: that instance is a previous process. A
    /// process never takes over its own jobs: it knows it is alive.
    fn abandoned_condition(&self) -> &'static str {
        if self.single_process {
            // `$2` unused, but bound all the same.
            "(owner IS NULL OR owner <> $1) AND $2 = $2"
        } else {
            "(owner IS NULL OR owner <> $1)
             AND (lease_expires_ms IS NULL OR lease_expires_ms < $2)"
        }
    }

    /// The `PROCESSING` jobs whose process is gone, oldest first, for recovery to take over
    /// ([`Self::take_over_job`]) and settle one by one. A row that cannot be read back is
    /// answered as a [`DamagedJob`] in its place, so that it keeps no other job from recovery.
    pub async fn abandoned_jobs(&self) -> Result<Vec<Result<JobRecord, DamagedJob>>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM jobs WHERE state = 'PROCESSING' AND {}
             ORDER BY created_at, guid",
            self.abandoned_condition()
        ))
        .bind(self.instance.to_string())
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?;
        let decode = |row: &AnyRow| {
            job_from_row(row).map_err(|error| DamagedJob {
                guid: row.try_get("guid").unwrap_or_default(),
                error: error.into(),
            })
        };
        Ok(rows.iter().map(decode).collect())
    }

    /// Takes over an abandoned job: one conditional UPDATE that makes this process its owner
    /// under a fresh lease, so that exactly one replica wins it, and the dead owner's late writes
    /// (all conditional on ownership) change nothing. False if another replica won, or the job
    /// ended or came back to life meanwhile.
    pub async fn take_over_job(&self, job: Uuid) -> Result<bool, StoreError> {
        let taken = sqlx::query(&format!(
            "UPDATE jobs SET owner = $1, lease_expires_ms = $3
             WHERE guid = $4 AND state = 'PROCESSING' AND {}",
            self.abandoned_condition()
        ))
        .bind(self.instance.to_string())
        .bind(now_ms())
        .bind(self.lease_expiry())
        .bind(job.to_string())
        .execute(&self.pool)
        .await?;
        Ok(taken.rows_affected() == 1)
    }
}

/// Records a new job, owned by `owner` until `lease_expires_ms` unless renewed.
pub(super) async fn insert_job(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    job: &JobRecord,
    owner: Uuid,
    lease_expires_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO jobs (guid, operation, state, droplet_guid, source_guid, errors, created_at,
            updated_at, owner, lease_expires_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(job.guid.to_string())
    .bind(job.operation.clone())
    .bind(job.state.as_str())
    .bind(job.droplet_guid.map(|g| g.to_string()))
    .bind(job.source_guid.map(|g| g.to_string()))
    .bind(to_json(&job.errors))
    .bind(job.created_at)
    .bind(job.updated_at)
    .bind(owner.to_string())
    .bind(lease_expires_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
