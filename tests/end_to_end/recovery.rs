//! Uploads that never complete, and restarts: nothing stuck, nothing partial, nothing lost.

use droplet_client::types;
use serde_json::Value;

use crate::common::*;

/// A 1 MiB droplet as a form, of which a test sends only a part.
fn large_form() -> Multipart {
    let bits = tarball(&[("./app/blob.bin", &random_bytes(1024 * 1024))]);
    Multipart::new().file("bits", "droplet.tgz", &bits)
}

#[tokio::test]
pub async fn upload_dropped_by_the_client_leaves_the_droplet_awaiting_upload() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let connection = server.start_partial_upload(&guid, large_form(), 300 * 1024).await;
    // While the bits stream in, the droplet still awaits them as far as anyone can see.
    assert_eq!(server.droplet_json(&guid).await["state"], "AWAITING_UPLOAD");

    // The client goes away mid-body.
    drop(connection);
    eventually("the partial blob to be removed", || async { server.partial_blobs().is_empty() })
        .await;
    server.assert_untouched(&guid).await;
}

#[tokio::test]
async fn server_killed_mid_upload_recovers_on_restart() {
    let mut server = TestServer::start();
    let guid = server.create_droplet().await;
    let _connection = server.start_partial_upload(&guid, large_form(), 300 * 1024).await;

    server.kill_and_restart();
    assert!(server.partial_blobs().is_empty(), "{:?}", server.partial_blobs());
    server.assert_untouched(&guid).await;
}

/// Killed right after the 202, while the job stores the bits: after the restart the job and the
/// droplet agree, and the blobstore with them, whichever way the job went. Nothing stays
/// `PROCESSING`.
#[tokio::test]
pub async fn server_killed_while_the_job_runs_is_consistent_after_restart() {
    let mut server = TestServer::start();
    let guid = server.create_droplet().await;
    let bits = tarball(&[("./app/blob.bin", &random_bytes(16 * 1024 * 1024))]);
    let response =
        server.post_form(&guid, Multipart::new().file("bits", "droplet.tgz", &bits)).await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();

    server.kill_and_restart();
    // The job guid outlives the port: the Location named the old one.
    let job = server.wait_for_job(&location).await;
    let droplet = server.droplet(&guid).await;
    match job.state {
        types::JobState::Complete => {
            assert_eq!(droplet.state, types::DropletState::Staged);
            assert_eq!(droplet.checksum.unwrap().value, sha256_hex(&bits));
            let stored = std::fs::read(server.blob_path(&guid)).unwrap();
            assert_eq!(sha256_hex(&stored), sha256_hex(&bits));
        }
        _ => {
            assert_eq!(droplet.state, types::DropletState::Failed, "{job:?}");
            assert_eq!(droplet.error.as_deref(), Some(job.errors[0].detail.as_str()));
            assert!(!server.blob_path(&guid).exists(), "a FAILED droplet kept its blob");
        }
    }
    println!("killed mid-job: the job ended {:?}", job.state);
    assert!(server.partial_blobs().is_empty());
}

#[tokio::test]
pub async fn droplets_and_jobs_survive_a_restart() {
    let mut server = TestServer::start();
    let staged = server.create_droplet().await;
    let bits = small_droplet();
    let staged_job = server.upload_and_wait(&staged, &bits).await;
    let failed = server.create_droplet().await;
    let failed_job = server.upload_and_wait(&failed, b"not gzip").await;
    let awaiting = server.create_droplet().await;

    let paths = [
        format!("/v3/droplets/{staged}"),
        format!("/v3/droplets/{failed}"),
        format!("/v3/droplets/{awaiting}"),
        format!("/v3/jobs/{}", staged_job.guid),
        format!("/v3/jobs/{}", failed_job.guid),
    ];
    let before = documents(&server, &paths).await;
    let old_base = server.base_url.clone();

    server.kill_and_restart();
    // Links now name the new port; everything else is as it was.
    let before = before.replace(&old_base, &server.base_url);
    assert_eq!(documents(&server, &paths).await, before);

    let response = server.get(&format!("/v3/droplets/{staged}/download")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), bits);
    server.upload_succeeds(&awaiting).await;
}

/// The JSON documents at `paths`, as one string.
async fn documents(server: &TestServer, paths: &[String]) -> String {
    let mut all = Vec::new();
    for path in paths {
        let response = server.get(path).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        all.push(response.json::<Value>().await.unwrap());
    }
    serde_json::to_string_pretty(&all).unwrap()
}
