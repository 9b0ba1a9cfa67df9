//! The schema, as numbered migrations applied in order at start-up; each runs once.

use super::{MetadataStore, StoreError};

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
    // 6: one row that `GET /healthz` writes, so that a database that cannot take writes (a full
    // disk) is reported, not only one that does not answer.
    "CREATE TABLE health_probe (id BIGINT PRIMARY KEY, checked_at BIGINT NOT NULL);
    INSERT INTO health_probe (id, checked_at) VALUES (1, 0)",
    // 7: the whole droplet's SHA-1, which nothing read: the API's checksum is the SHA-256, and
    // `resources` carry SHA-1s of files inside the tarball, checked by the inspection.
    "ALTER TABLE droplets DROP COLUMN checksum_sha1",
];

impl MetadataStore {
    /// Applies the missing migrations, all in one transaction. On PostgreSQL, replicas starting
    /// at once queue on an advisory lock held until that transaction ends, so each migration runs
    /// once; SQLite serializes writers by itself (and has no such function).
    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
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
}
