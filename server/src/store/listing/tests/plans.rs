//! Every list shape's statements, as the plan picks them, explained by the database, so that a
//! change that brings a scan back fails here. SQLite plans without statistics, the same way
//! whatever the data: its plans are held exactly (counts never read a whole table or index;
//! pages walk the order's index with no sort but the page's, or read a counted set). The plans
//! PostgreSQL picks follow its statistics (`cargo xtask bench --only lists` measures them at
//! 500,000 droplets); here every step must have an index to use (`enable_seqscan = off`, under
//! which a sequential scan remains only where no index serves).

use super::super::plan::{self, Count, KnownCounts};
use super::super::query::{DropletFilter, DropletListQuery, LabelRequirement, OrderBy, TimeFilter};
use super::super::sql::Sql;
use super::super::times::time_range;
use crate::store::MetadataStore;
use crate::store::counts::{Counted, counts_statement, range_statement, time_span_statement};
use crate::store::test_support::{TestDb, droplets};

/// A time halfway through the seeded droplets' (`test_support::droplets`).
const MIDDLE: i64 = 1_700_000_150;

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// The shapes a list takes: each filter, each label operator and combinations, each order.
fn shapes() -> Vec<(&'static str, DropletFilter)> {
    use LabelRequirement::*;
    let f = DropletFilter::default;
    let labels = |labels: Vec<LabelRequirement>| DropletFilter { labels, ..f() };
    let guid = uuid::Uuid::nil().to_string();
    vec![
        ("all", f()),
        ("guids", DropletFilter { guids: Some(vec![guid.clone(), guid.clone()]), ..f() }),
        ("app_guids", DropletFilter { app_guids: Some(vec![guid]), ..f() }),
        ("one state", DropletFilter { states: Some(strings(&["STAGED"])), ..f() }),
        ("two states", DropletFilter { states: Some(strings(&["STAGED", "FAILED"])), ..f() }),
        (
            "created after",
            DropletFilter { created_at: vec![TimeFilter::After(MIDDLE + 120)], ..f() },
        ),
        (
            "created between",
            DropletFilter {
                created_at: vec![TimeFilter::AtOrAfter(MIDDLE), TimeFilter::Before(MIDDLE + 20)],
                ..f()
            },
        ),
        (
            "created at",
            DropletFilter { created_at: vec![TimeFilter::Equals(vec![MIDDLE, MIDDLE + 1])], ..f() },
        ),
        (
            "updated within hours, in a state",
            DropletFilter {
                states: Some(strings(&["STAGED"])),
                updated_at: vec![
                    TimeFilter::AtOrAfter(MIDDLE - 9000),
                    TimeFilter::Before(MIDDLE + 9000),
                ],
                ..f()
            },
        ),
        (
            "updated after (ordered by creation: late droplets apart)",
            DropletFilter { updated_at: vec![TimeFilter::AtOrAfter(MIDDLE + 120)], ..f() },
        ),
        (
            "created before (ordered by update: late droplets apart)",
            DropletFilter { created_at: vec![TimeFilter::Before(MIDDLE - 120)], ..f() },
        ),
        (
            "updated before",
            DropletFilter { updated_at: vec![TimeFilter::AtOrBefore(MIDDLE - 120)], ..f() },
        ),
        ("label =", labels(vec![In("env".into(), strings(&["prod"]))])),
        ("label in", labels(vec![In("team".into(), strings(&["t1", "t2"]))])),
        ("label !=", labels(vec![NotIn("env".into(), strings(&["prod"]))])),
        ("label notin", labels(vec![NotIn("team".into(), strings(&["t1", "t2"]))])),
        ("label key", labels(vec![Exists("env".into())])),
        ("label !key", labels(vec![NotExists("env".into())])),
        (
            "label in, key",
            labels(vec![In("team".into(), strings(&["t1", "t2"])), Exists("env".into())]),
        ),
        ("label !a, !b", labels(vec![NotExists("env".into()), NotExists("team".into())])),
        (
            "label =, !=, key",
            labels(vec![
                In("env".into(), strings(&["prod"])),
                NotIn("team".into(), strings(&["t3"])),
                Exists("rare".into()),
            ]),
        ),
        (
            "label !a, !b, !c",
            labels(vec![
                NotExists("env".into()),
                NotExists("team".into()),
                NotExists("rare".into()),
            ]),
        ),
        (
            "label = and state",
            DropletFilter {
                states: Some(strings(&["STAGED"])),
                labels: vec![In("env".into(), strings(&["prod"]))],
                ..f()
            },
        ),
        (
            "label !key and states",
            DropletFilter {
                states: Some(strings(&["STAGED", "FAILED"])),
                labels: vec![NotExists("env".into())],
                ..f()
            },
        ),
        (
            "label key and created after",
            DropletFilter {
                created_at: vec![TimeFilter::After(MIDDLE + 120)],
                labels: vec![Exists("env".into())],
                ..f()
            },
        ),
    ]
}

/// Counters that make the plan pick each of its statements in turn: label sets smaller than
/// anything else, then states that are.
fn knowns(filter: &DropletFilter, sqlite: bool) -> [KnownCounts; 2] {
    let labelled = |n| vec![n; filter.labels.len()];
    let all = 1_000_000;
    let some_states = |n| if filter.states.is_some() { n } else { all };
    let known = |in_states, labelled: Vec<u64>| KnownCounts {
        sqlite,
        all,
        in_states,
        labelled_in_states: labelled.clone(),
        labelled,
        // Two requirements' total is known; more are counted.
        both: (filter.labels.len() == 2).then_some(5),
        passed: 0,
        in_a_day: 100,
    };
    [known(some_states(200_000), labelled(10)), known(some_states(10), labelled(900_000))]
}

/// The database's plan of a statement, one line per step.
async fn explain(store: &MetadataStore, sql: &Sql) -> Vec<String> {
    let mut conn = store.pool.acquire().await.unwrap();
    let prefix = if store.single_process {
        "EXPLAIN QUERY PLAN "
    } else {
        sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await.unwrap();
        "EXPLAIN "
    };
    let rows = sql.prefixed(prefix).query().fetch_all(&mut *conn).await.unwrap();
    let column = if store.single_process { "detail" } else { "QUERY PLAN" };
    rows.iter().map(|row| sqlx::Row::try_get::<String, _>(row, column).unwrap()).collect()
}

/// The steps that read a whole table or index: SQLite's `SCAN` of a table (not of a subquery's
/// rows), PostgreSQL's `Seq Scan`.
fn full_scans(steps: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for step in steps {
        let text = step.trim_start_matches([' ', '-', '>']);
        let table = text.strip_prefix("SCAN ").map(|rest| rest.split(' ').next().unwrap_or(""));
        let tables = ["d", "o", "l", "droplets", "droplet_labels"];
        let counters = ["droplet_tallies", "droplet_tally_deltas"];
        if table.is_some_and(|t| tables.contains(&t) || counters.contains(&t)) {
            found.push(text.to_owned());
        }
        if text.starts_with("Seq Scan") {
            found.push(text.to_owned());
        }
    }
    found
}

/// How many steps sort (in SQLite, into a temporary b-tree).
fn sorts(steps: &[String]) -> usize {
    let sorting = |s: &&String| {
        let text = s.trim_start_matches([' ', '-', '>']);
        text.contains("TEMP B-TREE FOR ORDER BY")
            || text.starts_with("Sort  ")
            || text.starts_with("Incremental Sort  ")
    };
    steps.iter().filter(sorting).count()
}

async fn every_shape_is_served_by_an_index(db: TestDb) {
    // Enough droplets for PostgreSQL's planner to plan as for a large table.
    db.store.insert_droplets(&droplets(30_000, 3)).await;
    let mut failures = Vec::new();
    let mut sources = std::collections::BTreeSet::new();
    for (name, filter) in shapes() {
        if let Some(range) = time_range(&filter) {
            let sql = range_statement(db.store.single_process, &range).unwrap();
            let steps = explain(&db.store, &sql).await;
            if !full_scans(&steps).is_empty() {
                failures.push(format!("range of {name}: {}\n  {}", sql.text, steps.join("\n  ")));
            }
        }
        for known in knowns(&filter, db.store.single_process) {
            if let Count::Query(sql) | Count::AllBut(_, sql) = plan::count(&filter, &known) {
                let steps = explain(&db.store, &sql).await;
                if !full_scans(&steps).is_empty() {
                    failures.push(format!(
                        "count of {name}: {}\n  {}",
                        sql.text,
                        steps.join("\n  ")
                    ));
                }
            }
            // Dense matches, for a walk; sparse ones, for a set.
            let pages = [(OrderBy::CreatedAt, false), (OrderBy::UpdatedAt, true)]
                .into_iter()
                .flat_map(|order| [(order, 100, 150_000), (order, 0, 40)]);
            for ((order_by, descending), offset, total) in pages {
                let query = DropletListQuery {
                    filter: filter.clone(),
                    page: offset / 50 + 1,
                    per_page: 50,
                    order_by,
                    descending,
                };
                let source = plan::source(&query, offset, total, &known);
                sources.insert(format!("{source:?}"));
                let sql = plan::page(&query, offset, total, &known);
                let steps = explain(&db.store, &sql).await;
                let scans = full_scans(&steps);
                // A page walks the order's index, or reads a set and sorts it: a full read of
                // an index is the walk, and then the one sort is the page's.
                let walked = |s: &String| {
                    ["created", "updated", "state_"]
                        .iter()
                        .any(|i| s.contains(&format!("droplets_{i}")))
                };
                let fine = if source == plan::Source::Arms {
                    // Each part is a range of an index; the late part's is the late droplets'.
                    scans.is_empty() && steps.iter().any(|s| s.contains("droplets_late_"))
                } else {
                    scans.iter().all(walked) && (scans.is_empty() || sorts(&steps) <= 1)
                };
                if !fine {
                    failures.push(format!(
                        "page of {name} by {order_by:?} ({source:?}): {}\n  {}",
                        sql.text,
                        steps.join("\n  ")
                    ));
                }
            }
        }
    }
    // What the counters are asked: droplets in states, with a label, with two.
    let states = strings(&["STAGED", "FAILED"]);
    let values = strings(&["prod", "dev"]);
    let (env, team) = (("env", Some(&values[..])), ("team", None));
    let sets = [
        Counted { labels: vec![], states: None },
        Counted { labels: vec![], states: Some(&states) },
        Counted { labels: vec![env], states: Some(&states) },
        Counted { labels: vec![env, team], states: None },
        Counted { labels: vec![team, env], states: Some(&states) },
    ];
    for column in ["created_at", "updated_at"] {
        let sql = Sql::new(db.store.single_process).push(&time_span_statement(column)).clone();
        let steps = explain(&db.store, &sql).await;
        if !full_scans(&steps).is_empty() {
            failures.push(format!("time span: {}\n  {}", sql.text, steps.join("\n  ")));
        }
    }
    // What the consistency check asks of the blob writes uploads recorded.
    for statement in [
        "SELECT pending_blob FROM droplets WHERE pending_blob IS NOT NULL",
        "SELECT guid FROM droplets WHERE pending_blob = 'x'",
    ] {
        let sql = Sql::new(db.store.single_process).push(statement).clone();
        let steps = explain(&db.store, &sql).await;
        if !full_scans(&steps).is_empty() {
            failures.push(format!("pending blobs: {}\n  {}", sql.text, steps.join("\n  ")));
        }
    }
    let sql = counts_statement(db.store.single_process, &sets);
    let steps = explain(&db.store, &sql).await;
    let scans = full_scans(&steps);
    if !scans.is_empty() {
        failures.push(format!("counters: {}\n  {}", sql.text, steps.join("\n  ")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(sources.len(), 6, "every source is planned: {sources:?}");
    db.remove().await;
}

#[tokio::test]
async fn sqlite_serves_every_shape_from_an_index() {
    every_shape_is_served_by_an_index(TestDb::sqlite(None).await).await;
}

#[tokio::test]
async fn postgres_serves_every_shape_from_an_index() {
    every_shape_is_served_by_an_index(TestDb::postgres(None).await).await;
}
