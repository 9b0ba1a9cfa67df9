//! `droplet-server check`, run beside the real server on each store and (through `postgres.rs`)
//! each database: each fault injected by hand (a deleted blob, a truncated one, a flipped byte,
//! an orphan, an abandoned write) is found, exactly those; `--repair` settles exactly those; a
//! second check is clean. The check cannot run on a database that is not there (2), and an upload
//! and a copy running during a check and a repair complete untouched.

use std::path::PathBuf;

use droplet_test_s3_server::{ACCESS_KEY, BUCKET, REGION, S3Server, SECRET_KEY};
use object_store::multipart::MultipartStore;

use crate::common::*;
use crate::copy::staged;

/// A server, on a local blob directory or on a bucket of its own S3 server.
pub struct Env {
    pub server: TestServer,
    pub s3: Option<S3Server>,
    _dir: Option<tempfile::TempDir>,
}

impl Env {
    pub fn local() -> Self {
        Env { server: TestServer::start(), s3: None, _dir: None }
    }

    pub fn s3() -> Self {
        let dir = tempfile::Builder::new().prefix("droplet-check-").tempdir().expect("temp dir");
        let s3 = S3Server::start(dir.path());
        let server = TestServer::start_with_config(&s3.blobstore_toml());
        Env { server, s3: Some(s3), _dir: Some(dir) }
    }

    /// The directory the store keeps its objects in, as files named by their keys.
    pub fn objects(&self) -> PathBuf {
        match &self.s3 {
            Some(s3) => s3.root.join(BUCKET),
            None => self.server.blob_dir(),
        }
    }

    pub fn object(&self, guid: &str) -> PathBuf {
        self.objects().join("droplets").join(guid)
    }

    /// A write left behind as a dead client leaves it: on S3 a multipart upload with one part,
    /// never completed; on the local store a temporary file. Returns what the check names it
    /// by: the upload's key, or the file's name.
    pub async fn abandon_write(&self) -> String {
        match &self.s3 {
            Some(s3) => {
                let key = format!("droplets/{}", uuid::Uuid::new_v4());
                let store = s3_client(s3);
                let path = object_store::path::Path::from(key.as_str());
                let upload = store.create_multipart(&path).await.expect("CreateMultipartUpload");
                let part = object_store::PutPayload::from(vec![7u8; 1024]);
                store.put_part(&path, &upload, 0, part).await.expect("UploadPart");
                key
            }
            None => {
                let name = format!("{}.part", uuid::Uuid::new_v4());
                std::fs::write(self.objects().join("tmp").join(&name), b"half a droplet")
                    .expect("a temporary file");
                name
            }
        }
    }

    /// Writes still pending in the store: S3's multipart uploads, or files in `tmp/`.
    pub fn pending(&self) -> Vec<String> {
        match &self.s3 {
            Some(s3) => s3.pending_uploads(),
            None => {
                self.server.partial_blobs().iter().map(|path| path.display().to_string()).collect()
            }
        }
    }
}

/// A client of the test S3 server's bucket, as another program than the server would be.
pub fn s3_client(s3: &S3Server) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&s3.endpoint)
        .with_bucket_name(BUCKET)
        .with_region(REGION)
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .with_allow_http(true)
        .build()
        .expect("an S3 client")
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<_> =
        expected.iter().map(|(kind, subject)| (kind.to_string(), subject.to_string())).collect();
    pairs.sort();
    pairs
}

async fn download_status(server: &TestServer, guid: &str) -> u16 {
    let response = server.get(&format!("/v3/droplets/{guid}/download")).send().await;
    response.expect("GET download").status().as_u16()
}

/// Every fault, injected into a store a server is using; found, repaired, gone.
async fn faults_are_found_and_repaired(env: Env) {
    let server = &env.server;
    let (healthy, healthy_bits) = staged(server).await;
    let (deleted, _) = staged(server).await;
    let (truncated, _) = staged(server).await;
    let (flipped, _) = staged(server).await;
    let clean = server.check(&["--deep", "--grace-secs", "0"]);
    assert_eq!(clean.status, 0, "{}", clean.stdout);

    std::fs::remove_file(env.object(&deleted)).expect("deleting a blob by hand");
    let length = std::fs::metadata(env.object(&truncated)).expect("a blob").len();
    let file = std::fs::OpenOptions::new().write(true).open(env.object(&truncated));
    file.expect("a blob").set_len(length - 100).expect("truncating a blob");
    let mut bits = std::fs::read(env.object(&flipped)).expect("a blob");
    let middle = bits.len() / 2;
    bits[middle] ^= 0x10;
    std::fs::write(env.object(&flipped), &bits).expect("rotting a byte");
    let orphan = format!("droplets/{}", uuid::Uuid::new_v4());
    std::fs::write(env.objects().join(&orphan), b"bits nobody owns").expect("an orphan");
    let abandoned = env.abandon_write().await;
    let abandoned_kind =
        if env.s3.is_some() { "stale-multipart-upload" } else { "stale-temp-file" };
    assert_eq!(download_status(server, &deleted).await, 502, "a lost blob is a 502 until repaired");

    // Within the grace period an orphan or a pending write may be in flight: not counted.
    let young = server.check(&["--json"]);
    assert_eq!(young.status, 1);
    let lost = [("missing-blob", deleted.as_str()), ("size-mismatch", truncated.as_str())];
    assert_eq!(young.findings(), pairs(&lost));

    let every_fault = pairs(&[
        ("missing-blob", deleted.as_str()),
        ("size-mismatch", truncated.as_str()),
        ("checksum-mismatch", flipped.as_str()),
        ("orphan-blob", orphan.as_str()),
        (abandoned_kind, abandoned.as_str()),
    ]);
    let found = server.check(&["--deep", "--json", "--grace-secs", "0"]);
    assert_eq!((found.status, found.findings()), (1, every_fault.clone()));
    assert_eq!(found.outcomes(), vec!["found"; 5]);
    let text = server.check(&["--deep", "--grace-secs", "0"]);
    assert_eq!(text.status, 1);
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "one line per finding and a summary: {}", text.stdout);
    for (kind, subject) in &every_fault {
        assert!(lines.iter().any(|l| l.starts_with(kind.as_str()) && l.contains(subject.as_str())));
    }
    assert!(lines[5].contains("5 found"), "{}", lines[5]);

    let repaired = server.check(&["--deep", "--repair", "--json", "--grace-secs", "0"]);
    assert_eq!((repaired.status, repaired.findings()), (0, every_fault));
    assert_eq!(repaired.outcomes(), vec!["repaired"; 5]);
    let twice: [&[&str]; 2] =
        [&["--deep", "--json", "--grace-secs", "0"], &["--deep", "--repair", "--json"]];
    for args in twice {
        let again = server.check(args);
        assert_eq!((again.status, again.findings()), (0, vec![]), "{args:?}");
    }

    for guid in [&deleted, &truncated, &flipped] {
        let droplet = server.droplet_json(guid).await;
        assert_eq!(droplet["state"], "FAILED", "{droplet}");
        let error = droplet["error"].as_str().expect("an error");
        assert!(error.contains("bits are lost") || error.contains("bits are corrupt"), "{error}");
        assert_eq!(download_status(server, guid).await, 422);
    }
    // Neither a staged droplet's blob nor a failed one's is deleted; the orphan and the write are.
    assert!(env.object(&flipped).exists() && env.object(&truncated).exists());
    assert!(!env.objects().join(&orphan).exists());
    assert!(env.pending().is_empty(), "{:?}", env.pending());
    assert_eq!(server.droplet_json(&healthy).await["state"], "STAGED");
    assert_eq!(std::fs::read(env.object(&healthy)).expect("the healthy blob"), healthy_bits);
}

#[tokio::test]
pub async fn faults_in_a_local_store_are_found_and_repaired() {
    faults_are_found_and_repaired(Env::local()).await;
}

#[tokio::test]
pub async fn faults_in_an_s3_bucket_are_found_and_repaired() {
    faults_are_found_and_repaired(Env::s3()).await;
}

/// A check that cannot run says why, and exits 2: a database that is not there, a bad file.
#[tokio::test]
pub async fn a_check_that_cannot_run_exits_2_with_the_reason() {
    let server = TestServer::start();
    let bad_config = server.scratch().join("bad.toml");
    std::fs::write(&bad_config, "lease_secs = \"soon\"\n").unwrap();
    let missing = server.scratch().join("nowhere");
    for (args, reason) in [
        (vec!["--config", bad_config.to_str().unwrap()], "lease_secs"),
        (vec!["--data-dir", missing.to_str().unwrap()], "blob directory"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_droplet-server"))
            .arg("check")
            .args(&args)
            .env_remove("DROPLET_DATABASE_URL")
            .output()
            .expect("running check");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("cannot run") && stderr.contains(reason), "{stderr}");
    }
    let unreachable = server.scratch().join("unreachable.toml");
    let url = "postgres://postgres@127.0.0.1:1/test";
    std::fs::write(&unreachable, format!("database_url = {url:?}\n")).unwrap();
    let run = server.check(&["--config", unreachable.to_str().unwrap()]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("metadata database"), "{}", run.stderr);
}

/// A job left `PROCESSING` long past its lease (no server's recovery running) is reported, and
/// left by `--repair` (exit 1: it remains); once a server runs, its recovery settles it and the
/// check is clean. On PostgreSQL, whose rows the test can write.
#[test]
fn an_overdue_job_is_reported_until_a_server_settles_it() {
    on_postgres(|| {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(async {
            let mut server = TestServer::start();
            server.kill();
            let (job, droplet) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
            server.query(&format!(
                "INSERT INTO jobs (guid, operation, state, droplet_guid, errors, created_at,
                    updated_at, owner, lease_expires_ms)
                 VALUES ('{job}', 'droplet.delete', 'PROCESSING', '{droplet}', '[]', 0, 0,
                    '{}', 1000)",
                uuid::Uuid::new_v4()
            ));
            let expected = pairs(&[("overdue-job", &job.to_string())]);
            for args in [&["--json"][..], &["--repair", "--json"]] {
                let run = server.check(args);
                assert_eq!((run.status, run.findings()), (1, expected.clone()), "{args:?}");
            }
            assert_eq!(server.check(&["--repair", "--json"]).outcomes(), vec!["remains"]);
            server.kill_and_restart();
            eventually("recovery to settle the job", || async {
                server.query(&format!("SELECT state FROM jobs WHERE guid = '{job}'")) == "COMPLETE"
            })
            .await;
            let run = server.check(&["--json"]);
            assert_eq!((run.status, run.findings()), (0, vec![]));
        });
    });
}

/// A resumable upload in progress is no finding (its write is recorded, tails and all); the
/// bytes of one no upload records are (a file of the local store's `resumable/`, a folder of
/// tails that outlived its S3 upload), and `--repair` removes them, and them alone.
async fn resumable_leftovers_are_found_and_removed(env: Env) {
    let server = &env.server;
    let guid = server.create_droplet().await;
    let url = server.tus_create(&guid, 3 << 20).await;
    server.tus_append(&url, 0, &vec![1u8; 1 << 20]).await;
    let clean = server.check(&["--json", "--grace-secs", "0"]);
    assert_eq!((clean.status, clean.findings()), (0, vec![]), "{}", clean.stdout);

    let leftover = match &env.s3 {
        Some(s3) => {
            let folder = format!("resumable-tails/{}/", "0f".repeat(32));
            let path = object_store::path::Path::from(format!("{folder}00000000000000000000-x"));
            let store = s3_client(s3);
            object_store::ObjectStoreExt::put(&store, &path, vec![7u8; 100].into())
                .await
                .expect("a tail nobody owns");
            folder
        }
        None => {
            let name = format!("{}.resumable", uuid::Uuid::new_v4());
            std::fs::write(env.objects().join("resumable").join(&name), b"bytes").unwrap();
            name
        }
    };
    let found = server.check(&["--json", "--grace-secs", "0"]);
    let expected = pairs(&[("stale-resumable-write", leftover.as_str())]);
    assert_eq!((found.status, found.findings()), (1, expected.clone()), "{}", found.stdout);
    let repaired = server.check(&["--json", "--repair", "--grace-secs", "0"]);
    assert_eq!((repaired.status, repaired.findings()), (0, expected));
    let again = server.check(&["--json", "--grace-secs", "0"]);
    assert_eq!((again.status, again.findings()), (0, vec![]));
    // The upload in progress lost nothing.
    let last = server.tus_append(&url, 1 << 20, &vec![2u8; 2 << 20]).await;
    let job = server.wait_for_job(header(&last, "job-location").unwrap()).await;
    assert_eq!(job.state, droplet_client::types::JobState::Failed, "not a gzip tarball");
    assert!(job.errors[0].detail.contains("Uploaded droplet is invalid"), "{job:?}");
}

#[tokio::test]
async fn resumable_leftovers_in_a_local_store_are_found_and_removed() {
    resumable_leftovers_are_found_and_removed(Env::local()).await;
}

#[tokio::test]
async fn resumable_leftovers_in_an_s3_bucket_are_found_and_removed() {
    resumable_leftovers_are_found_and_removed(Env::s3()).await;
}
