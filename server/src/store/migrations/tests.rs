//! Migration 8 on a database the previous schema built, with droplets, labels and jobs in it:
//! nothing is lost, the counters match the tables, and on PostgreSQL a replica of the previous
//! version that keeps creating droplets during the migration loses nothing and is counted.

use std::collections::BTreeMap;

use sqlx::Row;

use crate::store::MetadataStore;
use crate::store::listing::query::DropletFilter;
use crate::store::listing::{DropletListQuery, LabelRequirement};
use crate::store::records::{JobRecord, UPLOAD_OPERATION};
use crate::store::test_support::{TestDb, droplets};

/// The schema before the counters (migration 8), and the one before their totals (9).
const BEFORE_COUNTERS: i64 = 7;
const BEFORE_TOTALS: i64 = 8;

/// Every row of the tables the previous schema had, as text, in a fixed order.
async fn rows(store: &MetadataStore) -> BTreeMap<&'static str, Vec<String>> {
    let mut tables = BTreeMap::new();
    for (table, columns) in [
        ("droplets", "guid, app_guid, state, labels, annotations, created_at, updated_at"),
        ("droplet_labels", "droplet_guid, key, value"),
        ("jobs", "guid, operation, state, droplet_guid, owner"),
    ] {
        let sql = format!(
            "SELECT {columns} FROM {table} ORDER BY {}",
            columns.split(", ").take(2).collect::<Vec<_>>().join(", ")
        );
        let found = sqlx::query(&sql).fetch_all(&store.pool).await.unwrap();
        let text = found.iter().map(|row| {
            let n = columns.split(", ").count();
            (0..n)
                .map(|i| {
                    row.try_get::<String, _>(i)
                        .or_else(|_| row.try_get::<i64, _>(i).map(|n| n.to_string()))
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join("|")
        });
        tables.insert(table, text.collect());
    }
    tables
}

/// The counters against the tables they count: per state, and per label value, label key and
/// pair of them in each state (pairs only of droplets with few labels), and the droplets with
/// many labels.
async fn assert_counters_match(store: &MetadataStore) {
    let counted = |sql: String| async move {
        let found = sqlx::query(&sql).fetch_all(&store.pool).await.unwrap();
        let pairs = found.iter().map(|row| {
            let n = row.try_get::<i64, _>(1).unwrap_or(1);
            (row.try_get::<String, _>(0).unwrap(), n)
        });
        pairs.filter(|(_, n)| *n != 0).collect::<BTreeMap<_, _>>()
    };
    let counters = counted(
        "SELECT key1 || '|' || value1 || '|' || key2 || '|' || value2 || '|' || state,
            CAST(SUM(n) AS BIGINT)
         FROM (SELECT key1, value1, key2, value2, state, n FROM droplet_tallies
               UNION ALL SELECT key1, value1, key2, value2, state, n FROM droplet_tally_deltas) t
         GROUP BY key1, value1, key2, value2, state"
            .to_owned(),
    )
    .await;
    let sides = "SELECT droplet_guid, key, value FROM droplet_labels
        UNION ALL SELECT droplet_guid, key, '*' FROM droplet_labels";
    let few = format!(
        "(SELECT COUNT(*) FROM droplet_labels c WHERE c.droplet_guid = a.droplet_guid) <= {}",
        crate::store::counts::PAIRED_LABELS
    );
    let bucket = |time: &str| {
        if store.single_process {
            format!("printf('%012d', {time} / 3600)")
        } else {
            format!("lpad(CAST({time} / 3600 AS TEXT), 12, '0')")
        }
    };
    let (created, updated) = (bucket("created_at"), bucket("updated_at"));
    let tables = counted(format!(
        "SELECT '||||' || state, COUNT(*) FROM droplets GROUP BY state
         UNION ALL SELECT '@created|' || {created} || '|||' || state, COUNT(*) FROM droplets
            GROUP BY {created}, state
         UNION ALL SELECT '@updated|' || {updated} || '|||' || state, COUNT(*) FROM droplets
            GROUP BY {updated}, state
         UNION ALL SELECT a.key || '|' || a.value || '|||' || d.state, COUNT(*)
            FROM ({sides}) a JOIN droplets d ON d.guid = a.droplet_guid
            GROUP BY a.key, a.value, d.state
         UNION ALL SELECT a.key || '|' || a.value || '|' || b.key || '|' || b.value || '|'
                || d.state, COUNT(*)
            FROM ({sides}) a JOIN ({sides}) b ON b.droplet_guid = a.droplet_guid AND a.key < b.key
            JOIN droplets d ON d.guid = a.droplet_guid
            WHERE {few}
            GROUP BY a.key, a.value, b.key, b.value, d.state"
    ))
    .await;
    assert_eq!(counters, tables);
    let many = counted("SELECT droplet_guid, 1 FROM droplets_with_many_labels".to_owned()).await;
    let expected = counted(format!(
        "SELECT l.droplet_guid, 1 FROM droplet_labels l JOIN droplets d ON d.guid = l.droplet_guid
         GROUP BY l.droplet_guid HAVING COUNT(*) > {}",
        crate::store::counts::PAIRED_LABELS
    ))
    .await;
    assert_eq!(many, expected);
}

/// Migration 8's counters, read as the previous version reads them, against the tables.
async fn assert_previous_counters_match(store: &MetadataStore) {
    let number = |sql: String| async move {
        let row = sqlx::query(&sql).fetch_one(&store.pool).await.unwrap();
        row.try_get::<i64, _>(0).unwrap()
    };
    let sum = |table: &str, condition: &str| {
        format!("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM {table} WHERE {condition}")
    };
    let count = |table: &str, condition: &str| {
        format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table} WHERE {condition}")
    };
    let pairs = [
        (sum("droplet_count_deltas", "state IN ('STAGED')"), count("droplets", "state = 'STAGED'")),
        (sum("droplet_count_deltas", "1 = 1"), count("droplets", "1 = 1")),
        (
            sum("droplet_label_count_deltas", "key = 'env' AND value IN ('prod')"),
            count("droplet_labels", "key = 'env' AND value = 'prod'"),
        ),
        (
            sum("droplet_label_key_count_deltas", "key = 'team'"),
            count("droplet_labels", "key = 'team'"),
        ),
    ];
    for (counters, table) in pairs {
        assert_eq!(number(counters.clone()).await, number(table).await, "{counters}");
    }
}

async fn migrates_without_losing_anything(db: TestDb) {
    let from_counters = db.store.schema_version().await == BEFORE_TOTALS;
    let store = &db.store;
    let mut before = droplets(500, 5);
    // One that a replica with a slower clock updated "before" its creation, which migration 11
    // brings in line.
    let skewed = &mut before[3];
    skewed.updated_at = skewed.created_at - 30;
    let (skewed, skewed_at) = (skewed.guid.to_string(), skewed.created_at);
    store.insert_droplets(&before).await;
    let mut tx = store.pool.begin().await.unwrap();
    for droplet in before.iter().step_by(7) {
        let job = JobRecord::new(UPLOAD_OPERATION, droplet.guid, droplet.created_at);
        crate::store::jobs::insert_job(&mut tx, &job, store.instance, 0).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut previous_rows = rows(store).await;
    let wrong = format!("|{skewed_at}|{}", skewed_at - 30);
    for row in previous_rows.get_mut("droplets").unwrap() {
        if row.starts_with(&skewed) {
            *row = row.replace(&wrong, &format!("|{skewed_at}|{skewed_at}"));
        }
    }

    // A replica of the previous version goes on creating droplets throughout.
    let writer = (!store.single_process).then(|| {
        let old = store.clone();
        tokio::spawn(async move {
            let mut written = Vec::new();
            for batch in 0..40u64 {
                let more = droplets(5, 100 + batch);
                old.insert_droplets(&more).await;
                written.extend(more);
            }
            written
        })
    });
    store.migrate().await.unwrap();
    let written = match writer {
        Some(writer) => writer.await.unwrap(),
        None => Vec::new(),
    };

    let after = rows(store).await;
    for (table, previous) in &previous_rows {
        let now = &after[table];
        let lost: Vec<&String> = previous.iter().filter(|row| !now.contains(row)).collect();
        assert!(lost.is_empty(), "{table} lost {lost:?}");
    }
    assert_eq!(after["droplets"].len(), before.len() + written.len());
    assert_counters_match(store).await;
    store.compact_counts().await.unwrap();
    assert_counters_match(store).await;
    if from_counters && !store.single_process {
        // Replicas of the previous version read their counters, which stay exact.
        assert_previous_counters_match(store).await;
    }

    // The lists answer from the new indexes and counters.
    let all = [before, written].concat();
    let prod = LabelRequirement::In("env".into(), vec!["prod".into()]);
    let filter = DropletFilter { labels: vec![prod.clone()], ..DropletFilter::default() };
    let query = DropletListQuery { filter, ..DropletListQuery::default() };
    let (total, _) = store.list_droplets(&query).await.unwrap();
    let expected = all.iter().filter(|d| d.labels.get("env").is_some_and(|v| v == "prod"));
    assert_eq!(total, expected.count() as u64);
    let (total, _) = store.list_droplets(&DropletListQuery::default()).await.unwrap();
    assert_eq!(total, all.len() as u64);
    db.remove().await;
}

#[tokio::test]
async fn sqlite_migrates_a_database_from_before_the_counters_without_losing_anything() {
    migrates_without_losing_anything(TestDb::sqlite(Some(BEFORE_COUNTERS)).await).await;
}

#[tokio::test]
async fn sqlite_migrates_a_database_from_before_the_totals_without_losing_anything() {
    migrates_without_losing_anything(TestDb::sqlite(Some(BEFORE_TOTALS)).await).await;
}

#[tokio::test]
async fn postgres_migrates_from_before_the_counters_under_a_running_replica() {
    migrates_without_losing_anything(TestDb::postgres(Some(BEFORE_COUNTERS)).await).await;
}

#[tokio::test]
async fn postgres_migrates_from_before_the_totals_under_a_running_replica() {
    migrates_without_losing_anything(TestDb::postgres(Some(BEFORE_TOTALS)).await).await;
}

/// Creates, label changes, state changes and deletes, compacted or not, keep every counter
/// equal to what it counts; so do droplets gaining and losing many labels.
async fn counters_follow_every_change(db: TestDb) {
    let store = &db.store;
    let all = droplets(300, 9);
    store.insert_droplets(&all).await;
    let relabel = |guid, change: fn(&mut BTreeMap<String, String>)| {
        let apply = move |labels: &BTreeMap<String, String>, annotations: &_| {
            let mut labels = labels.clone();
            change(&mut labels);
            (labels, Clone::clone(annotations))
        };
        async move { store.update_metadata(guid, apply, 2).await.unwrap() }
    };
    fn many(labels: &mut BTreeMap<String, String>) {
        for k in 0..crate::store::counts::PAIRED_LABELS {
            labels.insert(format!("x{k}"), format!("v{}", k % 3));
        }
    }
    let expire = |guid: uuid::Uuid| async move {
        sqlx::query("UPDATE droplets SET state = 'EXPIRED' WHERE guid = $1")
            .bind(guid.to_string())
            .execute(&store.pool)
            .await
            .unwrap();
    };
    for (i, droplet) in all.iter().enumerate().take(200) {
        let delete = || async {
            let job = JobRecord::new(crate::store::records::DELETE_OPERATION, droplet.guid, 1);
            assert!(store.delete_droplet(droplet.guid, &job).await.unwrap());
        };
        match i % 8 {
            0 => delete().await,
            1 => {
                relabel(droplet.guid, |labels| {
                    labels.remove("team");
                    labels.insert("env".into(), format!("e{}", labels.len()));
                })
                .await;
            }
            2 => {
                expire(droplet.guid).await;
                sqlx::query("UPDATE droplets SET updated_at = updated_at + 7200 WHERE guid = $1")
                    .bind(droplet.guid.to_string())
                    .execute(&store.pool)
                    .await
                    .unwrap();
            }
            3 => store.compact_counts().await.unwrap(),
            4 => {
                relabel(droplet.guid, many).await;
            }
            5 => {
                // Many labels, and then few again.
                relabel(droplet.guid, many).await;
                relabel(droplet.guid, |labels| {
                    labels.retain(|key, _| !key.starts_with("x1") && !key.starts_with("x2"))
                })
                .await;
            }
            6 => {
                relabel(droplet.guid, many).await;
                expire(droplet.guid).await;
            }
            _ => {
                relabel(droplet.guid, many).await;
                delete().await;
            }
        }
    }
    assert_counters_match(store).await;
    store.compact_counts().await.unwrap();
    assert_counters_match(store).await;
    db.remove().await;
}

#[tokio::test]
async fn sqlite_counters_follow_every_change() {
    counters_follow_every_change(TestDb::sqlite(None).await).await;
}

#[tokio::test]
async fn postgres_counters_follow_every_change() {
    counters_follow_every_change(TestDb::postgres(None).await).await;
}
