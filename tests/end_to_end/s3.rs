//! The S3 blobstore (`[blobstore] kind = "s3"`) against a real S3-protocol server (s3s-fs, with
//! SigV4 checked): bits go in as multipart uploads that are visible only once complete and
//! aborted when abandoned, downloads are 302s to presigned URLs, copies and deletes are done by
//! the store, and a store that went away is a 500 `CF-BlobstoreError`, as the reference answers
//! a store that fails after its retries.

use std::path::PathBuf;

use droplet_client::types;
use serde_json::Value;

use crate::common::*;
use droplet_test_s3_server::{BUCKET, PayloadSigning, S3Server};

/// A droplet server whose blobstore is a bucket on its own S3 server.
struct OnS3 {
    s3: S3Server,
    server: TestServer,
    _dir: tempfile::TempDir,
}

impl OnS3 {
    fn start() -> Self {
        Self::start_with("")
    }

    /// With `settings` added to the `[blobstore]` section.
    fn start_with(settings: &str) -> Self {
        Self::launch(S3Server::start, settings)
    }

    /// On a store that speaks TLS, as a real S3 does; the server trusts its certificate through
    /// `ca_certificate_file`.
    fn start_tls() -> Self {
        Self::launch(S3Server::start_tls, "")
    }

    fn launch(store: fn(&std::path::Path) -> S3Server, settings: &str) -> Self {
        let dir = tempfile::Builder::new().prefix("droplet-s3-").tempdir().expect("temp dir");
        let s3 = store(dir.path());
        let server = TestServer::start_with_config(&format!("{}{settings}", s3.blobstore_toml()));
        OnS3 { s3, server, _dir: dir }
    }

    /// Where the S3 server keeps the object of a droplet's bits.
    fn object(&self, guid: &str) -> PathBuf {
        self.s3.root.join(BUCKET).join("droplets").join(guid)
    }

    fn pending_uploads(&self) -> Vec<String> {
        self.s3.pending_uploads()
    }

    /// Nothing left of an upload into `guid`: no object, no pending upload, no part.
    async fn assert_no_trace_of(&self, guid: &str) {
        eventually("no object and no pending multipart upload", || async {
            !self.object(guid).exists() && self.pending_uploads().is_empty()
        })
        .await;
    }

    /// A `STAGED` droplet and its bits, checked to be the object in the bucket.
    async fn staged(&self) -> (String, Vec<u8>) {
        let (guid, bits) = crate::copy::staged(&self.server).await;
        assert_eq!(std::fs::read(self.object(&guid)).expect("the object"), bits);
        assert!(self.pending_uploads().is_empty(), "{:?}", self.pending_uploads());
        (guid, bits)
    }

    /// The presigned URL the droplet's download redirects to.
    async fn presigned_url(&self, guid: &str) -> reqwest::Url {
        let response = self.server.get(&format!("/v3/droplets/{guid}/download")).send().await;
        let response = response.expect("GET download");
        assert_eq!(response.status(), 302);
        let location = response.headers()["location"].to_str().expect("a Location").to_owned();
        reqwest::Url::parse(&location).expect("an absolute Location")
    }
}

#[tokio::test]
async fn download_redirects_to_a_presigned_url_of_the_object() {
    let env = OnS3::start();
    let (guid, bits) = env.staged().await;
    let url = env.presigned_url(&guid).await;
    let object_url = format!("{}/{BUCKET}/droplets/{guid}", env.s3.endpoint);
    assert_eq!(url.as_str().split('?').next().unwrap(), object_url);
    assert_eq!(crate::redirect::query(&url, "X-Amz-Expires"), "3600");

    // No Authorization header: the signature in the URL stands in for the S3 credentials.
    let response = env.server.raw().get(url.clone()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), bits);
    let response = env.server.raw().get(url.clone()).header("range", "bytes=0-9").send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.bytes().await.unwrap(), bits[..10]);

    // The S3 server checks the signature: a changed signature or object is refused.
    let mut flipped = crate::redirect::query(&url, "X-Amz-Signature");
    let last = flipped.pop().unwrap();
    flipped.push(if last == '0' { '1' } else { '0' });
    let other = env.server.create_droplet().await;
    let mut other_object = url.clone();
    other_object.set_path(&format!("/{BUCKET}/droplets/{other}"));
    for tampered in [crate::redirect::with_query(&url, "X-Amz-Signature", &flipped), other_object] {
        let response = env.server.raw().get(tampered.clone()).send().await.unwrap();
        assert_eq!(response.status(), 403, "{tampered}");
    }
}

#[tokio::test]
async fn generated_client_follows_the_redirect_to_the_store() {
    let env = OnS3::start();
    let (guid, bits) = env.staged().await;
    let client = env.server.client();
    let stream = client.droplet_download(&guid, None, None, None).await.expect("redirect followed");
    assert_eq!(stream.status(), 200);
    assert_eq!(collect(stream).await, bits);

    let path = env.server.scratch().join("droplet.tgz");
    let report = client.download_to_file(guid.parse().unwrap(), &path).await.unwrap();
    assert_eq!(report.sha256, sha256_hex(&bits));
    assert_eq!(std::fs::read(&path).unwrap(), bits);
}

#[tokio::test]
async fn dropped_upload_leaves_no_object_and_no_pending_upload() {
    let env = OnS3::start();
    let guid = env.server.create_droplet().await;
    // Larger than a part, so that parts reach the store before the client goes away.
    let bits = tarball(&[("./app/blob.bin", &random_bytes(20 * 1024 * 1024))]);
    let form = Multipart::new().file("bits", "droplet.tgz", &bits);
    let connection = env.server.send_partial_upload(&guid, form, 12 * 1024 * 1024).await;
    eventually("a part to reach the store", || async {
        env.pending_uploads().iter().any(|name| name.contains(".part-"))
    })
    .await;
    drop(connection);

    env.assert_no_trace_of(&guid).await;
    assert_eq!(env.server.droplet_json(&guid).await["state"], "AWAITING_UPLOAD");
    env.server.upload_succeeds(&guid).await;
    assert!(env.object(&guid).exists());
}

#[tokio::test]
async fn invalid_upload_leaves_no_object() {
    let env = OnS3::start();
    let guid = env.server.create_droplet().await;
    let job = env.server.upload_and_wait(&guid, b"not a gzip tarball").await;
    assert_eq!(job.state, types::JobState::Failed, "{job:?}");
    env.assert_no_trace_of(&guid).await;
}

#[tokio::test]
async fn delete_removes_the_object() {
    let env = OnS3::start();
    let (guid, _) = env.staged().await;
    let location = crate::delete::delete_accepted(&env.server, &guid).await;
    let job = env.server.wait_for_job(&location).await;
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    assert!(!env.object(&guid).exists(), "the object outlived its droplet");
}

#[tokio::test]
async fn copy_is_made_by_the_store() {
    let env = OnS3::start();
    let (source, bits) = env.staged().await;
    let app = uuid::Uuid::new_v4().to_string();
    let token = env.server.token(&[READ, WRITE]);
    let body = crate::copy::copy_body(&app);
    let response = crate::copy::copy(&env.server, &source, &body, &token).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let guid = created["guid"].as_str().unwrap().to_owned();

    let droplet = crate::copy::settled(&env.server, &guid).await;
    assert_eq!(droplet["state"], "STAGED", "{droplet:#}");
    assert_eq!(droplet["checksum"]["value"], sha256_hex(&bits));
    assert_eq!(std::fs::read(env.object(&guid)).unwrap(), bits);
    let stream = env.server.client().droplet_download(&guid, None, None, None).await.unwrap();
    assert_eq!(collect(stream).await, bits);
}

#[tokio::test]
async fn unreachable_store_is_500_blobstore_error() {
    let mut env = OnS3::start();
    let (staged, _) = env.staged().await;
    let empty = env.server.create_droplet().await;
    env.s3.stop();

    let response = env.server.get(&format!("/v3/droplets/{staged}/download")).send().await;
    assert_cf_error(response.unwrap(), 500, 150007, "CF-BlobstoreError").await;
    let form = Multipart::new().file("bits", "droplet.tgz", &small_droplet());
    let response = env.server.post_form(&empty, form).await;
    assert_cf_error(response, 500, 150007, "CF-BlobstoreError").await;
    assert_eq!(env.server.droplet_json(&empty).await["state"], "AWAITING_UPLOAD");
}

#[tokio::test]
async fn hundred_mib_through_s3_keeps_the_server_small() {
    let env = OnS3::start();
    crate::big::hundred_mib_round_trip(&env.server, crate::big::Upload::Multipart).await;
    assert!(env.pending_uploads().is_empty(), "{:?}", env.pending_uploads());
}

#[tokio::test]
async fn hundred_mib_resumable_through_s3_keeps_the_server_small() {
    let env = OnS3::start();
    crate::big::hundred_mib_round_trip(&env.server, crate::big::Upload::Resumable).await;
    assert!(env.pending_uploads().is_empty(), "{:?}", env.pending_uploads());
    // Its last append, of less than 5 MiB, held a tail, which the job sent and removed.
    let tails = env.s3.root.join(BUCKET).join("resumable-tails");
    let left = crate::resumable::files_under(&tails);
    assert!(left.is_empty(), "tails left: {left:?}");
}

/// Over plain http (the test server's) the payload is signed by default, so the store checks
/// each part; `sign_payload = false`, what https gets by default, sends `UNSIGNED-PAYLOAD` and
/// the bits arrive the same.
#[tokio::test]
async fn payloads_are_signed_over_http_unless_configured_otherwise() {
    for (settings, expected) in
        [("", PayloadSigning::Signed), ("sign_payload = false\n", PayloadSigning::Unsigned)]
    {
        let env = OnS3::start_with(settings);
        let before = env.s3.payload_signing().len();
        env.staged().await;
        let puts = env.s3.payload_signing().split_off(before);
        assert!(!puts.is_empty(), "the upload sent no part");
        assert!(puts.iter().all(|p| *p == expected), "{settings:?}: {puts:?}");
    }
}

/// Over https, with no setting, the payload goes unsigned (TLS protects it), and the object is
/// the bits; downloads still go to presigned https URLs of the store.
#[tokio::test]
async fn over_https_payloads_go_unsigned_and_the_store_is_trusted_by_its_ca_file() {
    let env = OnS3::start_tls();
    assert!(env.s3.endpoint.starts_with("https://"), "{}", env.s3.endpoint);
    let (guid, _) = env.staged().await;
    let puts = env.s3.payload_signing();
    assert!(!puts.is_empty(), "the upload sent no part");
    assert!(puts.iter().all(|p| *p == PayloadSigning::Unsigned), "{puts:?}");
    assert_eq!(env.presigned_url(&guid).await.scheme(), "https");
}

#[tokio::test]
async fn healthz_probes_the_bucket() {
    let mut env = OnS3::start();
    let response = env.server.raw().get(env.server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["blobstore"], "ok", "{body:#}");
    // The probe object is gone again.
    let health = env.s3.root.join(BUCKET).join("health");
    let left = std::fs::read_dir(&health).map(|entries| entries.count()).unwrap_or(0);
    assert_eq!(left, 0, "probe objects left in {}", health.display());

    env.s3.stop();
    let response = env.server.raw().get(env.server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
}

/// SIGTERM treats every kind of job alike: a copy and a delete started just before it finish
/// before the process exits (checked in the database the server leaves behind, on PostgreSQL).
#[test]
fn a_copy_and_a_delete_started_before_sigterm_finish() {
    on_postgres(|| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let mut env = OnS3::start();
            // Large enough that the store takes a while to copy it.
            let source = env.server.create_droplet().await;
            let bits = tarball(&[("./app/blob.bin", &random_bytes(64 * 1024 * 1024))]);
            env.server.upload_and_wait(&source, &bits).await;
            let (doomed, _) = env.staged().await;

            let copy = env
                .server
                .request(reqwest::Method::POST, &format!("/v3/droplets?source_guid={source}"))
                .json(&serde_json::json!({ "relationships": { "app": { "data": {
                    "guid": uuid::Uuid::new_v4() } } } }))
                .send()
                .await
                .unwrap();
            assert_eq!(copy.status(), 201);
            let copy: Value = copy.json().await.unwrap();
            let copy = copy["guid"].as_str().unwrap().to_owned();
            let delete =
                env.server.request(reqwest::Method::DELETE, &format!("/v3/droplets/{doomed}"));
            let delete = delete.send().await.unwrap();
            assert_eq!(delete.status(), 202);
            let delete_job = job_guid(delete.headers()["location"].to_str().unwrap()).to_owned();
            env.server.sigterm();
            assert!(env.server.wait_for_exit(std::time::Duration::from_secs(60)), "no exit");

            let state =
                env.server.query(&format!("SELECT state FROM droplets WHERE guid = '{copy}'"));
            assert_eq!(state, "STAGED");
            let job =
                env.server.query(&format!("SELECT state FROM jobs WHERE guid = '{delete_job}'"));
            assert_eq!(job, "COMPLETE");
            assert_eq!(std::fs::read(env.object(&copy)).unwrap(), bits);
            assert!(!env.object(&doomed).exists(), "the deleted droplet's object is still there");
        });
    });
}

/// A job that outlives the grace period does not hold the process: a delete retrying against a
/// store that went away is left to recovery at the deadline, and the server exits.
#[tokio::test]
async fn a_job_still_running_at_the_deadline_is_left_to_recovery() {
    let dir = tempfile::Builder::new().prefix("droplet-s3-").tempdir().expect("temp dir");
    let mut s3 = S3Server::start(dir.path());
    let config = format!("shutdown_grace_secs = 1\n{}", s3.blobstore_toml());
    let mut server = TestServer::start_with_config(&config);
    let (guid, _) = crate::copy::staged(&server).await;
    s3.stop();
    let delete = server.request(reqwest::Method::DELETE, &format!("/v3/droplets/{guid}"));
    assert_eq!(delete.send().await.unwrap().status(), 202);
    // The delete now retries for many seconds against the store that is gone.
    server.sigterm();
    assert!(server.wait_for_exit(std::time::Duration::from_secs(30)), "no exit");
    let log = server.log();
    assert!(log.contains("jobs still running are left to recovery"), "{log}");
}

/// A store that goes away for a moment during a copy does not fail the copy: it is tried again,
/// and once the retries are spent it is left to recovery, which copies once the store is back.
#[tokio::test]
async fn a_copy_outlasts_a_store_that_goes_away_for_a_moment() {
    let dir = tempfile::Builder::new().prefix("droplet-s3-").tempdir().expect("temp dir");
    let mut s3 = S3Server::start(dir.path());
    // A short lease: recovery sweeps every half lease.
    let server = TestServer::start_with_config(&format!("lease_secs = 2\n{}", s3.blobstore_toml()));
    let (source, bits) = crate::copy::staged(&server).await;
    s3.stop();
    let app = uuid::Uuid::new_v4().to_string();
    let token = server.token(&[READ, WRITE]);
    let response = crate::copy::copy(&server, &source, &crate::copy::copy_body(&app), &token).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let guid = created["guid"].as_str().unwrap().to_owned();

    let copying = || async { server.droplet_json(&guid).await["state"] == "COPYING" };
    eventually("the copy to give up on the store for now", || async {
        !copying().await || server.log().contains("left to recovery")
    })
    .await;
    let droplet = server.droplet_json(&guid).await;
    assert_eq!(droplet["state"], "COPYING", "{droplet:#}");
    s3.restart();
    let droplet = crate::copy::settled(&server, &guid).await;
    assert_eq!(droplet["state"], "STAGED", "{droplet:#}");
    assert_eq!(droplet["checksum"]["value"], sha256_hex(&bits));
    assert_eq!(server.download_bits(&guid).await, bits);
}
