//! The harness: a real `droplet-server` process on a temporary data directory, clients for it,
//! tokens, droplet tarballs, hand-made multipart bodies, and assertions on CF error bodies.

use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use droplet_client::{Client, DropletUploadForm, FilePart, types};
use flate2::Compression;
use flate2::write::GzEncoder;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

use crate::s3_server::{self, S3Server};

pub const READ: &str = "cloud_controller.read";
pub const WRITE: &str = "cloud_controller.write";
pub const ADMIN: &str = "cloud_controller.admin";
pub const ADMIN_READ_ONLY: &str = "cloud_controller.admin_read_only";
pub const GLOBAL_AUDITOR: &str = "cloud_controller.global_auditor";
/// `iss` and `aud` the server expects when it runs on its development key.
pub const DEV_ISSUER: &str = "droplet-server-dev";
pub const AUDIENCE: &str = "cloud_controller";

/// The 422 of a droplet that cannot take bits (again).
pub const ONLY_ONCE: &str =
    "Droplet may be uploaded only once. Create a new droplet to upload bits.";

/// How long eventual states (jobs, cleanup) and server start-up may take.
const DEADLINE: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A `droplet-server serve` child process. Its temporary directory holds the data directory
/// (`data/`), the configuration file and the server's log, which is printed when a test fails.
pub struct TestServer {
    root: TempDir,
    config: Option<PathBuf>,
    child: Child,
    pub addr: SocketAddr,
    /// `http://ADDR`: the base of every link the server hands out.
    pub base_url: String,
    /// The PostgreSQL database (and blob directory) this server shares with its replicas, if it
    /// runs on PostgreSQL; the last server to go drops the database.
    shared: Option<Arc<SharedStorage>>,
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
                .map(|_| scope.spawn(|| Self::launch_on(None, Some(shared.clone()))))
                .collect();
            starting.into_iter().map(|replica| replica.join().expect("a replica")).collect()
        })
    }

    fn launch(toml: Option<&str>) -> Self {
        let shared = (BACKEND.get() == Backend::Postgres).then(|| {
            Arc::new(SharedStorage { database: PgDatabase::create(), s3: None, dir: None })
        });
        Self::launch_on(toml, shared)
    }

    fn launch_on(toml: Option<&str>, shared: Option<Arc<SharedStorage>>) -> Self {
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
        let (child, addr) = spawn(root.path(), &data_dir, config.as_deref());
        TestServer { root, config, child, addr, base_url: format!("http://{addr}"), shared }
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
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, addr) = spawn(self.root.path(), &self.data_dir(), self.config.as_deref());
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

    // ---- tokens -----------------------------------------------------------------------------

    /// The development secret, exactly as stored (its hex text is the HMAC key).
    pub fn dev_secret(&self) -> Vec<u8> {
        std::fs::read(self.data_dir().join("dev-token-key")).expect("the development key")
    }

    /// A development token with these scopes.
    pub fn token(&self, scopes: &[&str]) -> String {
        self.sign_dev(&claims(scopes, DEV_ISSUER))
    }

    /// The development key signing arbitrary claims (HS256).
    pub fn sign_dev(&self, claims: &Value) -> String {
        sign(Algorithm::HS256, &EncodingKey::from_secret(&self.dev_secret()), None, claims)
    }

    /// A token minted by `droplet-server token` with these extra arguments.
    pub fn cli_token(&self, args: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_droplet-server"))
            .arg("token")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .output()
            .expect("running droplet-server token");
        assert!(output.status.success(), "droplet-server token failed: {output:?}");
        String::from_utf8(output.stdout).expect("UTF-8 token").trim().to_owned()
    }

    // ---- clients ----------------------------------------------------------------------------

    /// The generated client with a read and write development token.
    pub fn client(&self) -> Client {
        self.client_with(&self.token(&[READ, WRITE]))
    }

    pub fn client_with(&self, token: &str) -> Client {
        Client::for_transfers(&self.base_url, token).expect("client")
    }

    /// A plain HTTP client: no token, and redirects are not followed, so that they can be seen.
    pub fn raw(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .read_timeout(DEADLINE)
            .build()
            .expect("reqwest client")
    }

    /// `method path` on the plain client, with a read and write development token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.raw()
            .request(method, self.url(path))
            .header("authorization", format!("bearer {}", self.token(&[READ, WRITE])))
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, path)
    }

    /// `POST /v3/droplets/GUID/upload` with this multipart body, sent with its length.
    pub async fn post_form(&self, guid: &str, form: Multipart) -> reqwest::Response {
        let (content_type, body) = form.finish();
        self.request(reqwest::Method::POST, &format!("/v3/droplets/{guid}/upload"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("upload request")
    }

    // ---- droplets ---------------------------------------------------------------------------

    /// Creates a droplet for a new app; returns its guid.
    pub async fn create_droplet(&self) -> String {
        let body = types::DropletCreate {
            relationships: app_relationship(),
            process_types: None,
            metadata: None,
        };
        let droplet = self.client().droplet_create(None, &body).await.expect("create droplet");
        droplet.into_inner().guid.to_string()
    }

    pub async fn droplet(&self, guid: &str) -> types::Droplet {
        self.client().droplet_get(guid).await.expect("get droplet").into_inner()
    }

    /// The droplet as JSON, to check what the typed client would hide.
    pub async fn droplet_json(&self, guid: &str) -> Value {
        let response = self.get(&format!("/v3/droplets/{guid}")).send().await.expect("GET");
        assert_eq!(response.status(), 200);
        response.json().await.expect("droplet JSON")
    }

    /// Uploads `bits` as `droplet.tgz` through the generated client and waits for the job.
    /// A droplet's bits, through `GET /v3/droplets/{guid}/download`, following a redirect to
    /// the store (without the token, as clients do) when the blobstore answers with one.
    pub async fn download_bits(&self, guid: &str) -> Vec<u8> {
        let response = self.get(&format!("/v3/droplets/{guid}/download")).send().await;
        let mut response = response.expect("GET download");
        if response.status() == 302 {
            let location = response.headers()["location"].to_str().expect("a Location").to_owned();
            response = reqwest::get(location).await.expect("GET the store's URL");
        }
        assert_eq!(response.status(), 200, "downloading {guid}");
        response.bytes().await.expect("the bits").to_vec()
    }

    pub async fn upload_and_wait(&self, guid: &str, bits: &[u8]) -> types::Job {
        let client = self.client();
        let form = DropletUploadForm {
            bits: FilePart::from_bytes("droplet.tgz", bits.to_vec()),
            resources: None,
        };
        let accepted = client.droplet_upload(guid, form).await.expect("upload accepted");
        assert_eq!(accepted.status(), 202);
        within_deadline("the upload job", client.wait_for_accepted_job(&accepted))
            .await
            .expect("job")
    }

    /// Follows the job named by a 202's `Location` until it is `COMPLETE` or `FAILED`.
    pub async fn wait_for_job(&self, location: &str) -> types::Job {
        let client = self.client();
        within_deadline("the job", client.wait_for_job(job_guid(location))).await.expect("job")
    }

    /// Uploads a fresh droplet tarball and checks the droplet ends `STAGED` with its SHA-256.
    pub async fn upload_succeeds(&self, guid: &str) {
        let bits = small_droplet();
        let job = self.upload_and_wait(guid, &bits).await;
        assert_eq!(job.state, types::JobState::Complete, "job: {job:?}");
        let droplet = self.droplet(guid).await;
        assert_eq!(droplet.state, types::DropletState::Staged);
        assert_eq!(droplet.checksum.expect("checksum").value, sha256_hex(&bits));
    }

    /// A rejected upload changed nothing: the droplet still awaits its bits, no blob of it and no
    /// partial blob was left in the blobstore, and the droplet takes an upload now.
    pub async fn assert_untouched(&self, guid: &str) {
        let droplet = self.droplet_json(guid).await;
        assert_eq!(droplet["state"], "AWAITING_UPLOAD", "{droplet:#}");
        assert_eq!(droplet["checksum"], Value::Null);
        assert!(droplet["links"]["upload"].is_object(), "upload link gone: {droplet:#}");
        // Cleanup of an abandoned blob is asynchronous.
        eventually("no partial blob and no blob of the droplet", || async {
            self.partial_blobs().is_empty() && !self.blob_path(guid).exists()
        })
        .await;
        self.upload_succeeds(guid).await;
    }

    // ---- the blobstore on disk ----------------------------------------------------------------

    /// Where the blobs are files: `<data-dir>/blobs`, or, for replicas sharing a bucket, the
    /// bucket's directory on the S3 server (objects as files, named by their keys).
    pub fn blob_dir(&self) -> PathBuf {
        match self.shared_s3() {
            Some(s3) => s3.root.join(s3_server::BUCKET),
            None => self.data_dir().join("blobs"),
        }
    }

    fn shared_s3(&self) -> Option<&S3Server> {
        self.shared.as_ref().and_then(|shared| shared.s3.as_ref())
    }

    /// Every file under [`Self::blob_dir`], relative to it.
    pub fn blob_files(&self) -> Vec<PathBuf> {
        let root = self.blob_dir();
        let mut files = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path.strip_prefix(&root).expect("under root").to_owned());
                }
            }
        }
        files.sort();
        files
    }

    /// Partial blobs being written: files in `blobs/tmp`, or the bucket's pending multipart
    /// uploads.
    pub fn partial_blobs(&self) -> Vec<PathBuf> {
        if let Some(s3) = self.shared_s3() {
            return s3.pending_uploads().into_iter().map(PathBuf::from).collect();
        }
        self.blob_files().into_iter().filter(|path| path.starts_with("tmp")).collect()
    }

    /// Waits until no file is left under `blobs/` (cleanup of an abandoned blob is asynchronous),
    /// and checks the empty `blobs/tmp` directory is still there.
    pub async fn wait_for_empty_blobstore(&self) {
        eventually("the blobstore to hold no file", || async { self.blob_files().is_empty() })
            .await;
        assert!(self.blob_dir().join("tmp").is_dir(), "blobs/tmp is gone");
    }

    /// Path of a droplet's stored blob.
    pub fn blob_path(&self, guid: &str) -> PathBuf {
        self.blob_dir().join("droplets").join(guid)
    }

    // ---- uploads by hand over TCP -----------------------------------------------------------

    /// Starts an upload by hand: the request head announces the whole `form`, but only its first
    /// `sent` bytes go out. Returns the connection, to be dropped (a client that goes away) or
    /// left hanging while the server is killed. Waits until the server streams the bits to a
    /// partial blob.
    pub async fn start_partial_upload(
        &self,
        guid: &str,
        form: Multipart,
        sent: usize,
    ) -> tokio::net::TcpStream {
        let stream = self.send_partial_upload(guid, form, sent).await;
        eventually("the server to stream the bits into a partial blob", || async {
            !self.partial_blobs().is_empty()
        })
        .await;
        stream
    }

    /// [`TestServer::start_partial_upload`] without waiting for the partial blob: for
    /// blobstores that keep it elsewhere.
    pub async fn send_partial_upload(
        &self,
        guid: &str,
        form: Multipart,
        sent: usize,
    ) -> tokio::net::TcpStream {
        let (content_type, body) = form.finish();
        let head = format!(
            "POST /v3/droplets/{guid}/upload HTTP/1.1\r\nhost: {}\r\n\
             authorization: bearer {}\r\ncontent-type: {content_type}\r\n\
             content-length: {}\r\n\r\n",
            self.addr,
            self.token(&[READ, WRITE]),
            body.len()
        );
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.expect("connect");
        stream.write_all(head.as_bytes()).await.expect("request head");
        stream.write_all(&body[..sent]).await.expect("part of the body");
        stream.flush().await.expect("flush");
        stream
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

// ---- PostgreSQL ---------------------------------------------------------------------------

/// The lease (`lease_secs`) of servers on PostgreSQL in tests.
pub const TEST_LEASE_SECS: u64 = 2;

/// Which metadata database `TestServer::start` gives a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

thread_local! {
    static BACKEND: std::cell::Cell<Backend> = const { std::cell::Cell::new(Backend::Sqlite) };
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
struct SharedStorage {
    database: PgDatabase,
    /// The bucket's server, stopped before the directory it keeps the bucket in goes.
    s3: Option<S3Server>,
    dir: Option<TempDir>,
}

/// The data directory of a server whose own directory is `root`.
fn data_dir(root: &Path, shared: Option<&SharedStorage>) -> PathBuf {
    match shared.and_then(|shared| shared.dir.as_ref()) {
        Some(dir) => dir.path().join("data"),
        None => root.join("data"),
    }
}

/// A fresh PostgreSQL database, `droplet_test_<uuid>`, dropped when the last server using it
/// goes. The administrative connection is `DROPLET_TEST_POSTGRES`, by default
/// `postgres://postgres@127.0.0.1:5432/test`; it needs `psql`.
struct PgDatabase {
    name: String,
    url: String,
}

impl PgDatabase {
    fn create() -> Self {
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

/// Starts `droplet-server serve` on a free port and waits for its `listening on` line.
fn spawn(root: &Path, data_dir: &Path, config: Option<&Path>) -> (Child, SocketAddr) {
    let log_path = root.join("server.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).expect("log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_droplet-server"));
    command.arg("serve").arg("--bind").arg("127.0.0.1:0").arg("--data-dir").arg(data_dir);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    // The server reads every `DROPLET_<KEY>` variable too; the test alone decides.
    for (variable, _) in std::env::vars_os() {
        if variable.to_string_lossy().starts_with("DROPLET_") {
            command.env_remove(variable);
        }
    }
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

// ---- tokens ---------------------------------------------------------------------------------

/// Claims of a valid UAA user token for `issuer`, valid for an hour.
pub fn claims(scopes: &[&str], issuer: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "jti": uuid::Uuid::new_v4().simple().to_string(),
        "user_id": "5f7c2e3a-test-user",
        "client_id": "cf",
        "scope": scopes,
        "aud": [AUDIENCE, "openid"],
        "iss": issuer,
        "iat": now,
        "exp": now + 3600,
    })
}

pub fn sign(algorithm: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("signing a token")
}

/// Unpadded base64url, for tokens crafted by hand.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

// ---- droplets and forms ---------------------------------------------------------------------

pub fn app_relationship() -> types::DropletRelationships {
    types::DropletRelationships {
        app: types::ToOneRelationship {
            data: types::RelationshipData { guid: uuid::Uuid::new_v4() },
        },
    }
}

/// A gzip-compressed tarball holding `files` (path, contents). Paths are stored exactly as given,
/// `./` prefix included, the way `tar czf droplet.tgz .` stores them.
pub fn tarball(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut archive = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for (path, contents) in files {
        let mut header = tar::Header::new_ustar();
        header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append(&header, *contents).expect("tar entry");
    }
    archive.into_inner().expect("tar end").finish().expect("gzip end")
}

/// A small droplet with random contents, so that every call gives other bits (and checksum).
pub fn small_droplet() -> Vec<u8> {
    let start = format!("#!/bin/sh\necho {}\n", hex::encode(rand::random::<[u8; 16]>()));
    tarball(&[
        ("./staging_info.yml", b"{\"detected_buildpack\":\"ruby\",\"start_command\":\"rackup\"}"),
        ("./app/start.sh", start.as_bytes()),
        ("./app/data.bin", &random_bytes(8 * 1024)),
    ])
}

pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::fill(&mut bytes[..]);
    bytes
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn sha1_hex(bytes: &[u8]) -> String {
    hex::encode(Sha1::digest(bytes))
}

/// A `multipart/form-data` body built by hand, byte for byte what `curl -F` sends.
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    pub fn new() -> Self {
        // curl's boundary shape: 24 dashes and random hex.
        let boundary =
            format!("------------------------{}", hex::encode(rand::random::<[u8; 8]>()));
        Multipart { boundary, body: Vec::new() }
    }

    /// A file part, as `curl -F name=@filename` sends it.
    pub fn file(self, name: &str, filename: &str, contents: &[u8]) -> Self {
        let disposition = format!("form-data; name=\"{name}\"; filename=\"{filename}\"");
        self.part(&disposition, Some("application/octet-stream"), contents)
    }

    /// A plain field, as `curl -F name=value` sends it.
    pub fn field(self, name: &str, value: &str) -> Self {
        self.part(&format!("form-data; name=\"{name}\""), None, value.as_bytes())
    }

    fn part(mut self, disposition: &str, content_type: Option<&str>, contents: &[u8]) -> Self {
        write!(self.body, "--{}\r\nContent-Disposition: {disposition}\r\n", self.boundary)
            .expect("write to Vec");
        if let Some(content_type) = content_type {
            write!(self.body, "Content-Type: {content_type}\r\n").expect("write to Vec");
        }
        self.body.extend_from_slice(b"\r\n");
        self.body.extend_from_slice(contents);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// The `Content-Type` header and the complete body.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        write!(self.body, "--{}--\r\n", self.boundary).expect("write to Vec");
        (format!("multipart/form-data; boundary={}", self.boundary), self.body)
    }
}

/// A request body that the test feeds chunk by chunk, to keep an upload in flight.
pub fn channel_body()
-> (futures::channel::mpsc::Sender<std::io::Result<bytes::Bytes>>, reqwest::Body) {
    let (sender, receiver) = futures::channel::mpsc::channel(4);
    (sender, reqwest::Body::wrap_stream(receiver))
}

/// All the bytes of a download through the generated client.
pub async fn collect(
    response: droplet_client::ResponseValue<droplet_client::ByteStream>,
) -> Vec<u8> {
    use futures::TryStreamExt;
    let chunks: Vec<bytes::Bytes> = response.into_inner().into_inner().try_collect().await.unwrap();
    chunks.concat()
}

/// The job guid at the end of a `Location` header.
pub fn job_guid(location: &str) -> &str {
    location.rsplit('/').next().expect("a path")
}

// ---- assertions -----------------------------------------------------------------------------

/// Checks the response is `status` with exactly `{"errors":[{"code","title","detail"}]}` carrying
/// `code` and `title`; returns the detail.
pub async fn assert_cf_error(
    response: reqwest::Response,
    status: u16,
    code: i64,
    title: &str,
) -> String {
    let actual = response.status().as_u16();
    let text = response.text().await.expect("error body");
    assert_eq!(actual, status, "status; body: {text}");
    assert_cf_body(&text, code, title)
}

/// Checks the generated client got a CF error response; returns the detail.
pub fn assert_client_cf_error<T>(
    result: Result<T, droplet_client::Error<types::Error>>,
    status: u16,
    code: i64,
    title: &str,
) -> String {
    match result {
        Err(droplet_client::Error::ErrorResponse(response)) => {
            assert_eq!(response.status().as_u16(), status, "{response:?}");
            let body = serde_json::to_string(&*response).expect("JSON");
            assert_cf_body(&body, code, title)
        }
        Err(other) => panic!("expected a {status} CF error, got {other:?}"),
        Ok(_) => panic!("expected a {status} CF error, got a success"),
    }
}

fn assert_cf_body(text: &str, code: i64, title: &str) -> String {
    let body: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let envelope = body.as_object().expect("an object");
    assert_eq!(envelope.keys().collect::<Vec<_>>(), ["errors"], "{text}");
    let errors = body["errors"].as_array().expect("errors is an array");
    assert_eq!(errors.len(), 1, "{text}");
    assert_eq!(keys(&errors[0]), ["code", "detail", "title"], "{text}");
    assert_eq!(errors[0]["code"], code, "{text}");
    assert_eq!(errors[0]["title"], title, "{text}");
    errors[0]["detail"].as_str().expect("detail is a string").to_owned()
}

/// The keys of a JSON object (sorted: serde_json's map is ordered by key).
pub fn keys(value: &Value) -> Vec<&str> {
    value.as_object().expect("an object").keys().map(String::as_str).collect()
}

/// Checks a timestamp is `YYYY-MM-DDThh:mm:ssZ` (UTC, no fraction).
pub fn assert_cf_timestamp(value: &Value) {
    let text = value.as_str().expect("a string timestamp");
    assert!(
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
        "not a CF timestamp: {text}"
    );
}

/// Object keys in document order, all the way down: serde_json's `Value` sorts them, and the
/// order of a droplet's fields is part of what the reference returns.
#[derive(Debug, Default)]
pub struct KeyOrder(Vec<(String, KeyOrder)>);

impl KeyOrder {
    pub fn parse(json: &str) -> Self {
        serde_json::from_str(json).expect("JSON")
    }

    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_str()).collect()
    }

    pub fn get(&self, name: &str) -> &KeyOrder {
        &self.0.iter().find(|(key, _)| key == name).unwrap_or_else(|| panic!("no {name}")).1
    }
}

impl<'de> serde::Deserialize<'de> for KeyOrder {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = KeyOrder;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<KeyOrder, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, KeyOrder>()? {
                    entries.push(entry);
                }
                Ok(KeyOrder(entries))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<KeyOrder, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(KeyOrder::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<KeyOrder, E> {
                Ok(KeyOrder::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<KeyOrder, E> {
                Ok(KeyOrder::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<KeyOrder, E> {
                Ok(KeyOrder::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<KeyOrder, E> {
                Ok(KeyOrder::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<KeyOrder, E> {
                Ok(KeyOrder::default())
            }
            fn visit_unit<E>(self) -> Result<KeyOrder, E> {
                Ok(KeyOrder::default())
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Polls `check` until it holds; fails the test after a generous deadline.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Fails the test if `future` does not finish within a generous deadline (a job stuck
/// `PROCESSING` would otherwise hang the test).
pub async fn within_deadline<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Peak resident set size of a process (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}
