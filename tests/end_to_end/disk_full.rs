//! A full disk: an upload that fills the blob directory is a CF error that says so and leaves
//! nothing behind; a full metadata database refuses changes with a CF error that says so; and
//! `/healthz` reports a store that cannot take writes. On a small filesystem each test mounts.

use serde_json::Value;

use crate::common::*;

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.path() {
                path if path.is_dir() => dirs.push(path),
                path => files.push(path),
            }
        }
    }
    files
}

async fn health(server: &TestServer) -> (u16, Value) {
    let response = server.raw().get(server.url("/healthz")).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn an_upload_that_fills_the_disk_is_a_blobstore_error_and_leaves_nothing() {
    let disk = SmallFilesystem::mount(64);
    let blobs = disk.path().join("blobs");
    let server = TestServer::start_with_config(&format!(
        "database_url = \"sqlite://{}/droplets.db?mode=rwc\"\n[blobstore]\npath = {:?}\n",
        disk.path().display(),
        blobs.display()
    ));
    let guid = server.create_droplet().await;
    let big = tarball(&[("./app/blob.bin", &random_bytes(100 * 1024 * 1024))]);
    let form = Multipart::new().file("bits", "droplet.tgz", &big);
    let response = server.post_form(&guid, form).await;
    let detail = assert_cf_error(response, 500, 150007, "CF-BlobstoreError").await;
    assert!(detail.contains("out of space"), "{detail}");

    // Nothing partial remains, and the droplet takes an upload again at once.
    assert_eq!(files_under(&blobs), Vec::<std::path::PathBuf>::new());
    assert_eq!(server.droplet_json(&guid).await["state"], "AWAITING_UPLOAD");
    let bits = small_droplet();
    let job = server.upload_and_wait(&guid, &bits).await;
    assert_eq!(job.state, droplet_client::types::JobState::Complete, "{job:?}");
    assert!(blobs.join("droplets").join(&guid).exists());
}

#[tokio::test]
async fn healthz_reports_a_blobstore_that_cannot_take_writes() {
    let disk = SmallFilesystem::mount(8);
    let server = TestServer::start_with_config(&format!(
        "[blobstore]\npath = {:?}\n",
        disk.path().join("blobs").display()
    ));
    assert_eq!(health(&server).await.0, 200);
    let filler = disk.fill();
    let (status, body) = health(&server).await;
    assert_eq!(status, 503, "{body}");
    let detail = body["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("blobstore") && detail.contains("No space left"), "{detail}");
    std::fs::remove_file(filler).unwrap();
    assert_eq!(health(&server).await.0, 200);
}

#[tokio::test]
async fn a_full_metadata_database_refuses_changes_saying_so() {
    let disk = SmallFilesystem::mount(8);
    let server = TestServer::start_with_config(&format!(
        "database_url = \"sqlite://{}/droplets.db?mode=rwc\"\n",
        disk.path().display()
    ));
    let guid = server.create_droplet().await;
    let filler = disk.fill();

    let (status, body) = health(&server).await;
    assert_eq!(status, 503, "{body}");
    let detail = body["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("metadata"), "{detail}");
    let create = server
        .request(reqwest::Method::POST, "/v3/droplets")
        .json(&serde_json::json!({ "relationships": { "app": { "data": {
            "guid": uuid::Uuid::new_v4() } } } }))
        .send()
        .await
        .unwrap();
    let detail = assert_cf_error(create, 503, 10015, "CF-ServiceUnavailable").await;
    assert!(detail.contains("out of space"), "{detail}");

    // Space again: everything works, and the droplet made before takes its upload.
    std::fs::remove_file(filler).unwrap();
    assert_eq!(health(&server).await.0, 200);
    server.upload_succeeds(&guid).await;
}
