//! Counts of droplets kept by the database itself (migration 8's triggers): by state, by label
//! value and by label key. A count is the sum of a group's rows in an append-only table, which
//! [`MetadataStore::compact_counts`] folds back into one row per group, so that reading one
//! never grows with the number of droplets.

use std::time::Duration;

use slog::Logger;
use sqlx::Row;

use super::{MetadataStore, StoreError};

/// How often the counters are compacted: each second's writes add one row per change, and a
/// count sums the rows added since the last compaction.
const COMPACTION_INTERVAL: Duration = Duration::from_secs(1);

/// A counter table and the columns that name its groups.
struct Counter {
    table: &'static str,
    group: &'static str,
}

const COUNTERS: [Counter; 3] = [
    Counter { table: "droplet_count_deltas", group: "state" },
    Counter { table: "droplet_label_count_deltas", group: "key, value" },
    Counter { table: "droplet_label_key_count_deltas", group: "key" },
];

impl MetadataStore {
    /// The number of droplets, or of those in `states`.
    pub(super) async fn count_in_states(
        &self,
        states: Option<&[String]>,
    ) -> Result<u64, StoreError> {
        let mut sql =
            "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM droplet_count_deltas".to_owned();
        if let Some(states) = states {
            sql.push_str(&format!(" WHERE state IN ({})", placeholders(1, states.len())));
        }
        let mut query = sqlx::query(&sql);
        for state in states.unwrap_or_default() {
            query = query.bind(state.clone());
        }
        let n: i64 = query.fetch_one(&self.pool).await?.try_get("n")?;
        Ok(n.max(0) as u64)
    }

    /// The number of droplets with label `key`, or with `key` set to one of `values`.
    pub(super) async fn count_labelled(
        &self,
        key: &str,
        values: Option<&[String]>,
    ) -> Result<u64, StoreError> {
        let sql = match values {
            None => "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n
                     FROM droplet_label_key_count_deltas WHERE key = $1"
                .to_owned(),
            Some(values) => format!(
                "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n
                 FROM droplet_label_count_deltas WHERE key = $1 AND value IN ({})",
                placeholders(2, values.len())
            ),
        };
        let mut query = sqlx::query(&sql).bind(key.to_owned());
        for value in values.unwrap_or_default() {
            query = query.bind(value.clone());
        }
        let n: i64 = query.fetch_one(&self.pool).await?.try_get("n")?;
        Ok(n.max(0) as u64)
    }

    /// Folds the counter rows written since the last compaction into one row per group, one
    /// table per transaction.
    pub async fn compact_counts(&self) -> Result<(), StoreError> {
        for Counter { table, group } in COUNTERS {
            let mut tx = self.pool.begin().await?;
            if self.single_process {
                // SQLite: the first statement takes the database's one write lock, so nothing
                // is added between the sum and the delete. A group that sums to nothing goes.
                for statement in [
                    format!(
                        "INSERT INTO {table} ({group}, n, fresh)
                         SELECT {group}, SUM(n), 2 FROM {table}
                         WHERE ({group}) IN (SELECT {group} FROM {table} WHERE fresh = 1)
                         GROUP BY {group} HAVING SUM(n) <> 0"
                    ),
                    format!(
                        "DELETE FROM {table} WHERE fresh <> 2
                         AND ({group}) IN (SELECT {group} FROM {table} WHERE fresh = 1)"
                    ),
                    format!("UPDATE {table} SET fresh = 0 WHERE fresh = 2"),
                ] {
                    sqlx::query(&statement).execute(&mut *tx).await?;
                }
            } else {
                // PostgreSQL: one statement removes the rows it saw and adds their sum; rows
                // written meanwhile are not in its snapshot and stay, and a compaction running
                // at once on a replica skips the rows this one removed.
                sqlx::query(&format!(
                    "WITH gone AS (
                        DELETE FROM {table}
                        WHERE ({group}) IN (SELECT {group} FROM {table} WHERE fresh = 1)
                        RETURNING {group}, n)
                     INSERT INTO {table} ({group}, n, fresh)
                     SELECT {group}, SUM(n), 0 FROM gone GROUP BY {group} HAVING SUM(n) <> 0"
                ))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Compacts the counters every second for as long as the process runs.
    pub(super) fn start_count_compaction(&self, log: &Logger) {
        let (store, log) = (self.clone(), log.clone());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(COMPACTION_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = store.compact_counts().await {
                    slog::warn!(log, "compacting the droplet counters failed"; "error" => %error);
                }
            }
        });
    }
}

/// `$first, $first+1, ...`, `n` of them.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}
