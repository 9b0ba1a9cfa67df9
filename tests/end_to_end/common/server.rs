//! The server under test: a `droplet-server serve` child process on a temporary data directory,
//! started, killed, restarted and stopped as a test needs, with its log kept for failures.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use droplet_test_s3_server::S3Server;
use tempfile::TempDir;

use super::assertions::DEADLINE;
use super::postgres::{BACKEND, Backend, PgDatabase, SharedStorage, TEST_LEASE_SECS};

/// A `droplet-server serve` child process. Its temporary directory holds the data directory
/// (`data/`), the configuration file and the server's log, which is printed when a test fails.
pub struct TestServer {
    pub(super) root: TempDir,
    pub(super) config: Option<PathBuf>,
    /// Environment variables of the process beside the configuration (faults to inject).
    pub(super) env: Vec<(String, String)>,
    child: Child,
    pub addr: SocketAddr,
    /// `http://ADDR`: the base of every link the server hands out.
    pub base_url: String,
    /// The PostgreSQL database (and blob directory) this server shares with its replicas, if it
    /// runs on PostgreSQL; the last server to go drops the database.
    pub(super) shared: Option<Arc<SharedStorage>>,
}

impl TestServer {
    /// A server on its embedded defaults (development token key, SQLite, local blobs); on a fresh
    /// PostgreSQL database instead when the test runs through [`on_postgres`].
    pub fn start() -> Self {
        Self::launch(None)
    }

    /// A server with this TOML configuration file (plus, through [`on_postgres`], a fresh
    /// PostgreSQL database).
    pub fn start_with_config(toml: &str) -> Self {
        Self::launch(Some(toml))
    }

    /// `count` servers acting as one, started all at once: replicas on one fresh PostgreSQL
    /// database, one S3 bucket (on an S3 server of the test's own) and one data directory (for
    /// the keys that sign tokens and URLs), each with its own configuration file and log.
    pub fn start_replicas(count: usize) -> Vec<Self> {
        let dir = tempfile::Builder::new().prefix("droplet-e2e-shared-").tempdir().expect("dir");
        // The keys exist before the replicas race to start.
        std::fs::create_dir_all(dir.path().join("data")).expect("shared data directory");
        for key in ["dev-token-key", "url-signing-key"] {
            let secret = hex::encode(rand::random::<[u8; 32]>());
            std::fs::write(dir.path().join("data").join(key), secret).expect("writing a key");
        }
        let s3 = S3Server::start(&dir.path().join("s3"));
        let shared = Arc::new(SharedStorage {
            database: PgDatabase::create(),
            s3: Some(s3),
            dir: Some(dir),
        });
        std::thread::scope(|scope| {
            let starting: Vec<_> = (0..count)
                .map(|_| scope.spawn(|| Self::launch_on(None, Some(shared.clone()), Vec::new())))
                .collect();
            starting.into_iter().map(|replica| replica.join().expect("a replica")).collect()
        })
    }

    /// A server with this configuration and these environment variables, such as
    /// `DROPLET_TEST_PANIC_IN` (the faults a debug build injects; see the server's `faults.rs`).
    pub fn start_with_env(toml: &str, env: &[(&str, &str)]) -> Self {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Self::launch_with(Some(toml), env)
    }

    fn launch(toml: Option<&str>) -> Self {
        Self::launch_with(toml, Vec::new())
    }

    fn launch_with(toml: Option<&str>, env: Vec<(String, String)>) -> Self {
        let shared = (BACKEND.get() == Backend::Postgres).then(|| {
            Arc::new(SharedStorage { database: PgDatabase::create(), s3: None, dir: None })
        });
        Self::launch_on(toml, shared, env)
    }

    pub(super) fn launch_on(
        toml: Option<&str>,
        shared: Option<Arc<SharedStorage>>,
        env: Vec<(String, String)>,
    ) -> Self {
        let root = tempfile::Builder::new().prefix("droplet-e2e-").tempdir().expect("temp dir");
        // Keys the storage needs go first, before any table of the test's own configuration.
        let mut text = String::new();
        if let Some(shared) = &shared {
            // A short lease, so that a killed server's jobs are settled within the test.
            text.push_str(&format!(
                "database_url = {:?}\nlease_secs = {TEST_LEASE_SECS}\n",
                shared.database.url
            ));
            if let Some(s3) = &shared.s3 {
                text.push_str(&s3.blobstore_dotted_keys());
            }
        }
        text.push_str(toml.unwrap_or(""));
        let config = (!text.is_empty()).then(|| {
            let path = root.path().join("config.toml");
            std::fs::write(&path, text).expect("writing the configuration");
            path
        });
        let data_dir = data_dir(root.path(), shared.as_deref());
        let (child, addr) = spawn(root.path(), &data_dir, config.as_deref(), &env, ANY_PORT);
        let base_url = format!("http://{addr}");
        TestServer { root, config, env, child, addr, base_url, shared }
    }

    /// The rows of one SQL query on this server's PostgreSQL database, one line per row and
    /// columns separated by `|`.
    pub fn query(&self, sql: &str) -> String {
        let shared = self.shared.as_ref().expect("a server on PostgreSQL");
        let output = Command::new("psql")
            .arg(&shared.database.url)
            .args(["-v", "ON_ERROR_STOP=1", "-qtA", "-c", sql])
            .output()
            .expect("running psql");
        assert!(output.status.success(), "psql: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("UTF-8").trim().to_owned()
    }

    /// `kill -9` the server, for good.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `kill -9` the server and start a new one on the same data directory and configuration.
    /// The new process listens on another port.
    pub fn kill_and_restart(&mut self) {
        self.restart(ANY_PORT);
    }

    /// `kill -9` the server and start a new one as [`Self::kill_and_restart`] does, listening on
    /// the same address: the URLs it handed out stay valid. With `env` in place of the faults
    /// it was started with.
    pub fn kill_and_restart_in_place(&mut self, env: &[(&str, &str)]) {
        self.env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.restart(&self.addr.to_string());
    }

    fn restart(&mut self, bind: &str) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let config = self.config.as_deref();
        let (child, addr) = spawn(self.root.path(), &self.data_dir(), config, &self.env, bind);
        self.child = child;
        self.addr = addr;
        self.base_url = format!("http://{addr}");
    }

    /// Sends SIGTERM to the server.
    pub fn sigterm(&self) {
        let status = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        assert!(status.expect("running kill").success(), "kill -TERM failed");
    }

    /// Waits for the server process to exit by itself; false if it is still running after `limit`.
    pub fn wait_for_exit(&mut self, limit: Duration) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if self.child.try_wait().expect("try_wait").is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn data_dir(&self) -> PathBuf {
        data_dir(self.root.path(), self.shared.as_deref())
    }

    /// A scratch directory for the test's own files, outside the data directory.
    pub fn scratch(&self) -> PathBuf {
        let path = self.root.path().join("scratch");
        std::fs::create_dir_all(&path).expect("scratch dir");
        path
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Set E2E_SERVER_LOG=1 to see the log of passing tests too.
        if std::thread::panicking() || std::env::var_os("E2E_SERVER_LOG").is_some() {
            eprintln!("---- droplet-server log ----\n{}", self.log());
        }
    }
}

/// The data directory of a server whose own directory is `root`.
pub(super) fn data_dir(root: &Path, shared: Option<&SharedStorage>) -> PathBuf {
    match shared.and_then(|shared| shared.dir.as_ref()) {
        Some(dir) => dir.path().join("data"),
        None => root.join("data"),
    }
}

/// The address a server binds when any port will do.
const ANY_PORT: &str = "127.0.0.1:0";

/// Starts `droplet-server serve` on `bind` and waits for its `listening on` line.
pub(super) fn spawn(
    root: &Path,
    data_dir: &Path,
    config: Option<&Path>,
    env: &[(String, String)],
    bind: &str,
) -> (Child, SocketAddr) {
    let log_path = root.join("server.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).expect("log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_droplet-server"));
    command.arg("serve").arg("--bind").arg(bind).arg("--data-dir").arg(data_dir);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    // The server reads every `DROPLET_<KEY>` variable too; the test alone decides.
    for (variable, _) in std::env::vars_os() {
        if variable.to_string_lossy().starts_with("DROPLET_") {
            command.env_remove(variable);
        }
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("starting droplet-server");
    // A thread reads stdout to its end, so the server never blocks on a full pipe.
    let stdout = child.stdout.take().expect("stdout");
    let (first_line, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = first_line.send(line);
        }
        lines.for_each(drop);
    });
    let line = match receiver.recv_timeout(DEADLINE) {
        Ok(line) => line,
        Err(error) => {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("droplet-server did not start ({error}); its log:\n{log}");
        }
    };
    let addr = line
        .strip_prefix("listening on http://")
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from droplet-server: {line:?}"));
    (child, addr)
}
