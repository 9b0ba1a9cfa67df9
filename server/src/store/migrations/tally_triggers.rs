//! Migration 9's triggers, in each backend's dialect, written from shared parts: what each
//! change of a droplet or a label row adds to the counters' deltas (see `tallies` for the
//! groups they count).
//!
//! Each change adds delta rows `(group, state, +1/-1)` to `droplet_tally_deltas`: a droplet
//! inserted, deleted or changing state or time, with the groups of its labels and hours, and a
//! label added, removed or changed, in its droplet's state. Writers only ever insert deltas, so
//! concurrent writes never wait on a shared row; `MetadataStore::compact_counts` moves them into
//! the totals every second and leaves the delta table empty. (Migration 8 folded deltas into rows
//! of the same table, which left a burst of writes' dead rows beneath the folded ones, where
//! PostgreSQL's vacuum could not give the pages back and every count read them.)
//!
//! A label trigger reads the droplet's other labels, so it runs *before* its row changes: both
//! databases then show it the rows changed so far by its statement, one row at a time (a
//! PostgreSQL `AFTER` row trigger would see them all changed at once). It also reads the
//! droplet's state, on PostgreSQL with a row lock, so that label changes of one droplet, and a
//! state change, take turns. Labels are written after their droplet and deleted after it (as
//! `store::droplets` does): a deleted droplet takes its labels' groups with it, and the label
//! rows deleted after it find no droplet and count nothing.

use crate::store::counts::{BUCKET_SECONDS, PAIRED_LABELS};

/// The label groups of droplet `guid`, as rows `(key1, value1, key2, value2)`: one per label
/// and value, one per label key, and the pairs when `paired` holds.
fn droplet_groups(guid: &str, paired: &str) -> String {
    let sides = sides(guid, None);
    format!(
        "SELECT key AS key1, value AS value1, '' AS key2, '' AS value2
            FROM droplet_labels WHERE droplet_guid = {guid}
         UNION ALL SELECT key, '*', '', '' FROM droplet_labels WHERE droplet_guid = {guid}
         UNION ALL {pairs}",
        pairs = pairs(&sides, &sides, "a.k < b.k", paired)
    )
}

/// Each label of droplet `guid` (but one with key `except`) as rows `(k, v)`: once with its
/// value and once with `*`.
fn sides(guid: &str, except: Option<&str>) -> String {
    let except = except.map(|key| format!(" AND key <> {key}")).unwrap_or_default();
    format!(
        "SELECT key AS k, value AS v FROM droplet_labels WHERE droplet_guid = {guid}{except}
         UNION ALL SELECT key, '*' FROM droplet_labels WHERE droplet_guid = {guid}{except}"
    )
}

/// One label's sides.
fn label_sides(key: &str, value: &str) -> String {
    format!("SELECT {key} AS k, {value} AS v UNION ALL SELECT {key}, '*'")
}

/// The pair groups of sides `a` and `b` joined `on`, key order first, if `when` holds.
fn pairs(a: &str, b: &str, on: &str, when: &str) -> String {
    format!(
        "SELECT CASE WHEN a.k < b.k THEN a.k ELSE b.k END AS key1,
            CASE WHEN a.k < b.k THEN a.v ELSE b.v END AS value1,
            CASE WHEN a.k < b.k THEN b.k ELSE a.k END AS key2,
            CASE WHEN a.k < b.k THEN b.v ELSE a.v END AS value2
         FROM ({a}) a JOIN ({b}) b ON {on} WHERE {when}"
    )
}

/// How many labels droplet `guid` has (counting no further than one past the pairing limit
/// needs).
fn label_count(guid: &str) -> String {
    format!(
        "(SELECT COUNT(*) FROM (SELECT 1 FROM droplet_labels WHERE droplet_guid = {guid}
            LIMIT {}) c)",
        PAIRED_LABELS + 2
    )
}

/// Adds `groups` to the deltas with `n` (1 or -1), in the state of droplet `guid` (none if it
/// is gone), or in `state` when given.
fn add(groups: &str, n: i32, droplet: DropletState<'_>) -> String {
    let (from, state) = match droplet {
        DropletState::Of(guid) => (format!(" JOIN droplets d ON d.guid = {guid}"), "d.state"),
        DropletState::Is(state) => (String::new(), state),
    };
    format!(
        "INSERT INTO droplet_tally_deltas (key1, value1, key2, value2, state, n)
         SELECT g.key1, g.value1, g.key2, g.value2, {state}, {n}
         FROM ({groups}) g{from}"
    )
}

#[derive(Clone, Copy)]
enum DropletState<'a> {
    Of(&'a str),
    Is(&'a str),
}

/// The statements a trigger runs: the deltas of a label row's change (`BEFORE` it), and of a
/// droplet's (`AFTER` it).
struct Changes {
    label_insert: Vec<String>,
    label_delete: Vec<String>,
    label_update: Vec<String>,
    droplet_insert: Vec<String>,
    droplet_delete: Vec<String>,
    droplet_state: Vec<String>,
    /// A droplet's state or times changing: its time buckets move.
    droplet_times: Vec<String>,
}

fn changes(sqlite: bool) -> Changes {
    let paired = PAIRED_LABELS;
    let single = |key: &str, value: &str| {
        format!(
            "SELECT {key} AS key1, {value} AS value1, '' AS key2, '' AS value2
             UNION ALL SELECT {key}, '*', '', ''"
        )
    };
    let droplet_row = "SELECT '' AS key1, '' AS value1, '' AS key2, '' AS value2";
    let label =
        |row: &str| (format!("{row}.key"), format!("{row}.value"), format!("{row}.droplet_guid"));
    let (new_key, new_value, new_guid) = label("NEW");
    let (old_key, old_value, old_guid) = label("OLD");
    let count = |guid: &str| label_count(guid);
    let with_others = |key: &str, value: &str, guid: &str, except: &str, when: &str| {
        pairs(&label_sides(key, value), &sides(guid, Some(except)), "a.k <> b.k", when)
    };
    let new_state = DropletState::Of(&new_guid);
    let old_state = DropletState::Of(&old_guid);
    let label_insert = vec![
        add(&single(&new_key, &new_value), 1, new_state),
        // Paired with the droplet's other labels while it has few.
        add(
            &with_others(
                &new_key,
                &new_value,
                &new_guid,
                &new_key,
                &format!("{} < {paired}", count(&new_guid)),
            ),
            1,
            new_state,
        ),
        // One too many: its pairs are no longer counted, and it joins those counted one by one.
        add(
            &pairs(
                &sides(&new_guid, None),
                &sides(&new_guid, None),
                "a.k < b.k",
                &format!("{} = {paired}", count(&new_guid)),
            ),
            -1,
            new_state,
        ),
        format!(
            "INSERT INTO droplets_with_many_labels (droplet_guid)
             SELECT {new_guid} WHERE {} = {paired}
                AND EXISTS (SELECT 1 FROM droplets WHERE guid = {new_guid})",
            count(&new_guid)
        ),
    ];
    let label_delete = vec![
        add(&single(&old_key, &old_value), -1, old_state),
        add(
            &with_others(
                &old_key,
                &old_value,
                &old_guid,
                &old_key,
                &format!("{} <= {paired}", count(&old_guid)),
            ),
            -1,
            old_state,
        ),
        // Few enough again: the remaining labels' pairs are counted.
        add(
            &pairs(
                &sides(&old_guid, Some(&old_key)),
                &sides(&old_guid, Some(&old_key)),
                "a.k < b.k",
                &format!("{} = {}", count(&old_guid), paired + 1),
            ),
            1,
            old_state,
        ),
        format!(
            "DELETE FROM droplets_with_many_labels WHERE droplet_guid = {old_guid}
                AND {} = {}",
            count(&old_guid),
            paired + 1
        ),
    ];
    let few = |guid: &str| format!("{} <= {paired}", count(guid));
    let label_update = vec![
        add(&single(&old_key, &old_value), -1, old_state),
        add(
            &with_others(&old_key, &old_value, &old_guid, &old_key, &few(&old_guid)),
            -1,
            old_state,
        ),
        add(&single(&new_key, &new_value), 1, new_state),
        add(&with_others(&new_key, &new_value, &new_guid, &old_key, &few(&new_guid)), 1, new_state),
    ];
    let whole = |guid: &str, state: &str, n: i32| {
        vec![
            add(droplet_row, n, DropletState::Is(state)),
            add(&droplet_groups(guid, &few(guid)), n, DropletState::Is(state)),
        ]
    };
    let buckets = |row: &str, n: i32| {
        let times =
            time_buckets(sqlite, &format!("{row}.created_at"), &format!("{row}.updated_at"));
        add(&times, n, DropletState::Is(&format!("{row}.state")))
    };
    let droplet_insert =
        vec![add(droplet_row, 1, DropletState::Is("NEW.state")), buckets("NEW", 1)];
    let mut droplet_delete = whole("OLD.guid", "OLD.state", -1);
    droplet_delete.push(buckets("OLD", -1));
    droplet_delete
        .push("DELETE FROM droplets_with_many_labels WHERE droplet_guid = OLD.guid".to_owned());
    let mut droplet_state = whole("OLD.guid", "OLD.state", -1);
    droplet_state.extend(whole("NEW.guid", "NEW.state", 1));
    let droplet_times = vec![buckets("OLD", -1), buckets("NEW", 1)];
    Changes {
        label_insert,
        label_delete,
        label_update,
        droplet_insert,
        droplet_delete,
        droplet_state,
        droplet_times,
    }
}

/// The time bucket groups of a droplet with these times: `('@created', bucket)` and
/// `('@updated', bucket)` (`@` begins no label key).
fn time_buckets(sqlite: bool, created_at: &str, updated_at: &str) -> String {
    format!(
        "SELECT '@created' AS key1, {} AS value1, '' AS key2, '' AS value2
         UNION ALL SELECT '@updated', {}, '', ''",
        bucket(sqlite, created_at),
        bucket(sqlite, updated_at)
    )
}

/// The bucket of `time`, as `bucket_value` writes it.
pub(super) fn bucket(sqlite: bool, time: &str) -> String {
    if sqlite {
        format!("printf('%012d', {time} / {BUCKET_SECONDS})")
    } else {
        format!("lpad(CAST({time} / {BUCKET_SECONDS} AS TEXT), 12, '0')")
    }
}

pub(super) fn sqlite_triggers() -> Vec<String> {
    let c = changes(true);
    let trigger = |name: &str, when: &str, body: &[String]| {
        let body: String = body.iter().map(|s| format!("{s};\n")).collect();
        format!("CREATE TRIGGER {name} {when} BEGIN\n{body}END")
    };
    vec![
        trigger("droplet_tally_insert", "AFTER INSERT ON droplets", &c.droplet_insert),
        trigger("droplet_tally_delete", "AFTER DELETE ON droplets", &c.droplet_delete),
        trigger(
            "droplet_tally_state",
            "AFTER UPDATE OF state ON droplets WHEN OLD.state <> NEW.state",
            &c.droplet_state,
        ),
        trigger(
            "droplet_time_tally",
            "AFTER UPDATE OF state, created_at, updated_at ON droplets
            WHEN OLD.state <> NEW.state OR OLD.created_at <> NEW.created_at
                OR OLD.updated_at <> NEW.updated_at",
            &c.droplet_times,
        ),
        trigger("droplet_label_tally_insert", "BEFORE INSERT ON droplet_labels", &c.label_insert),
        trigger("droplet_label_tally_delete", "BEFORE DELETE ON droplet_labels", &c.label_delete),
        trigger(
            "droplet_label_tally_update",
            "BEFORE UPDATE OF key, value ON droplet_labels",
            &c.label_update,
        ),
    ]
}

pub(super) fn postgres_triggers() -> Vec<String> {
    let c = changes(false);
    let branch = |op: &str, body: &[String]| {
        let body: String = body.iter().map(|s| format!("{s};\n")).collect();
        format!("IF TG_OP = '{op}' THEN\n{body}END IF;\n")
    };
    // The droplet row's lock: its label changes, and its state changes, take turns.
    let lock = "IF TG_OP = 'DELETE' THEN
            PERFORM 1 FROM droplets WHERE guid = OLD.droplet_guid FOR NO KEY UPDATE;
        ELSE
            PERFORM 1 FROM droplets WHERE guid = NEW.droplet_guid FOR NO KEY UPDATE;
        END IF;\n";
    let function = |name: &str, body: String| {
        format!(
            "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN\n{body}END\n$body$"
        )
    };
    let droplet = [
        branch("INSERT", &c.droplet_insert),
        branch("DELETE", &c.droplet_delete),
        branch("UPDATE", &c.droplet_state),
    ];
    let label = [
        branch("INSERT", &c.label_insert),
        branch("DELETE", &c.label_delete),
        branch("UPDATE", &c.label_update),
    ];
    vec![
        function("droplet_tally_track", format!("{}RETURN NULL;\n", droplet.concat())),
        "CREATE TRIGGER droplet_tally_rows AFTER INSERT OR DELETE ON droplets
            FOR EACH ROW EXECUTE FUNCTION droplet_tally_track()"
            .to_owned(),
        "CREATE TRIGGER droplet_tally_state AFTER UPDATE OF state ON droplets
            FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
            EXECUTE FUNCTION droplet_tally_track()"
            .to_owned(),
        function(
            "droplet_time_tally_track",
            format!("{}RETURN NULL;\n", branch("UPDATE", &c.droplet_times)),
        ),
        "CREATE TRIGGER droplet_time_tally AFTER UPDATE OF state, created_at, updated_at
            ON droplets FOR EACH ROW
            WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.created_at IS DISTINCT FROM
                NEW.created_at OR OLD.updated_at IS DISTINCT FROM NEW.updated_at)
            EXECUTE FUNCTION droplet_time_tally_track()"
            .to_owned(),
        // A BEFORE trigger's row goes on to be written only if the function returns it.
        function(
            "droplet_label_tally_track",
            format!(
                "{lock}{}IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;\nRETURN NEW;\n",
                label.concat()
            ),
        ),
        "CREATE TRIGGER droplet_label_tally_rows BEFORE INSERT OR DELETE ON droplet_labels
            FOR EACH ROW EXECUTE FUNCTION droplet_label_tally_track()"
            .to_owned(),
        "CREATE TRIGGER droplet_label_tally_change BEFORE UPDATE OF key, value ON droplet_labels
            FOR EACH ROW EXECUTE FUNCTION droplet_label_tally_track()"
            .to_owned(),
    ]
}
