//! The store's own tests' databases: a SQLite file in a temporary directory, or a fresh
//! PostgreSQL database on the server the end-to-end tests use (`DROPLET_TEST_POSTGRES`, by
//! default the local one), dropped at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use droplet_api::DropletState;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use super::MetadataStore;
use super::records::DropletRecord;

pub struct TestDb {
    pub store: MetadataStore,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

fn admin_url() -> String {
    std::env::var("DROPLET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

impl TestDb {
    /// A database brought to schema `version` (the latest with `None`).
    pub async fn sqlite(version: Option<i64>) -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("metadata.db").display());
        let store = open(&url, version).await;
        TestDb { store, _dir: Some(dir), postgres: None }
    }

    pub async fn postgres(version: Option<i64>) -> TestDb {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let admin = admin_url();
        let name = format!("droplet_store_{}", Uuid::new_v4().simple());
        let mut conn = sqlx::AnyConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} (DROPLET_TEST_POSTGRES): {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
        let url = match admin.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("DROPLET_TEST_POSTGRES names no database: {admin}"),
        };
        let store = open(&url, version).await;
        TestDb { store, _dir: None, postgres: Some((admin, name)) }
    }

    /// Drops the PostgreSQL database (a SQLite file goes with its directory).
    pub async fn remove(self) {
        use sqlx::Connection;
        let TestDb { store, postgres, .. } = self;
        store.pool.close().await;
        if let Some((admin, name)) = postgres {
            let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            sqlx::query(&drop).execute(&mut conn).await.unwrap();
        }
    }
}

async fn open(url: &str, version: Option<i64>) -> MetadataStore {
    let store = MetadataStore::open(url, Duration::from_secs(30)).await.unwrap();
    match version {
        Some(version) => store.migrate_to(version).await.unwrap(),
        None => store.migrate().await.unwrap(),
    }
    store
}

/// Droplets of every state, of a few apps, created within a few minutes (so that many share a
/// second), a third of them labelled: `env` (prod, staging, dev), `team` (t1 to t5), and rarely
/// `rare`.
pub fn droplets(n: usize, seed: u64) -> Vec<DropletRecord> {
    let mut rng = StdRng::seed_from_u64(seed);
    let apps: Vec<Uuid> = (0..12).map(|_| Uuid::from_u128(rng.random())).collect();
    let states = [
        DropletState::AwaitingUpload,
        DropletState::ProcessingUpload,
        DropletState::Staged,
        DropletState::Staged,
        DropletState::Failed,
        DropletState::Copying,
    ];
    (0..n)
        .map(|_| {
            let mut labels = BTreeMap::new();
            if rng.random_bool(0.3) {
                if rng.random_bool(0.8) {
                    let env = ["prod", "staging", "dev"][rng.random_range(0..3)];
                    labels.insert("env".to_owned(), env.to_owned());
                }
                if rng.random_bool(0.6) {
                    labels.insert("team".to_owned(), format!("t{}", rng.random_range(1..=5)));
                }
                if rng.random_bool(0.03) {
                    labels.insert("rare".to_owned(), String::new());
                }
            }
            let created_at = 1_700_000_000 + rng.random_range(0..300);
            DropletRecord {
                guid: Uuid::from_u128(rng.random()),
                app_guid: apps[rng.random_range(0..apps.len())],
                state: states[rng.random_range(0..states.len())],
                error: None,
                checksum_sha256: None,
                blob_size: None,
                process_types: BTreeMap::new(),
                labels,
                annotations: BTreeMap::new(),
                created_at,
                updated_at: created_at + rng.random_range(0..200),
            }
        })
        .collect()
}

impl MetadataStore {
    /// The last migration applied.
    pub async fn schema_version(&self) -> i64 {
        let row = sqlx::query("SELECT MAX(version) AS v FROM schema_migrations")
            .fetch_one(&self.pool)
            .await
            .unwrap();
        sqlx::Row::try_get(&row, "v").unwrap()
    }

    /// Inserts droplets with their labels, as creating them would, many rows a statement.
    pub async fn insert_droplets(&self, droplets: &[DropletRecord]) {
        let mut tx = self.pool.begin().await.unwrap();
        for batch in droplets.chunks(400) {
            let rows = (0..batch.len())
                .map(|r| {
                    format!(
                        "({})",
                        (1..=8).map(|c| format!("${}", r * 8 + c)).collect::<Vec<_>>().join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO droplets (guid, app_guid, state, process_types, labels, annotations,
                    created_at, updated_at) VALUES {rows}"
            );
            let mut insert = sqlx::query(&sql);
            for d in batch {
                insert = insert
                    .bind(d.guid.to_string())
                    .bind(d.app_guid.to_string())
                    .bind(d.state.as_str())
                    .bind("{}")
                    .bind(serde_json::to_string(&d.labels).unwrap())
                    .bind("{}")
                    .bind(d.created_at)
                    .bind(d.updated_at);
            }
            insert.execute(&mut *tx).await.unwrap();
            let labels: Vec<(String, &String, &String)> = batch
                .iter()
                .flat_map(|d| d.labels.iter().map(|(k, v)| (d.guid.to_string(), k, v)))
                .collect();
            if labels.is_empty() {
                continue;
            }
            let rows = (0..labels.len())
                .map(|r| format!("(${}, ${}, ${})", r * 3 + 1, r * 3 + 2, r * 3 + 3))
                .collect::<Vec<_>>()
                .join(", ");
            let sql =
                format!("INSERT INTO droplet_labels (droplet_guid, key, value) VALUES {rows}");
            let mut insert = sqlx::query(&sql);
            for (guid, key, value) in labels {
                insert = insert.bind(guid).bind(key.clone()).bind(value.clone());
            }
            insert.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        if !self.single_process {
            // As autovacuum would, after so many rows: the planner's statistics.
            sqlx::query("ANALYZE").execute(&self.pool).await.unwrap();
        }
    }
}
