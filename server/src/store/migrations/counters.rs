//! Migration 8, in each backend's dialect: the list indexes, and the counters that give a list's
//! total without counting rows.
//!
//! The counters are append-only: a trigger on `droplets` adds a row `(state, +1/-1)` to
//! `droplet_count_deltas` for every droplet inserted, deleted or changing state, and triggers on
//! `droplet_labels` do the same per label value and per label key. A count is the sum of its
//! rows. Writers only ever insert, so concurrent writes (and replicas) never wait on, or
//! deadlock over, a shared counter row; `MetadataStore::compact_counts` folds the new rows
//! (`fresh = 1`) into one row per group every second, so a sum reads a handful of rows.
//!
//! The triggers are created before the counters are filled from the tables, in the migration's
//! one transaction. On PostgreSQL creating a trigger locks the table against writes until that
//! transaction commits, so replicas still running the previous version (which know nothing of
//! counters) wait a moment and cannot write a droplet that the fill misses or counts twice.

/// A statement for both databases or for one.
pub(super) enum Step {
    Both(&'static str),
    Sqlite(&'static str),
    Postgres(&'static str),
}

use Step::{Both, Postgres, Sqlite};

pub(super) const STEPS: &[Step] = &[
    // Every order a list takes, with the guid as tie-breaker (timestamps are seconds), so that
    // a page is a walk of an index; and each with the state in front, for `states` filters.
    Both("CREATE INDEX droplets_created ON droplets (created_at, guid)"),
    Both("CREATE INDEX droplets_updated ON droplets (updated_at, guid)"),
    Both("CREATE INDEX droplets_state_created ON droplets (state, created_at, guid)"),
    Both("CREATE INDEX droplets_state_updated ON droplets (state, updated_at, guid)"),
    // The recovery sweep looks for upload claims every half lease.
    Both(
        "CREATE INDEX droplets_upload_claims ON droplets (upload_claim)
        WHERE upload_claim IS NOT NULL",
    ),
    // A selector's droplets from the index alone (the index it replaces led to the table).
    Both("CREATE INDEX droplet_labels_selector ON droplet_labels (key, value, droplet_guid)"),
    Both("DROP INDEX droplet_labels_key_value"),
    Both(
        "CREATE TABLE droplet_count_deltas (
        state TEXT NOT NULL, n BIGINT NOT NULL, fresh BIGINT NOT NULL)",
    ),
    Both("CREATE INDEX droplet_count_deltas_state ON droplet_count_deltas (state)"),
    Both(
        "CREATE TABLE droplet_label_count_deltas (
        key TEXT NOT NULL, value TEXT NOT NULL, n BIGINT NOT NULL, fresh BIGINT NOT NULL)",
    ),
    Both(
        "CREATE INDEX droplet_label_count_deltas_value ON droplet_label_count_deltas (key, value)",
    ),
    Both(
        "CREATE TABLE droplet_label_key_count_deltas (
        key TEXT NOT NULL, n BIGINT NOT NULL, fresh BIGINT NOT NULL)",
    ),
    Both("CREATE INDEX droplet_label_key_count_deltas_key ON droplet_label_key_count_deltas (key)"),
    // What compaction looks for: the rows added since it last ran (`fresh`: 1; 2 while SQLite
    // compacts).
    Both("CREATE INDEX droplet_count_deltas_fresh ON droplet_count_deltas (fresh)"),
    Both("CREATE INDEX droplet_label_count_deltas_fresh ON droplet_label_count_deltas (fresh)"),
    Both(
        "CREATE INDEX droplet_label_key_count_deltas_fresh ON droplet_label_key_count_deltas (fresh)",
    ),
    Sqlite(
        "CREATE TRIGGER droplet_count_insert AFTER INSERT ON droplets BEGIN
        INSERT INTO droplet_count_deltas (state, n, fresh) VALUES (NEW.state, 1, 1);
    END",
    ),
    Sqlite(
        "CREATE TRIGGER droplet_count_delete AFTER DELETE ON droplets BEGIN
        INSERT INTO droplet_count_deltas (state, n, fresh) VALUES (OLD.state, -1, 1);
    END",
    ),
    Sqlite(
        "CREATE TRIGGER droplet_count_state AFTER UPDATE OF state ON droplets
        WHEN OLD.state <> NEW.state BEGIN
        INSERT INTO droplet_count_deltas (state, n, fresh)
            VALUES (OLD.state, -1, 1), (NEW.state, 1, 1);
    END",
    ),
    Sqlite(
        "CREATE TRIGGER droplet_label_count_insert AFTER INSERT ON droplet_labels BEGIN
        INSERT INTO droplet_label_count_deltas (key, value, n, fresh)
            VALUES (NEW.key, NEW.value, 1, 1);
        INSERT INTO droplet_label_key_count_deltas (key, n, fresh) VALUES (NEW.key, 1, 1);
    END",
    ),
    Sqlite(
        "CREATE TRIGGER droplet_label_count_delete AFTER DELETE ON droplet_labels BEGIN
        INSERT INTO droplet_label_count_deltas (key, value, n, fresh)
            VALUES (OLD.key, OLD.value, -1, 1);
        INSERT INTO droplet_label_key_count_deltas (key, n, fresh) VALUES (OLD.key, -1, 1);
    END",
    ),
    Sqlite(
        "CREATE TRIGGER droplet_label_count_update AFTER UPDATE OF key, value ON droplet_labels
    BEGIN
        INSERT INTO droplet_label_count_deltas (key, value, n, fresh)
            VALUES (OLD.key, OLD.value, -1, 1), (NEW.key, NEW.value, 1, 1);
        INSERT INTO droplet_label_key_count_deltas (key, n, fresh)
            VALUES (OLD.key, -1, 1), (NEW.key, 1, 1);
    END",
    ),
    Postgres(
        "CREATE FUNCTION droplet_count_track() RETURNS trigger LANGUAGE plpgsql AS $body$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO droplet_count_deltas (state, n, fresh) VALUES (OLD.state, -1, 1);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO droplet_count_deltas (state, n, fresh) VALUES (NEW.state, 1, 1);
        END IF;
        RETURN NULL;
    END
    $body$",
    ),
    Postgres(
        "CREATE TRIGGER droplet_count_rows AFTER INSERT OR DELETE ON droplets
        FOR EACH ROW EXECUTE FUNCTION droplet_count_track()",
    ),
    Postgres(
        "CREATE TRIGGER droplet_count_state AFTER UPDATE OF state ON droplets
        FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
        EXECUTE FUNCTION droplet_count_track()",
    ),
    Postgres(
        "CREATE FUNCTION droplet_label_count_track() RETURNS trigger LANGUAGE plpgsql
    AS $body$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO droplet_label_count_deltas (key, value, n, fresh)
                VALUES (OLD.key, OLD.value, -1, 1);
            INSERT INTO droplet_label_key_count_deltas (key, n, fresh) VALUES (OLD.key, -1, 1);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO droplet_label_count_deltas (key, value, n, fresh)
                VALUES (NEW.key, NEW.value, 1, 1);
            INSERT INTO droplet_label_key_count_deltas (key, n, fresh) VALUES (NEW.key, 1, 1);
        END IF;
        RETURN NULL;
    END
    $body$",
    ),
    Postgres(
        "CREATE TRIGGER droplet_label_count_rows AFTER INSERT OR DELETE ON droplet_labels
        FOR EACH ROW EXECUTE FUNCTION droplet_label_count_track()",
    ),
    Postgres(
        "CREATE TRIGGER droplet_label_count_change AFTER UPDATE OF key, value
        ON droplet_labels FOR EACH ROW EXECUTE FUNCTION droplet_label_count_track()",
    ),
    // The counters start from what the tables hold, now that the triggers keep them.
    Both(
        "INSERT INTO droplet_count_deltas (state, n, fresh)
        SELECT state, COUNT(*), 0 FROM droplets GROUP BY state",
    ),
    Both(
        "INSERT INTO droplet_label_count_deltas (key, value, n, fresh)
        SELECT key, value, COUNT(*), 0 FROM droplet_labels GROUP BY key, value",
    ),
    Both(
        "INSERT INTO droplet_label_key_count_deltas (key, n, fresh)
        SELECT key, COUNT(*), 0 FROM droplet_labels GROUP BY key",
    ),
];
