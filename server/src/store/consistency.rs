//! What the consistency check (`crate::check`) asks the metadata: which droplets claim bits and
//! which blobs and writes a row still owns, each also for one droplet or write (asked again right
//! before a repair acts), the jobs left `PROCESSING` long past their lease, and the one repair
//! made in the metadata: a `STAGED` droplet whose bits are lost becomes `FAILED`, in one
//! conditional UPDATE, so that it races with nothing a server does.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::Row;
use uuid::Uuid;

use super::records::uuid_column;
use super::{MetadataStore, StoreError};

/// What a `STAGED` droplet's row says of its bits.
#[derive(Clone, Debug)]
pub struct StagedBits {
    pub droplet: Uuid,
    pub sha256: String,
    pub size: u64,
}

/// A job still `PROCESSING` whose lease ran out long ago.
#[derive(Clone, Debug)]
pub struct OverdueJob {
    pub guid: String,
    pub operation: String,
    pub droplet: Option<String>,
    /// When its lease ran out (or, with no lease, when it was last changed), in Unix ms.
    pub lapsed_ms: i64,
}

impl MetadataStore {
    /// Connects to a database a server made, leaving it as it is: no schema is created or
    /// migrated. Fails, saying so, when there are no droplet tables there.
    pub async fn connect_existing(url: &str, lease: Duration) -> anyhow::Result<Self> {
        let store = Self::open(url, lease).await?;
        let probe = sqlx::query("SELECT guid FROM droplets LIMIT 1").fetch_optional(&store.pool);
        probe.await.map_err(|e| {
            anyhow::anyhow!("the metadata database has no droplets table (is it a server's?): {e}")
        })?;
        Ok(store)
    }

    /// Every `STAGED` droplet's checksum and size.
    pub async fn staged_droplets(&self) -> Result<Vec<StagedBits>, StoreError> {
        let rows = sqlx::query(
            "SELECT guid, checksum_sha256, blob_size FROM droplets WHERE state = 'STAGED'
             AND checksum_sha256 IS NOT NULL AND blob_size IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        let staged = rows.iter().map(|row| {
            Ok(StagedBits {
                droplet: uuid_column(row, "guid")?,
                sha256: row.try_get("checksum_sha256")?,
                size: row.try_get::<i64, _>("blob_size")? as u64,
            })
        });
        Ok(staged.collect::<Result<_, sqlx::Error>>()?)
    }

    /// The droplets that may own a blob: every droplet with a row, whatever its state, and every
    /// droplet a `PROCESSING` job names (a deleted droplet whose blob its job is removing).
    pub async fn blob_owners(&self) -> Result<HashSet<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT guid FROM droplets
             UNION SELECT droplet_guid AS guid FROM jobs
                WHERE state = 'PROCESSING' AND droplet_guid IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        let owners = rows.iter().map(|row| row.try_get::<String, _>("guid"));
        Ok(owners.collect::<Result<_, sqlx::Error>>()?)
    }

    /// Whether `droplet` (a guid as a blob key spells it) may own a blob, asked right before its
    /// blob is removed as an orphan.
    pub async fn owns_blob(&self, droplet: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS owned FROM droplets WHERE guid = $1
             UNION SELECT 1 AS owned FROM jobs
                WHERE state = 'PROCESSING' AND droplet_guid = $2",
        )
        .bind(droplet.to_owned())
        .bind(droplet.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// The names of the blob writes uploads recorded (`pending_blob`): each is an upload still
    /// streaming, or one whose process died, which recovery discards once its claim lapsed.
    pub async fn pending_blob_names(&self) -> Result<HashSet<String>, StoreError> {
        let rows = sqlx::query("SELECT pending_blob FROM droplets WHERE pending_blob IS NOT NULL")
            .fetch_all(&self.pool)
            .await?;
        let names = rows.iter().map(|row| row.try_get::<String, _>("pending_blob"));
        Ok(names.collect::<Result<_, sqlx::Error>>()?)
    }

    /// Whether an upload recorded the blob write `name`, asked right before it is discarded.
    pub async fn is_pending_blob(&self, name: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT guid FROM droplets WHERE pending_blob = $1")
            .bind(name.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// The `PROCESSING` jobs whose lease ran out before `lapsed_before_ms` (those with no lease,
    /// released for recovery or from before leases, by when they last changed), oldest first.
    pub async fn overdue_jobs(&self, lapsed_before_ms: i64) -> Result<Vec<OverdueJob>, StoreError> {
        let rows = sqlx::query(
            "SELECT guid, operation, droplet_guid, lease_expires_ms, updated_at FROM jobs
             WHERE state = 'PROCESSING' AND (lease_expires_ms < $1
                OR (lease_expires_ms IS NULL AND updated_at < $2))
             ORDER BY created_at, guid",
        )
        .bind(lapsed_before_ms)
        .bind(lapsed_before_ms / 1000)
        .fetch_all(&self.pool)
        .await?;
        let jobs = rows.iter().map(|row| {
            let lease: Option<i64> = row.try_get("lease_expires_ms")?;
            let updated: i64 = row.try_get("updated_at")?;
            Ok(OverdueJob {
                guid: row.try_get("guid")?,
                operation: row.try_get("operation")?,
                droplet: row.try_get("droplet_guid")?,
                lapsed_ms: lease.unwrap_or(updated * 1000),
            })
        });
        Ok(jobs.collect::<Result<_, sqlx::Error>>()?)
    }

    /// A `STAGED` droplet whose bits are lost or corrupt becomes `FAILED` with `error`, if it
    /// is still `STAGED` with the checksum the check compared against. False if it changed
    /// meanwhile (deleted, or it is not the droplet the check saw).
    pub async fn fail_staged(
        &self,
        droplet: Uuid,
        sha256: &str,
        error: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let failed = sqlx::query(concat!(
            "UPDATE droplets SET state = 'FAILED', error = $1, ",
            touched!("$2"),
            " WHERE guid = $3 AND state = 'STAGED' AND checksum_sha256 = $4"
        ))
        .bind(error.to_owned())
        .bind(now)
        .bind(droplet.to_string())
        .bind(sha256.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(failed.rows_affected() == 1)
    }
}
