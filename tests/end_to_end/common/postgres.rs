//! PostgreSQL for the tests that need it: a fresh database per server (or per group of
//! replicas), dropped when the last server using it goes, and replicas that share one database
//! and one S3 bucket.

use std::process::Command;

use droplet_test_s3_server::S3Server;
use tempfile::TempDir;

/// The lease (`lease_secs`) of servers on PostgreSQL in tests.
pub(super) const TEST_LEASE_SECS: u64 = 2;

/// Which metadata database `TestServer::start` gives a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Backend {
    Sqlite,
    Postgres,
}

thread_local! {
    pub(super) static BACKEND: std::cell::Cell<Backend> = const { std::cell::Cell::new(Backend::Sqlite) };
}

/// Runs a test (a `#[tokio::test]` function of another module) with every server it starts on a
/// fresh PostgreSQL database of its own. A `#[tokio::test]` runs its body on the calling thread,
/// so a thread-local reaches `TestServer::start`.
pub fn on_postgres(test: fn()) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            BACKEND.set(Backend::Sqlite);
        }
    }
    BACKEND.set(Backend::Postgres);
    let _reset = Reset;
    test();
}

/// What replicas share: a database, and for more than one replica a directory holding the
/// blob directory (`blobs/`) and the data directory (`data/`).
pub(super) struct SharedStorage {
    pub(super) database: PgDatabase,
    /// The bucket's server, stopped before the directory it keeps the bucket in goes.
    pub(super) s3: Option<S3Server>,
    pub(super) dir: Option<TempDir>,
}

/// A fresh PostgreSQL database, `droplet_test_<uuid>`, dropped when the last server using it
/// goes. The administrative connection is `DROPLET_TEST_POSTGRES`, by default
/// `postgres://postgres@127.0.0.1:5432/test`; it needs `psql`.
pub(super) struct PgDatabase {
    name: String,
    pub(super) url: String,
}

impl PgDatabase {
    pub(super) fn create() -> Self {
        let name = format!("droplet_test_{}", uuid::Uuid::new_v4().simple());
        if let Err(error) = psql(&format!("CREATE DATABASE {name}")) {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            panic!(
                "this test needs PostgreSQL, and creating a database failed: {error}\n\
                 PostgreSQL must accept `psql {}` (set DROPLET_TEST_POSTGRES to another \
                 administrative URL); start the local cluster with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`.{}",
                admin_url(),
                if ci { " CI=true: PostgreSQL is required in CI." } else { "" }
            );
        }
        let admin = admin_url();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
        PgDatabase { url: format!("{base}/{name}"), name }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Err(error) = psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)) {
            eprintln!("dropping the test database {}: {error}", self.name);
        }
    }
}

fn admin_url() -> String {
    std::env::var("DROPLET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Runs one SQL statement through `psql` on the administrative connection.
fn psql(sql: &str) -> Result<(), String> {
    let output = Command::new("psql")
        .arg(admin_url())
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .map_err(|e| format!("running psql: {e}"))?;
    match output.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
    }
}
