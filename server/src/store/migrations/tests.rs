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

const PREVIOUS: i64 = 7;

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

/// The counters against the tables they count.
async fn assert_counters_match(store: &MetadataStore) {
    let counted = |sql: &'static str| async move {
        let found = sqlx::query(sql).fetch_all(&store.pool).await.unwrap();
        let pairs = found
            .iter()
            .map(|row| (row.try_get::<String, _>(0).unwrap(), row.try_get::<i64, _>(1).unwrap()));
        pairs.filter(|(_, n)| *n != 0).collect::<BTreeMap<_, _>>()
    };
    let pairs = [
        (
            "SELECT state, CAST(SUM(n) AS BIGINT) FROM droplet_count_deltas GROUP BY state",
            "SELECT state, COUNT(*) FROM droplets GROUP BY state",
        ),
        (
            "SELECT key || '=' || value, CAST(SUM(n) AS BIGINT) FROM droplet_label_count_deltas
             GROUP BY key, value",
            "SELECT key || '=' || value, COUNT(*) FROM droplet_labels GROUP BY key, value",
        ),
        (
            "SELECT key, CAST(SUM(n) AS BIGINT) FROM droplet_label_key_count_deltas GROUP BY key",
            "SELECT key, COUNT(*) FROM droplet_labels GROUP BY key",
        ),
    ];
    for (counters, table) in pairs {
        assert_eq!(counted(counters).await, counted(table).await, "{counters}");
    }
}

async fn migrates_without_losing_anything(db: TestDb) {
    let store = &db.store;
    let before = droplets(500, 5);
    store.insert_droplets(&before).await;
    let mut tx = store.pool.begin().await.unwrap();
    for droplet in before.iter().step_by(7) {
        let job = JobRecord::new(UPLOAD_OPERATION, droplet.guid, droplet.created_at);
        crate::store::jobs::insert_job(&mut tx, &job, store.instance, 0).await.unwrap();
    }
    tx.commit().await.unwrap();
    let previous_rows = rows(store).await;

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
async fn sqlite_migrates_a_previous_database_without_losing_anything() {
    migrates_without_losing_anything(TestDb::sqlite(Some(PREVIOUS)).await).await;
}

#[tokio::test]
async fn postgres_migrates_under_a_running_replica_without_losing_anything() {
    migrates_without_losing_anything(TestDb::postgres(Some(PREVIOUS)).await).await;
}

/// Creates, label changes, state changes and deletes, compacted or not, keep every counter
/// equal to what it counts.
async fn counters_follow_every_change(db: TestDb) {
    let store = &db.store;
    let all = droplets(300, 9);
    store.insert_droplets(&all).await;
    for (i, droplet) in all.iter().enumerate().take(120) {
        match i % 4 {
            0 => {
                let job = JobRecord::new(crate::store::records::DELETE_OPERATION, droplet.guid, 1);
                assert!(store.delete_droplet(droplet.guid, &job).await.unwrap());
            }
            1 => {
                let relabel = |labels: &BTreeMap<String, String>, annotations: &_| {
                    let mut labels = labels.clone();
                    labels.remove("team");
                    labels.insert("env".into(), format!("e{i}"));
                    (labels, Clone::clone(annotations))
                };
                store.update_metadata(droplet.guid, relabel, 2).await.unwrap();
            }
            2 => {
                sqlx::query("UPDATE droplets SET state = 'EXPIRED' WHERE guid = $1")
                    .bind(droplet.guid.to_string())
                    .execute(&store.pool)
                    .await
                    .unwrap();
            }
            _ => store.compact_counts().await.unwrap(),
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
