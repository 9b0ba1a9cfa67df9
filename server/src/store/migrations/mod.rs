//! The schema, as numbered migrations applied in order at start-up; each runs once. Most are
//! portable SQL; those that need what the two databases spell differently (triggers) give each
//! backend its own statements.

mod counters;
mod tallies;
mod tally_triggers;
#[cfg(test)]
mod tests;

use super::{MetadataStore, StoreError};
use counters::Step;

/// One schema change.
enum Migration {
    /// Statements both databases take, separated by `;`.
    Portable(&'static str),
    /// Statements one at a time, each for both databases or for one (a trigger's body holds
    /// `;`s of its own).
    Steps(&'static [Step]),
    /// Statements one at a time, written for SQLite (`true`) or PostgreSQL from shared parts.
    Written(fn(bool) -> Vec<String>),
}

/// Schema changes, applied in order at start-up; each runs once.
const MIGRATIONS: &[Migration] = &[
    // 1: droplets and jobs.
    Migration::Portable(
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
    ),
    // 2: labels as rows, kept in sync with `droplets.labels`, for label selectors.
    Migration::Portable(
        "CREATE TABLE droplet_labels (
        droplet_guid TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (droplet_guid, key)
    );
    CREATE INDEX droplet_labels_key_value ON droplet_labels (key, value)",
    ),
    // 3: job leases, so that many replicas can share the database: the server process running a
    // `PROCESSING` job (`owner`, its instance id) renews `lease_expires_ms` while it works; a job
    // whose lease ran out lost its process and is claimed and settled by another
    // (`take_over_job`). Rows from before have neither and count as abandoned.
    Migration::Portable(
        "ALTER TABLE jobs ADD COLUMN owner TEXT;
    ALTER TABLE jobs ADD COLUMN lease_expires_ms BIGINT;
    CREATE INDEX jobs_state ON jobs (state)",
    ),
    // 4: the blob a droplet's upload is writing, by the name its blobstore gave the write
    // (`BlobWriter::pending`: a temporary file, a multipart upload), from the moment the bits
    // start streaming until the upload job commits or drops it, so that whichever replica finds
    // the upload's process gone can discard what it left.
    Migration::Portable("ALTER TABLE droplets ADD COLUMN pending_blob TEXT"),
    // 5: the droplet a copy job copies from, so that a replica can finish a copy whose process
    // died.
    Migration::Portable("ALTER TABLE jobs ADD COLUMN source_guid TEXT"),
    // 6: one row that `GET /healthz` writes, so that a database that cannot take writes (a full
    // disk) is reported, not only one that does not answer.
    Migration::Portable(
        "CREATE TABLE health_probe (id BIGINT PRIMARY KEY, checked_at BIGINT NOT NULL);
    INSERT INTO health_probe (id, checked_at) VALUES (1, 0)",
    ),
    // 7: the whole droplet's SHA-1, which nothing read: the API's checksum is the SHA-256, and
    // `resources` carry SHA-1s of files inside the tarball, checked by the inspection.
    Migration::Portable("ALTER TABLE droplets DROP COLUMN checksum_sha1"),
    // 8: lists that stay fast at hundreds of thousands of droplets: an index for every order and
    // filter a list can ask for, labels indexed with their droplet (so that a selector is
    // answered from the index alone), an index for the recovery sweep's look for upload claims,
    // and counters, kept by triggers, that give a list's total without counting rows.
    Migration::Steps(counters::STEPS),
    // 9: the counters as totals and the deltas not yet moved into them, so that compaction
    // empties the deltas (and PostgreSQL's vacuum can give their pages back); counted per state,
    // for pairs of labels and per hour of creation and of update, so that a label with `states`,
    // two labels, and a time range have totals too.
    Migration::Written(tallies::statements),
    // 10: the blob writes uploads recorded, by name, for `droplet-server check`, which asks
    // for each write it finds whether an upload recorded it (without, every question read the
    // whole table). Only uploads in progress have one.
    Migration::Portable(
        "CREATE INDEX droplets_pending_blobs ON droplets (pending_blob)
        WHERE pending_blob IS NOT NULL",
    ),
    // 11: the droplets updated more than a day after their creation ("late"), indexed by each
    // time, so that a list with a range on one time, ordered by the other, reads the few late
    // ones apart and walks the rest in order (`listing::times`). Lists rely on droplets being
    // updated at or after their creation, which writes now keep; a row a replica with a slower
    // clock wrote before is brought in line first.
    Migration::Portable(
        "UPDATE droplets SET updated_at = created_at WHERE updated_at < created_at;
        CREATE INDEX droplets_late_updated ON droplets (updated_at, guid)
        WHERE updated_at > created_at + 86400;
        CREATE INDEX droplets_late_created ON droplets (created_at, guid)
        WHERE updated_at > created_at + 86400",
    ),
    // 12: resumable uploads (`store::resumable_uploads`), one at most per droplet.
    Migration::Portable(
        "CREATE TABLE resumable_uploads (
        id TEXT PRIMARY KEY,
        droplet_guid TEXT NOT NULL UNIQUE,
        length BIGINT NOT NULL,
        metadata TEXT,
        upload_offset BIGINT NOT NULL,
        write_name TEXT NOT NULL,
        blob_write TEXT NOT NULL,
        expires_ms BIGINT NOT NULL,
        holder TEXT,
        held_until_ms BIGINT,
        created_ms BIGINT NOT NULL
    )",
    ),
    // 13: a completed resumable upload names the job its bits went to, until it expires.
    Migration::Portable("ALTER TABLE resumable_uploads ADD COLUMN job_guid TEXT"),
];

impl MetadataStore {
    /// Applies the missing migrations, all in one transaction. On PostgreSQL, replicas starting
    /// at once queue on an advisory lock held until that transaction ends, so each migration runs
    /// once; SQLite serializes writers by itself (and has no such function).
    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        self.migrate_to(MIGRATIONS.len() as i64).await
    }

    /// Applies the missing migrations up to `target` (tests build older schemas with it).
    pub(super) async fn migrate_to(&self, target: i64) -> Result<(), StoreError> {
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
        for (index, migration) in MIGRATIONS.iter().enumerate().take(target as usize) {
            let version = index as i64 + 1;
            let applied = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if applied {
                continue;
            }
            let written;
            let statements: Vec<&str> = match migration {
                Migration::Portable(text) => text.split(';').collect(),
                Migration::Written(statements) => {
                    written = statements(self.single_process);
                    written.iter().map(String::as_str).collect()
                }
                Migration::Steps(steps) => steps
                    .iter()
                    .filter_map(|step| match step {
                        Step::Both(sql) => Some(*sql),
                        Step::Sqlite(sql) => self.single_process.then_some(*sql),
                        Step::Postgres(sql) => (!self.single_process).then_some(*sql),
                    })
                    .collect(),
            };
            for statement in statements.into_iter().map(str::trim).filter(|s| !s.is_empty()) {
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
