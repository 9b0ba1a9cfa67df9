//! The metadata store: droplets, jobs and upload claims in SQLite (embedded default) or
//! PostgreSQL, through one query layer (`sqlx::Any`, `$N` placeholders, portable SQL). State
//! changes that must not race are single conditional statements, so that concurrent requests, and
//! replicas sharing one database, agree on who won.
//!
//! One file per resource or mechanism: `droplets` (rows and their labels), `upload_claims` (the
//! hold an upload in progress has on its droplet), `resumable_uploads` (uploads that arrive in
//! many requests), `jobs` (job rows and their leases), `listing` (the list query, how it is
//! answered and its SQL), `counts` (the counters that give list totals), `consistency` (what
//! the consistency check asks), `migrations` (the schema), `records` (the rows as the rest of
//! the server sees them), `statement` (a statement written from parts, with its bound values). The store calls nothing else of the server; its
//! errors are [`StoreError`]s, which become CF errors in `crate::errors`.

/// `updated_at = <the time bound as parameter $p>`, but never before the droplet's creation:
/// another replica's clock may be behind the one that created it, and lists rely on a droplet
/// being updated at or after its creation (`listing::times`).
macro_rules! touched {
    ($p:literal) => {
        concat!("updated_at = CASE WHEN created_at > ", $p, " THEN created_at ELSE ", $p, " END")
    };
}

pub mod consistency;
mod counts;
pub mod droplets;
mod jobs;
pub mod listing;
mod migrations;
pub mod records;
pub mod resumable_uploads;
mod statement;
#[cfg(test)]
mod test_support;
pub mod upload_claims;

use std::time::Duration;

use slog::Logger;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use uuid::Uuid;

use crate::time::now_ms;

/// A metadata database failure.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(#[from] sqlx::Error);

impl StoreError {
    /// The database could not be reached (as opposed to refusing a statement).
    pub fn is_unavailable(&self) -> bool {
        matches!(self.0, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed)
    }

    /// The database has no room to write (SQLite's `SQLITE_FULL`, PostgreSQL's `disk_full`).
    pub fn is_out_of_space(&self) -> bool {
        let sqlx::Error::Database(error) = &self.0 else { return false };
        let code = error.code();
        // SQLite reports its result code (13, SQLITE_FULL; extended codes keep it in the low
        // byte), PostgreSQL its SQLSTATE.
        let sqlite_full =
            code.as_deref().and_then(|c| c.parse::<u32>().ok()).is_some_and(|c| c & 0xff == 13);
        sqlite_full || code.as_deref() == Some("53100")
    }
}

/// A handle on the metadata database (cheap to clone: the pool is shared).
#[derive(Clone)]
pub struct MetadataStore {
    pool: AnyPool,
    /// This server process, as recorded in `jobs.owner` of the jobs it runs.
    instance: Uuid,
    /// How long a hold on an upload or a job lasts without renewal.
    lease: Duration,
    /// SQLite: the database file belongs to one server process at a time, so a job owned by any
    /// other instance belongs to a process that is gone. PostgreSQL is shared by replicas.
    single_process: bool,
}

impl MetadataStore {
    /// Connects and brings the schema up to date. `lease` is how long this process's hold on an
    /// upload or a job lasts without renewal.
    pub async fn connect(url: &str, lease: Duration, log: &Logger) -> anyhow::Result<Self> {
        let store = Self::open(url, lease).await?;
        store.migrate().await.map_err(|e| anyhow::anyhow!("migrating the schema: {e}"))?;
        store.start_count_compaction(log);
        slog::info!(log, "metadata database ready"; "instance" => %store.instance);
        Ok(store)
    }

    /// Connects, leaving the schema as it is.
    async fn open(url: &str, lease: Duration) -> anyhow::Result<Self> {
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
                    } else {
                        // A list reads a page of rows by key, or the rows a label names. At
                        // PostgreSQL's default cost of a random read (4, for spinning disks)
                        // the planner reads a whole table to save a few thousand key look-ups;
                        // 1.1 is what its documentation suggests where the data sits on SSDs
                        // or in memory, as a metadata database's does.
                        sqlx::query("SET random_page_cost = 1.1").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to the metadata database: {e}"))?;
        Ok(MetadataStore { pool, instance: Uuid::new_v4(), lease, single_process: is_sqlite })
    }

    /// For `GET /healthz`: the database answers and takes a write.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("UPDATE health_probe SET checked_at = $1 WHERE id = 1")
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// How long a hold on an upload or a job lasts without renewal.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// True on SQLite, whose database file one server process uses at a time.
    pub fn single_process(&self) -> bool {
        self.single_process
    }

    /// When a hold taken or renewed now runs out, in Unix milliseconds.
    fn lease_expiry(&self) -> i64 {
        now_ms() + self.lease.as_millis() as i64
    }
}
