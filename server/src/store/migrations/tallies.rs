//! Migration 9: the counters of migration 8 as totals and deltas, counted per state, for pairs
//! of labels and for hours too, in each backend's dialect (written from shared parts): the
//! tables, the totals filled from what the tables hold, and the previous version's view of them.
//!
//! **Groups.** `droplet_tallies` holds one total per group and state: `(key1, value1, key2,
//! value2, state)`. The droplets are group `('', '', '', '')` (a label key is never empty);
//! the droplets holding label `key=value` are `(key, value, '', '')`, and those holding `key`
//! at all `(key, '*', '', '')` (`*` is not a valid label value); the droplets holding two
//! labels at once are `(key1, value1, key2, value2)` with `key1 < key2`, each value or `*`, so
//! that a selector of two requirements has a total too. The droplets created, or last updated,
//! within an hour are `('@created', hour)` and `('@updated', hour)` (`@` begins no label key),
//! so that a time range's total sums the hours it covers and counts only the droplets of the
//! two partial hours at its ends.
//!
//! **Bounded.** Pairs grow with the square of a droplet's labels. They are counted for droplets
//! with at most `PAIRED_LABELS` labels; the few with more are listed in
//! `droplets_with_many_labels`, and a pair's count adds theirs by looking at each (see
//! `store::counts`). So one label change writes at most a few dozen deltas, and no request can
//! make the triggers write more than that per label row it writes.
//!
//! **Kept by triggers** (`tally_triggers`): writers only ever add deltas, which compaction moves
//! into the totals.
//!
//! **Upgrading.** Replicas of the previous version may run on while this migrates, on
//! PostgreSQL: they read migration 8's tables, which become views of the new ones (their counts
//! stay exact), and their compaction, which cannot write to a view, logs a warning each second
//! until they are upgraded.

use super::tally_triggers::{bucket, postgres_triggers, sqlite_triggers};
use crate::store::counts::PAIRED_LABELS;

/// The statements, for SQLite (`true`) or PostgreSQL.
pub(super) fn statements(sqlite: bool) -> Vec<String> {
    let mut all: Vec<String> = if sqlite {
        [
            "DROP TRIGGER droplet_count_insert",
            "DROP TRIGGER droplet_count_delete",
            "DROP TRIGGER droplet_count_state",
            "DROP TRIGGER droplet_label_count_insert",
            "DROP TRIGGER droplet_label_count_delete",
            "DROP TRIGGER droplet_label_count_update",
        ]
        .map(String::from)
        .to_vec()
    } else {
        [
            "DROP TRIGGER droplet_count_rows ON droplets",
            "DROP TRIGGER droplet_count_state ON droplets",
            "DROP TRIGGER droplet_label_count_rows ON droplet_labels",
            "DROP TRIGGER droplet_label_count_change ON droplet_labels",
            "DROP FUNCTION droplet_count_track()",
            "DROP FUNCTION droplet_label_count_track()",
        ]
        .map(String::from)
        .to_vec()
    };
    all.extend(
        [
            "DROP TABLE droplet_count_deltas",
            "DROP TABLE droplet_label_count_deltas",
            "DROP TABLE droplet_label_key_count_deltas",
            "CREATE TABLE droplet_tallies (
                key1 TEXT NOT NULL, value1 TEXT NOT NULL, key2 TEXT NOT NULL,
                value2 TEXT NOT NULL, state TEXT NOT NULL, n BIGINT NOT NULL,
                PRIMARY KEY (key1, value1, key2, value2, state))",
            // The totals that came to nothing, which compaction drops.
            "CREATE INDEX droplet_tallies_zero ON droplet_tallies (key1, value1, key2, value2)
                WHERE n = 0",
            "CREATE TABLE droplet_tally_deltas (
                key1 TEXT NOT NULL, value1 TEXT NOT NULL, key2 TEXT NOT NULL,
                value2 TEXT NOT NULL, state TEXT NOT NULL, n BIGINT NOT NULL)",
            "CREATE INDEX droplet_tally_deltas_group
                ON droplet_tally_deltas (key1, value1, key2, value2, state)",
            "CREATE TABLE droplets_with_many_labels (droplet_guid TEXT PRIMARY KEY)",
        ]
        .map(String::from),
    );
    all.extend(if sqlite { sqlite_triggers() } else { postgres_triggers() });
    all.extend(fill(sqlite));
    if !sqlite {
        all.extend(previous_counters());
    }
    all
}

/// The totals, from what the tables hold now that the triggers keep them.
fn fill(sqlite: bool) -> Vec<String> {
    let labels = "SELECT l.droplet_guid, l.key, l.value, d.state
        FROM droplet_labels l JOIN droplets d ON d.guid = l.droplet_guid";
    let many = format!(
        "SELECT droplet_guid FROM droplet_labels GROUP BY droplet_guid
         HAVING COUNT(*) > {PAIRED_LABELS}"
    );
    let buckets = |key: &str, time: &str| {
        format!(
            "INSERT INTO droplet_tallies (key1, value1, key2, value2, state, n)
             SELECT '{key}', {bucket}, '', '', state, COUNT(*) FROM droplets
             GROUP BY {bucket}, state",
            bucket = bucket(sqlite, time)
        )
    };
    vec![
        "INSERT INTO droplet_tallies (key1, value1, key2, value2, state, n)
         SELECT '', '', '', '', state, COUNT(*) FROM droplets GROUP BY state"
            .to_owned(),
        buckets("@created", "created_at"),
        buckets("@updated", "updated_at"),
        format!(
            "INSERT INTO droplet_tallies (key1, value1, key2, value2, state, n)
             SELECT key, value, '', '', state, COUNT(*) FROM ({labels}) l GROUP BY key, value, state
             UNION ALL SELECT key, '*', '', '', state, COUNT(*) FROM ({labels}) l
                GROUP BY key, state"
        ),
        format!(
            "INSERT INTO droplets_with_many_labels (droplet_guid)
             SELECT droplet_guid FROM ({many}) m WHERE droplet_guid IN (SELECT guid FROM droplets)"
        ),
        format!(
            "INSERT INTO droplet_tallies (key1, value1, key2, value2, state, n)
             SELECT a.key, a.value, b.key, b.value, a.state, COUNT(*)
             FROM (SELECT droplet_guid, key, value, state FROM ({labels}) l
                   UNION ALL SELECT droplet_guid, key, '*', state FROM ({labels}) l) a
             JOIN (SELECT droplet_guid, key, value FROM droplet_labels
                   UNION ALL SELECT droplet_guid, key, '*' FROM droplet_labels) b
                ON b.droplet_guid = a.droplet_guid AND a.key < b.key
             WHERE a.droplet_guid NOT IN (SELECT droplet_guid FROM droplets_with_many_labels)
             GROUP BY a.key, a.value, b.key, b.value, a.state"
        ),
    ]
}

/// PostgreSQL: migration 8's counter tables as views, as replicas of the previous version read
/// them (a sum per group).
fn previous_counters() -> Vec<String> {
    let view = |name: &str, columns: &str, condition: &str| {
        format!(
            "CREATE VIEW {name} AS
             SELECT {columns}, n, CAST(0 AS BIGINT) AS fresh FROM droplet_tallies WHERE {condition}
             UNION ALL SELECT {columns}, n, 0 FROM droplet_tally_deltas WHERE {condition}"
        )
    };
    vec![
        view("droplet_count_deltas", "state", "key1 = ''"),
        view(
            "droplet_label_count_deltas",
            "key1 AS key, value1 AS value",
            "key1 NOT IN ('', '@created', '@updated') AND value1 <> '*' AND key2 = ''",
        ),
        view(
            "droplet_label_key_count_deltas",
            "key1 AS key",
            "key1 NOT IN ('', '@created', '@updated') AND value1 = '*' AND key2 = ''",
        ),
    ]
}
