//! The metadata store: droplets and jobs in SQLite (embedded default) or PostgreSQL, through one
//! query layer (`sqlx::Any`, `$N` placeholders, portable SQL). State changes that must not race
//! are single conditional statements, so that concurrent requests, and replicas sharing one
//! database, agree on who won.

use std::collections::BTreeMap;
use std::time::Duration;

use droplet_api::{CfError, DropletState, ErrorItem, JobState};
use slog::Logger;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use uuid::Uuid;

use crate::listing::{DropletFilter, LabelRequirement, ListRequest, TimeFilter};
use crate::time::now_ms;

/// Schema changes, applied in order at start-up; each runs once.
const MIGRATIONS: &[&str] = &[
    // 1: droplets and jobs.
    "CREATE TABLE droplets (
        guid TEXT PRIMARY KEY,
        app_guid TEXT NOT NULL,
        state TEXT NOT NULL,
        error TEXT,
        checksum_sha256 TEXT,
        checksum_sha1 TEXT,
        blob_size BIGINT,
        process_types TEXT NOT NULL,
        labels TEXT NOT NULL,
        annotations TEXT NOT NULL,
        upload_claim TEXT,
        upload_claim_expires_ms BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX droplets_app_guid ON droplets (app_guid);
    CREATE TABLE jobs (
        guid TEXT PRIMARY KEY,
        operation TEXT NOT NULL,
        state TEXT NOT NULL,
        droplet_guid TEXT,
        errors TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );",
    // 2: labels as rows, kept in sync with `droplets.labels`, for label selectors.
    "CREATE TABLE droplet_labels (
        droplet_guid TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (droplet_guid, key)
    );
    CREATE INDEX droplet_labels_key_value ON droplet_labels (key, value)",
    // 3: job leases, so that many replicas can share the database: the server process running a
    // `PROCESSING` job (`owner`, its instance id) renews `lease_expires_ms` while it works; a job
    // whose lease ran out lost its process and is claimed and settled by another
    // (`take_over_job`). Rows from before have neither and count as abandoned.
    "ALTER TABLE jobs ADD COLUMN owner TEXT;
    ALTER TABLE jobs ADD COLUMN lease_expires_ms BIGINT;
    CREATE INDEX jobs_state ON jobs (state)",
    // 4: the blob a droplet's upload is writing, by the name its blobstore gave the write
    // (`BlobWriter::pending`: a temporary file, a multipart upload), from the moment the bits
    // start streaming until the upload job commits or drops it, so that whichever replica finds
    // the upload's process gone can discard what it left.
    "ALTER TABLE droplets ADD COLUMN pending_blob TEXT",
    // 5: the droplet a copy job copies from, so that a replica can finish a copy whose process
    // died.
    "ALTER TABLE jobs ADD COLUMN source_guid TEXT",
];

/// Operation name of upload jobs.
pub const UPLOAD_OPERATION: &str = "droplet.upload";
/// Operation name of delete jobs.
pub const DELETE_OPERATION: &str = "droplet.delete";
/// Operation name of the internal jobs that copy a droplet's bits (no client is given them).
pub const COPY_OPERATION: &str = "droplet.copy";

#[derive(Clone, Debug)]
pub struct DropletRecord {
    pub guid: Uuid,
    pub app_guid: Uuid,
    pub state: DropletState,
    pub error: Option<String>,
    pub checksum_sha256: Option<String>,
    pub blob_size: Option<u64>,
    pub process_types: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug)]
pub struct JobRecord {
    pub guid: Uuid,
    pub operation: String,
    pub state: JobState,
    pub droplet_guid: Option<Uuid>,
    /// The droplet a `droplet.copy` job copies from.
    pub source_guid: Option<Uuid>,
    pub errors: Vec<ErrorItem>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a finished upload stored.
pub struct StoredBits {
    pub sha256: String,
    pub sha1: String,
    pub size: u64,
}

/// What became of a finished copy.
pub enum CopyRecorded {
    /// The droplet has its bits.
    Copied,
    /// The droplet was deleted while its bits were copied: the copied blob is the caller's to
    /// remove.
    DropletGone,
    /// Another replica took the job over (this process looked dead) and copies again: the blob
    /// is that replica's now, and stays.
    JobLost,
}

/// A handle on the metadata database (cheap to clone: the pool is shared).
#[derive(Clone)]
pub struct MetadataStore {
    pool: AnyPool,
    log: Logger,
    /// This server process, as recorded in `jobs.owner` of the jobs it runs.
    instance: Uuid,
    /// How long a hold on an upload or a job lasts without renewal.
    lease: Duration,
    /// SQLite: the database file belongs to one server process at a time, so a job owned by any
    /// other instance belongs to a process that is gone. PostgreSQL is shared by replicas.
    single_process: bool,
}

impl MetadataStore {
    /// A trivial query, for `GET /healthz`: the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(drop)
    }

    /// Connects and brings the schema up to date. `lease` is how long this process's hold on an
    /// upload or a job lasts without renewal.
    pub async fn connect(url: &str, lease: Duration, log: Logger) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let is_sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(if is_sqlite { 4 } else { 16 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if is_sqlite {
                        // WAL lets readers proceed during writes; busy_timeout makes writers
                        // queue instead of failing; FULL keeps every commit durable.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA busy_timeout = 10000",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to the metadata database: {e}"))?;
        let instance = Uuid::new_v4();
        let store = MetadataStore { pool, log, instance, lease, single_process: is_sqlite };
        store.migrate().await?;
        slog::info!(store.log, "metadata database ready"; "instance" => %instance);
        Ok(store)
    }

    /// This server process's instance id.
    pub fn instance(&self) -> Uuid {
        self.instance
    }

    /// How long a hold on an upload or a job lasts without renewal.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// True on SQLite, whose database file one server process uses at a time.
    pub fn single_process(&self) -> bool {
        self.single_process
    }

    fn lease_expiry(&self) -> i64 {
        now_ms() + self.lease.as_millis() as i64
    }

    /// Applies the missing migrations, all in one transaction. On PostgreSQL, replicas starting
    /// at once queue on an advisory lock held until that transaction ends, so each migration runs
    /// once; SQLite serializes writers by itself (and has no such function).
    async fn migrate(&self) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        if !self.single_process {
            // Backend-specific, unavoidably: the lock key is arbitrary but fixed for this schema.
            // (Selected through a count: the Any driver cannot decode the function's `void`.)
            sqlx::query("SELECT COUNT(*) AS n FROM (SELECT pg_advisory_xact_lock(7462031)) AS l")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
            .execute(&mut *tx)
            .await?;
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            let version = index as i64 + 1;
            let applied = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if applied {
                continue;
            }
            for statement in migration.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Maps a database failure to the CF error clients see, logging what really happened.
    fn fail(&self, error: sqlx::Error) -> CfError {
        slog::error!(self.log, "metadata database error"; "error" => %error);
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                CfError::service_unavailable("The metadata database is unavailable.")
            }
            _ => CfError::unknown(),
        }
    }

    pub async fn insert_droplet(&self, droplet: &DropletRecord) -> Result<(), CfError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        insert_droplet_row(&mut tx, droplet).await.map_err(|e| self.fail(e))?;
        sync_labels(&mut tx, droplet.guid, &droplet.labels).await.map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))
    }

    /// Replaces a droplet's labels and annotations; None if there is no such droplet.
    pub async fn update_metadata(
        &self,
        guid: Uuid,
        labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
        now: i64,
    ) -> Result<Option<DropletRecord>, CfError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        let updated = sqlx::query(
            "UPDATE droplets SET labels = $1, annotations = $2, updated_at = $3 WHERE guid = $4",
        )
        .bind(to_json(labels))
        .bind(to_json(annotations))
        .bind(now)
        .bind(guid.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        if updated.rows_affected() != 1 {
            return Ok(None);
        }
        sync_labels(&mut tx, guid, labels).await.map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        self.droplet(guid).await
    }

    /// One page of the droplets matching `request`, and the exact number of all matches.
    pub async fn list_droplets(
        &self,
        request: &ListRequest,
    ) -> Result<(u64, Vec<DropletRecord>), CfError> {
        let (clause, binds) = where_clause(&request.filter);
        let count_sql = format!("SELECT COUNT(*) AS n FROM droplets d{clause}");
        let mut count = sqlx::query(&count_sql);
        for bind in &binds {
            count = bind.bind_to(count);
        }
        let total: i64 = count
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(|e| self.fail(e))?;
        let direction = if request.descending { "DESC" } else { "ASC" };
        let column = request.order_column;
        let n = binds.len();
        let sql = format!(
            "SELECT d.* FROM droplets d{clause} ORDER BY d.{column} {direction}, d.guid {direction} \
             LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut page = sqlx::query(&sql);
        for bind in &binds {
            page = bind.bind_to(page);
        }
        let offset = (request.page - 1).saturating_mul(request.per_page);
        let rows = page
            .bind(request.per_page as i64)
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        let droplets = rows
            .iter()
            .map(droplet_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.fail(e))?;
        Ok((total as u64, droplets))
    }

    pub async fn droplet(&self, guid: Uuid) -> Result<Option<DropletRecord>, CfError> {
        let row = sqlx::query("SELECT * FROM droplets WHERE guid = $1")
            .bind(guid.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        row.map(|row| droplet_from_row(&row)).transpose().map_err(|e| self.fail(e))
    }

    pub async fn job(&self, guid: Uuid) -> Result<Option<JobRecord>, CfError> {
        let row = sqlx::query("SELECT * FROM jobs WHERE guid = $1")
            .bind(guid.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        row.map(|row| job_from_row(&row)).transpose().map_err(|e| self.fail(e))
    }

    /// Reserves the droplet for one upload while its body streams in. The droplet stays
    /// `AWAITING_UPLOAD` to the outside; the claim lapses at `expires_ms` unless renewed, so an
    /// upload whose server died does not block the droplet forever. False if another upload holds
    /// it or the droplet is no longer awaiting bits.
    pub async fn claim_upload(
        &self,
        droplet: Uuid,
        claim: Uuid,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<bool, CfError> {
        let result = sqlx::query(
            "UPDATE droplets SET upload_claim = $1, upload_claim_expires_ms = $2
             WHERE guid = $3 AND state = 'AWAITING_UPLOAD'
               AND (upload_claim IS NULL OR upload_claim_expires_ms < $4)",
        )
        .bind(claim.to_string())
        .bind(expires_ms)
        .bind(droplet.to_string())
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn renew_upload_claim(
        &self,
        droplet: Uuid,
        claim: Uuid,
        expires_ms: i64,
    ) -> Result<bool, CfError> {
        let result = sqlx::query(
            "UPDATE droplets SET upload_claim_expires_ms = $1 WHERE guid = $2 AND upload_claim = $3",
        )
        .bind(expires_ms)
        .bind(droplet.to_string())
        .bind(claim.to_string())
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(result.rows_affected() == 1)
    }

    /// Ends an upload claim that did not become a job; its blob writer was dropped, which
    /// discarded the pending blob, so the record of it goes too.
    pub async fn release_upload_claim(&self, droplet: Uuid, claim: Uuid) -> Result<(), CfError> {
        sqlx::query(
            "UPDATE droplets SET upload_claim = NULL, upload_claim_expires_ms = NULL,
                pending_blob = NULL
             WHERE guid = $1 AND upload_claim = $2",
        )
        .bind(droplet.to_string())
        .bind(claim.to_string())
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Records the name of the blob write a claimed upload has started. False if the claim was
    /// lost meanwhile.
    pub async fn record_pending_blob(
        &self,
        droplet: Uuid,
        claim: Uuid,
        pending: &str,
    ) -> Result<bool, CfError> {
        let result = sqlx::query(
            "UPDATE droplets SET pending_blob = $1 WHERE guid = $2 AND upload_claim = $3",
        )
        .bind(pending.to_owned())
        .bind(droplet.to_string())
        .bind(claim.to_string())
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(result.rows_affected() == 1)
    }

    /// The name of the blob write recorded for a droplet's upload, if one is.
    pub async fn pending_blob(&self, droplet: Uuid) -> Result<Option<String>, CfError> {
        let row = sqlx::query("SELECT pending_blob FROM droplets WHERE guid = $1")
            .bind(droplet.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        let pending = row.map(|row| row.try_get::<Option<String>, _>("pending_blob"));
        Ok(pending.transpose().map_err(|e| self.fail(e))?.flatten())
    }

    /// Upload claims whose process is gone, with the blob write each recorded: those whose lease
    /// ran out, or, with `all` (at start-up on SQLite, where no other process streams), every one.
    pub async fn lapsed_upload_claims(
        &self,
        all: bool,
    ) -> Result<Vec<(Uuid, String, Option<String>)>, CfError> {
        let rows = sqlx::query(
            "SELECT guid, upload_claim, pending_blob FROM droplets
             WHERE upload_claim IS NOT NULL AND ($1 OR upload_claim_expires_ms < $2)",
        )
        .bind(all)
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| {
                Ok((
                    uuid_column(row, "guid")?,
                    row.try_get("upload_claim")?,
                    row.try_get("pending_blob")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.fail(e))
    }

    /// Takes a lapsed upload claim over under a new claim of this process's, in one conditional
    /// UPDATE, so that exactly one replica cleans up after it and no new upload starts meanwhile.
    /// False if another replica won, or the claim was renewed or ended.
    pub async fn take_over_upload_claim(
        &self,
        droplet: Uuid,
        lapsed: &str,
        claim: Uuid,
        all: bool,
    ) -> Result<bool, CfError> {
        let result = sqlx::query(
            "UPDATE droplets SET upload_claim = $1, upload_claim_expires_ms = $2
             WHERE guid = $3 AND upload_claim = $4 AND ($5 OR upload_claim_expires_ms < $6)",
        )
        .bind(claim.to_string())
        .bind(self.lease_expiry())
        .bind(droplet.to_string())
        .bind(lapsed.to_owned())
        .bind(all)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(result.rows_affected() == 1)
    }

    /// The body of a claimed upload has arrived: moves the droplet to `PROCESSING_UPLOAD` and
    /// records its job, atomically. False if the claim was lost meanwhile.
    pub async fn start_upload_job(
        &self,
        droplet: Uuid,
        claim: Uuid,
        job: &JobRecord,
    ) -> Result<bool, CfError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        let moved = sqlx::query(
            "UPDATE droplets SET state = 'PROCESSING_UPLOAD', upload_claim = NULL,
                upload_claim_expires_ms = NULL, updated_at = $1
             WHERE guid = $2 AND upload_claim = $3 AND state = 'AWAITING_UPLOAD'",
        )
        .bind(job.created_at)
        .bind(droplet.to_string())
        .bind(claim.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        insert_job(&mut tx, job, self.instance, self.lease_expiry())
            .await
            .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
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
    ) -> Result<bool, CfError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        if !self.settle_job(&mut tx, job, JobState::Complete, &[], now).await? {
            // Another replica took the job over (this one looked dead): it fails the droplet and
            // removes the blob; removing it here too is harmless.
            return Ok(false);
        }
        let staged = sqlx::query(
            "UPDATE droplets SET state = 'STAGED', checksum_sha256 = $1, checksum_sha1 = $2,
                blob_size = $3, error = NULL, updated_at = $4, pending_blob = NULL
             WHERE guid = $5 AND state = 'PROCESSING_UPLOAD'",
        )
        .bind(bits.sha256.clone())
        .bind(bits.sha1.clone())
        .bind(bits.size as i64)
        .bind(now)
        .bind(droplet.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(staged.rows_affected() == 1)
    }

    /// Deletes the droplet and records the `droplet.delete` job that removes its blob, in one
    /// transaction, so that a crash cannot lose the blob's removal. False if there was no
    /// droplet (or a concurrent delete won).
    pub async fn delete_droplet(&self, droplet: Uuid, job: &JobRecord) -> Result<bool, CfError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        let deleted = sqlx::query("DELETE FROM droplets WHERE guid = $1")
            .bind(droplet.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        if deleted.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM droplet_labels WHERE droplet_guid = $1")
            .bind(droplet.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        insert_job(&mut tx, job, self.instance, self.lease_expiry())
            .await
            .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(true)
    }

    /// Creates a `COPYING` droplet and records the internal job that copies its bits, in one
    /// transaction.
    pub async fn insert_copy(
        &self,
        droplet: &DropletRecord,
        job: &JobRecord,
    ) -> Result<(), CfError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        insert_droplet_row(&mut tx, droplet).await.map_err(|e| self.fail(e))?;
        insert_job(&mut tx, job, self.instance, self.lease_expiry())
            .await
            .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))
    }

    /// The stored bits of a droplet that has them (`STAGED`), with its state.
    pub async fn staged_bits(
        &self,
        droplet: Uuid,
    ) -> Result<Option<(DropletState, StoredBits)>, CfError> {
        let row = sqlx::query(
            "SELECT state, checksum_sha256, checksum_sha1, blob_size FROM droplets
             WHERE guid = $1 AND state = 'STAGED'",
        )
        .bind(droplet.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        let Some(row) = row else { return Ok(None) };
        let bits = (|| -> Result<_, sqlx::Error> {
            let state: String = row.try_get("state")?;
            let state = DropletState::parse(&state).ok_or_else(|| decode_err("state", &state))?;
            let sha256: Option<String> = row.try_get("checksum_sha256")?;
            let sha1: Option<String> = row.try_get("checksum_sha1")?;
            let size: Option<i64> = row.try_get("blob_size")?;
            Ok((state, sha256, sha1, size))
        })()
        .map_err(|e| self.fail(e))?;
        Ok(match bits {
            (state, Some(sha256), sha1, Some(size)) => Some((
                state,
                StoredBits { sha256, sha1: sha1.unwrap_or_default(), size: size as u64 },
            )),
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
    ) -> Result<CopyRecorded, CfError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        if !self.settle_job(&mut tx, job, JobState::Complete, &[], now).await? {
            return Ok(CopyRecorded::JobLost);
        }
        let copied = sqlx::query(
            "UPDATE droplets SET state = $1, checksum_sha256 = $2, checksum_sha1 = $3,
                blob_size = $4, error = NULL, updated_at = $5
             WHERE guid = $6 AND state = 'COPYING'",
        )
        .bind(state.as_str())
        .bind(bits.sha256.clone())
        .bind(bits.sha1.clone())
        .bind(bits.size as i64)
        .bind(now)
        .bind(droplet.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(if copied.rows_affected() == 1 {
            CopyRecorded::Copied
        } else {
            CopyRecorded::DropletGone
        })
    }

    /// A job that changes no droplet (a delete) is done.
    pub async fn complete_job(&self, job: Uuid, now: i64) -> Result<(), CfError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        self.settle_job(&mut tx, job, JobState::Complete, &[], now).await?;
        tx.commit().await.map_err(|e| self.fail(e))
    }

    /// A job failed: the job is `FAILED` with `error`, and its droplet, if still being processed,
    /// `FAILED` with `error.detail`. Nothing changes if this process no longer owns the job.
    pub async fn fail_job(
        &self,
        job: Uuid,
        droplet: Uuid,
        error: &ErrorItem,
        now: i64,
    ) -> Result<(), CfError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        if !self
            .settle_job(&mut tx, job, JobState::Failed, std::slice::from_ref(error), now)
            .await?
        {
            return Ok(());
        }
        sqlx::query(
            "UPDATE droplets SET state = 'FAILED', error = $1, updated_at = $2,
                pending_blob = NULL
             WHERE guid = $3 AND state IN ('PROCESSING_UPLOAD', 'COPYING')",
        )
        .bind(error.detail.clone())
        .bind(now)
        .bind(droplet.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))
    }

    /// Ends a `PROCESSING` job owned by this process, first thing in `tx` (which locks the row,
    /// so that a replica taking the job over waits for the outcome, or wins and makes this
    /// return false). False if the job is no longer this process's: the caller changes nothing.
    async fn settle_job(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        job: Uuid,
        state: JobState,
        errors: &[ErrorItem],
        now: i64,
    ) -> Result<bool, CfError> {
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
        .await
        .map_err(|e| self.fail(e))?;
        Ok(result.rows_affected() == 1)
    }

    /// Extends this process's lease on a job it is working on. False if the job ended or another
    /// replica took it over.
    pub async fn renew_job_lease(&self, job: Uuid) -> Result<bool, CfError> {
        let result = sqlx::query(
            "UPDATE jobs SET lease_expires_ms = $1
             WHERE guid = $2 AND state = 'PROCESSING' AND owner = $3",
        )
        .bind(self.lease_expiry())
        .bind(job.to_string())
        .bind(self.instance.to_string())
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(result.rows_affected() == 1)
    }

    /// Gives up this process's hold on a job it could not settle, so that the next sweep of any
    /// replica (this one included) takes it over again.
    pub async fn release_job(&self, job: Uuid) -> Result<(), CfError> {
        sqlx::query(
            "UPDATE jobs SET owner = NULL, lease_expires_ms = NULL
             WHERE guid = $1 AND state = 'PROCESSING' AND owner = $2",
        )
        .bind(job.to_string())
        .bind(self.instance.to_string())
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
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

    /// The `PROCESSING` jobs whose process is gone, oldest first, for
    /// `crate::jobs::settle_abandoned` to take over (`take_over_job`) and settle one by one.
    pub async fn abandoned_jobs(&self) -> Result<Vec<JobRecord>, CfError> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM jobs WHERE state = 'PROCESSING' AND {}
             ORDER BY created_at, guid",
            self.abandoned_condition()
        ))
        .bind(self.instance.to_string())
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.iter().map(job_from_row).collect::<Result<_, _>>().map_err(|e| self.fail(e))
    }

    /// Takes over an abandoned job: one conditional UPDATE that makes this process its owner
    /// under a fresh lease, so that exactly one replica wins it, and the dead owner's late writes
    /// (all conditional on ownership) change nothing. False if another replica won, or the job
    /// ended or came back to life meanwhile.
    pub async fn take_over_job(&self, job: Uuid) -> Result<bool, CfError> {
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
        .await
        .map_err(|e| self.fail(e))?;
        Ok(taken.rows_affected() == 1)
    }
}

/// Makes `droplet_labels` hold exactly `labels` for the droplet.
async fn sync_labels(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
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

/// A value bound to a list query.
enum Bind {
    Text(String),
    Int(i64),
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

impl Bind {
    fn bind_to<'q>(&self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        match self {
            Bind::Text(text) => query.bind(text.clone()),
            Bind::Int(n) => query.bind(*n),
        }
    }
}

/// ` WHERE ...` (or nothing) over `droplets d` for a filter, with its bind values for `$1..`.
fn where_clause(filter: &DropletFilter) -> (String, Vec<Bind>) {
    let mut clauses = Vec::new();
    let mut binds = Vec::new();
    let placeholders = |binds: &mut Vec<Bind>, values: Vec<Bind>| -> String {
        let list: Vec<String> = values
            .into_iter()
            .map(|value| {
                binds.push(value);
                format!("${}", binds.len())
            })
            .collect();
        list.join(", ")
    };
    let text = |values: &[String]| values.iter().cloned().map(Bind::Text).collect::<Vec<_>>();
    for (column, values) in
        [("guid", &filter.guids), ("state", &filter.states), ("app_guid", &filter.app_guids)]
    {
        if let Some(values) = values {
            clauses.push(format!("d.{column} IN ({})", placeholders(&mut binds, text(values))));
        }
    }
    for (column, filters) in
        [("created_at", &filter.created_at), ("updated_at", &filter.updated_at)]
    {
        for time in filters {
            clauses.push(match time {
                TimeFilter::Equals(times) => {
                    let values = times.iter().map(|t| Bind::Int(*t)).collect();
                    format!("d.{column} IN ({})", placeholders(&mut binds, values))
                }
                TimeFilter::Compare(op, t) => {
                    format!("d.{column} {op} {}", placeholders(&mut binds, vec![Bind::Int(*t)]))
                }
            });
        }
    }
    for requirement in &filter.labels {
        let (negated, key, values) = match requirement {
            LabelRequirement::Exists(key) => (false, key, None),
            LabelRequirement::NotExists(key) => (true, key, None),
            LabelRequirement::In(key, values) => (false, key, Some(values)),
            LabelRequirement::NotIn(key, values) => (true, key, Some(values)),
        };
        let key = placeholders(&mut binds, vec![Bind::Text(key.clone())]);
        let mut exists = format!(
            "EXISTS (SELECT 1 FROM droplet_labels l WHERE l.droplet_guid = d.guid AND l.key = {key}"
        );
        if let Some(values) = values {
            exists
                .push_str(&format!(" AND l.value IN ({})", placeholders(&mut binds, text(values))));
        }
        exists.push(')');
        clauses.push(if negated { format!("NOT {exists}") } else { exists });
    }
    let clause = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (clause, binds)
}

async fn insert_droplet_row(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
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

/// Records a new job, owned by `owner` until `lease_expires_ms` unless renewed.
async fn insert_job(
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

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serializes")
}

fn decode_err(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("bad {what} in database: {value:?}").into())
}

fn uuid_column(row: &AnyRow, column: &str) -> Result<Uuid, sqlx::Error> {
    let text: String = row.try_get(column)?;
    Uuid::parse_str(&text).map_err(|_| decode_err(column, &text))
}

fn json_column<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|_| decode_err(column, &text))
}

fn droplet_from_row(row: &AnyRow) -> Result<DropletRecord, sqlx::Error> {
    let state: String = row.try_get("state")?;
    Ok(DropletRecord {
        guid: uuid_column(row, "guid")?,
        app_guid: uuid_column(row, "app_guid")?,
        state: DropletState::parse(&state).ok_or_else(|| decode_err("state", &state))?,
        error: row.try_get("error")?,
        checksum_sha256: row.try_get("checksum_sha256")?,
        blob_size: row.try_get::<Option<i64>, _>("blob_size")?.map(|s| s as u64),
        process_types: json_column(row, "process_types")?,
        labels: json_column(row, "labels")?,
        annotations: json_column(row, "annotations")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn job_from_row(row: &AnyRow) -> Result<JobRecord, sqlx::Error> {
    let state: String = row.try_get("state")?;
    let droplet: Option<String> = row.try_get("droplet_guid")?;
    let source: Option<String> = row.try_get("source_guid")?;
    Ok(JobRecord {
        guid: uuid_column(row, "guid")?,
        operation: row.try_get("operation")?,
        state: JobState::parse(&state).ok_or_else(|| decode_err("state", &state))?,
        droplet_guid: droplet.as_deref().and_then(|g| Uuid::parse_str(g).ok()),
        source_guid: source.as_deref().and_then(|g| Uuid::parse_str(g).ok()),
        errors: json_column(row, "errors")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
