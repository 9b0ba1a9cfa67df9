//! Counts of droplets kept by the database itself (migration 9's triggers): in each state, all of
//! them, those holding each label value, label key and pair of them, and those created or updated
//! in each hour. A count is a total in `droplet_tallies` plus the deltas written since
//! [`MetadataStore::compact_counts`] last moved them into the totals, so reading one never grows
//! with the number of droplets.

use std::time::Duration;

use slog::Logger;
use sqlx::Row;

use super::statement::Sql;
use super::{MetadataStore, StoreError};

/// How often the deltas are moved into the totals: a count sums the deltas written since.
const COMPACTION_INTERVAL: Duration = Duration::from_secs(1);

/// The most labels a droplet may have for its pairs to be counted; droplets with more are
/// listed in `droplets_with_many_labels` and looked at one by one.
pub const PAIRED_LABELS: usize = 10;

/// The length of a time bucket, in seconds: a time range's total sums the buckets it covers,
/// and counts the droplets of the partial buckets at its ends.
pub const BUCKET_SECONDS: i64 = 3600;

/// Bucket `hour` as its group's `value1`: zero-padded, so that the text sorts as the number.
pub fn bucket_value(hour: i64) -> String {
    format!("{hour:012}")
}

/// PostgreSQL: after moving this many deltas at once (a burst of writes), vacuum the delta table
/// straight away, so that counts do not read its dead rows until autovacuum comes by.
const VACUUM_AFTER: i64 = 10_000;

/// The droplets (in `states`) whose `column` is within `from..=to` (unbounded where `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub column: &'static str,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub states: Option<Vec<String>>,
}

/// A label requirement's positive form: a key, and the values one of which it must have (any
/// value when `None`; never an empty list).
pub(super) type Held<'a> = (&'a str, Option<&'a [String]>);

/// A set of droplets the counters count: those in `states` (in any state when `None`) that
/// hold every label of `labels` (none, one, or two with different keys).
pub(super) struct Counted<'a> {
    pub labels: Vec<Held<'a>>,
    pub states: Option<&'a [String]>,
}

/// Binds `values`; returns `$a, $b, ...`.
fn list<'v>(sql: &mut Sql, values: impl IntoIterator<Item = &'v str>) -> String {
    values.into_iter().map(|value| sql.text(value)).collect::<Vec<_>>().join(", ")
}

/// `<key column> = $k AND <value column> IN (...)` of a label's tally columns, `*` for any value.
fn label(
    sql: &mut Sql,
    (key, values): Held<'_>,
    (key_column, value_column): (&str, &str),
) -> String {
    let values: Vec<&str> = match values {
        None => vec!["*"],
        Some(values) => values.iter().map(String::as_str).collect(),
    };
    format!("{key_column} = {} AND {value_column} IN ({})", sql.text(key), list(sql, values))
}

/// ` AND <column> IN (...)` of `states` (nothing for any state).
fn in_states(sql: &mut Sql, column: &str, states: Option<&[String]>) -> String {
    match states {
        Some(states) => format!(" AND {column} IN ({})", sql.texts(states)),
        None => String::new(),
    }
}

/// The tally group of droplets holding `labels`: a pair's either way round (the key order is
/// the database's collation, which the pair's triggers compared in).
fn group(sql: &mut Sql, labels: &[Held<'_>]) -> String {
    let (key1, key2) = (("key1", "value1"), ("key2", "value2"));
    match *labels {
        [] => "key1 = '' AND value1 = '' AND key2 = '' AND value2 = ''".to_owned(),
        [one] => format!("{} AND key2 = '' AND value2 = ''", label(sql, one, key1)),
        [a, b] => {
            let ab = format!("{} AND {}", label(sql, a, key1), label(sql, b, key2));
            let ba = format!("{} AND {}", label(sql, b, key1), label(sql, a, key2));
            format!("(({ab}) OR ({ba}))")
        }
        _ => unreachable!("the counters count no more than two labels at once"),
    }
}

impl MetadataStore {
    /// The size of each set, read in one statement.
    pub(super) async fn counts(&self, sets: &[Counted<'_>]) -> Result<Vec<u64>, StoreError> {
        let sql = counts_statement(self.single_process, sets);
        let row = sql.query().fetch_one(&self.pool).await?;
        let count = |i: usize| row.try_get::<i64, _>(i).map(|n| n.max(0) as u64);
        Ok((0..sets.len()).map(count).collect::<Result<_, _>>()?)
    }

    /// The number of droplets (in `states`) whose `column` (`created_at` or `updated_at`) is
    /// within `from..=to` (unbounded where `None`).
    pub(super) async fn count_in_range(&self, range: &TimeRange) -> Result<u64, StoreError> {
        match range_statement(self.single_process, range) {
            Some(sql) => Ok(sql.count(&self.pool).await?),
            None => Ok(0),
        }
    }

    /// The earliest and latest `column` (`created_at` or `updated_at`) of any droplet, from the
    /// column's index (none without droplets).
    pub(super) async fn time_span(&self, column: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let row = sqlx::query(&time_span_statement(column)).fetch_one(&self.pool).await?;
        let first: Option<i64> = row.try_get("first")?;
        let last: Option<i64> = row.try_get("last")?;
        Ok(first.zip(last))
    }

    /// Moves the deltas written since the last compaction into the totals, in one transaction,
    /// and drops the totals that came to nothing.
    pub async fn compact_counts(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let moved: i64 = if self.single_process {
            // SQLite: the first statement takes the database's one write lock, so nothing is
            // added between the move and the delete.
            sqlx::query(
                "INSERT INTO droplet_tallies (key1, value1, key2, value2, state, n)
                 SELECT key1, value1, key2, value2, state, SUM(n) FROM droplet_tally_deltas
                 WHERE 1 = 1 GROUP BY key1, value1, key2, value2, state
                 ON CONFLICT (key1, value1, key2, value2, state) DO UPDATE SET n = n + excluded.n",
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM droplet_tally_deltas").execute(&mut *tx).await?.rows_affected()
                as i64
        } else {
            // PostgreSQL: one statement removes the deltas it saw and adds them up; deltas
            // written meanwhile are not in its snapshot and stay, and a compaction running at
            // once on a replica skips the rows this one removed. Totals are updated in one order,
            // so that two compactions cannot deadlock.
            sqlx::query(
                "WITH gone AS (
                    DELETE FROM droplet_tally_deltas
                    RETURNING key1, value1, key2, value2, state, n),
                 folded AS (
                    INSERT INTO droplet_tallies (key1, value1, key2, value2, state, n)
                    SELECT key1, value1, key2, value2, state, SUM(n) FROM gone
                    GROUP BY key1, value1, key2, value2, state
                    ORDER BY key1, value1, key2, value2, state
                    ON CONFLICT (key1, value1, key2, value2, state)
                    DO UPDATE SET n = droplet_tallies.n + EXCLUDED.n)
                 SELECT CAST(COUNT(*) AS BIGINT) AS n FROM gone",
            )
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?
        };
        if moved > 0 {
            sqlx::query("DELETE FROM droplet_tallies WHERE n = 0").execute(&mut *tx).await?;
        }
        tx.commit().await?;
        if moved >= VACUUM_AFTER && !self.single_process {
            sqlx::query("VACUUM droplet_tally_deltas").execute(&self.pool).await?;
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

/// The statement that reads the size of each set, in columns `c0`, `c1`, ...
pub(super) fn counts_statement(sqlite: bool, sets: &[Counted<'_>]) -> Sql {
    let mut sql = Sql::new(sqlite);
    let mut columns = Vec::with_capacity(sets.len());
    for (i, set) in sets.iter().enumerate() {
        let many = match set.labels[..] {
            [a, b] => {
                let held = [a, b].map(|(key, values)| {
                    let mut condition = format!("l.key = {}", sql.text(key));
                    if let Some(values) = values {
                        condition.push_str(&format!(" AND l.value IN ({})", sql.texts(values)));
                    }
                    format!(
                        "EXISTS (SELECT 1 FROM droplet_labels l
                            WHERE l.droplet_guid = w.droplet_guid AND {condition})"
                    )
                });
                format!(
                    " + (SELECT COUNT(*) FROM droplets_with_many_labels w
                      JOIN droplets d ON d.guid = w.droplet_guid
                      WHERE {} AND {}{})",
                    held[0],
                    held[1],
                    in_states(&mut sql, "d.state", set.states),
                )
            }
            _ => String::new(),
        };
        let mut sum = |table: &str| {
            let group = group(&mut sql, &set.labels);
            let states = in_states(&mut sql, "state", set.states);
            format!("COALESCE((SELECT SUM(n) FROM {table} WHERE {group}{states}), 0)")
        };
        let (totals, deltas) = (sum("droplet_tallies"), sum("droplet_tally_deltas"));
        columns.push(format!("CAST({totals} + {deltas}{many} AS BIGINT) AS c{i}"));
    }
    sql.push(&format!("SELECT {}", columns.join(", ")));
    sql
}

/// The statement that counts a time range (as `n`): the time buckets the range covers whole,
/// and the droplets of the partial buckets at its ends, from the column's index. None for an
/// empty range.
pub(super) fn range_statement(sqlite: bool, range: &TimeRange) -> Option<Sql> {
    let TimeRange { column, from, to, states } = range;
    let (column, from, to, states) = (*column, *from, *to, states.as_deref());
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return None;
    }
    let mut sql = Sql::new(sqlite);
    // The buckets wholly within the range: `first..=last`.
    let first = from.map(|from| {
        from.div_euclid(BUCKET_SECONDS) + i64::from(from.rem_euclid(BUCKET_SECONDS) != 0)
    });
    let last = to.map(|to| to.saturating_add(1).div_euclid(BUCKET_SECONDS) - 1);
    let mut parts = Vec::new();
    let count = |sql: &mut Sql, start: i64, end: i64| {
        let (start, end) = (sql.int(start), sql.int(end));
        let states = in_states(sql, "d.state", states);
        format!(
            "(SELECT COUNT(*) FROM droplets d
              WHERE d.{column} >= {start} AND d.{column} <= {end}{states})"
        )
    };
    if first.zip(last).is_none_or(|(first, last)| first <= last) {
        let key = if column == "created_at" { "@created" } else { "@updated" };
        for table in ["droplet_tallies", "droplet_tally_deltas"] {
            let mut group = format!("key1 = {}", sql.text(key));
            if let Some(first) = first {
                group.push_str(&format!(" AND value1 >= {}", sql.text(&bucket_value(first))));
            }
            if let Some(last) = last {
                group.push_str(&format!(" AND value1 <= {}", sql.text(&bucket_value(last))));
            }
            let states = in_states(&mut sql, "state", states);
            parts.push(format!(
                "COALESCE((SELECT SUM(n) FROM {table}
                    WHERE {group} AND key2 = '' AND value2 = ''{states}), 0)"
            ));
        }
        // The partial buckets at the ends.
        if let (Some(from), Some(first)) = (from, first)
            && from < first.saturating_mul(BUCKET_SECONDS)
        {
            parts.push(count(&mut sql, from, first.saturating_mul(BUCKET_SECONDS) - 1));
        }
        if let (Some(to), Some(last)) = (to, last)
            && (last + 1) * BUCKET_SECONDS <= to
        {
            parts.push(count(&mut sql, (last + 1) * BUCKET_SECONDS, to));
        }
    } else {
        // Within two buckets: the range's droplets, from the index.
        parts.push(count(&mut sql, from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX)));
    }
    sql.push(&format!("SELECT CAST({} AS BIGINT) AS n", parts.join(" + ")));
    Some(sql)
}

/// The statement that reads the earliest and latest `column` (as `first` and `last`): each its
/// own subquery, since SQLite reads `MIN` or `MAX` from an index only when it is a statement's
/// one aggregate.
pub(super) fn time_span_statement(column: &str) -> String {
    format!(
        "SELECT (SELECT MIN({column}) FROM droplets) AS first,
            (SELECT MAX({column}) FROM droplets) AS last"
    )
}
