//! `DELETE /v3/droplets/{guid}`: 202 with a `droplet.delete` job, the droplet gone at once, its
//! blob gone when the job completes, also across a `kill -9`.

use droplet_client::types;
use serde_json::Value;

use crate::common::*;

/// Sends `DELETE /v3/droplets/GUID` with this token.
async fn delete(server: &TestServer, guid: &str, token: &str) -> reqwest::Response {
    server
        .raw()
        .delete(server.url(&format!("/v3/droplets/{guid}")))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .expect("DELETE")
}

/// Deletes with read and write scopes; checks the 202 and returns the job's `Location`.
pub async fn delete_accepted(server: &TestServer, guid: &str) -> String {
    let response = delete(server, guid, &server.token(&[READ, WRITE])).await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&server.url("/v3/jobs/")), "{location}");
    assert!(response.bytes().await.unwrap().is_empty(), "a 202 to DELETE has no body");
    location
}

async fn assert_gone(server: &TestServer, guid: &str) {
    let response = server.get(&format!("/v3/droplets/{guid}")).send().await.unwrap();
    let detail = assert_cf_error(response, 404, 10010, "CF-ResourceNotFound").await;
    assert_eq!(detail, "Droplet not found");
}

#[tokio::test]
pub async fn delete_removes_the_droplet_and_its_blob() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    server.upload_succeeds(&guid).await;
    assert!(server.blob_path(&guid).exists());

    let location = delete_accepted(&server, &guid).await;
    assert_gone(&server, &guid).await;
    let job = server.wait_for_job(&location).await;
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    assert!(!server.blob_path(&guid).exists(), "the blob outlived its droplet");
    server.wait_for_empty_blobstore().await;

    let body: Value =
        server.get(&format!("/v3/jobs/{}", job.guid)).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["operation"], "droplet.delete");
    assert_eq!(body["errors"], serde_json::json!([]));
    // The droplet is gone, so the job no longer links to it.
    assert_eq!(keys(&body["links"]), ["self"], "{body:#}");

    // Deleting again: there is nothing to delete.
    let response = delete(&server, &guid, &server.token(&[READ, WRITE])).await;
    assert_cf_error(response, 404, 10010, "CF-ResourceNotFound").await;
}

#[tokio::test]
async fn delete_of_an_unknown_droplet_is_404() {
    let server = TestServer::start();
    for guid in ["not-a-guid".to_owned(), uuid::Uuid::new_v4().to_string()] {
        let response = delete(&server, &guid, &server.token(&[READ, WRITE])).await;
        let detail = assert_cf_error(response, 404, 10010, "CF-ResourceNotFound").await;
        assert_eq!(detail, "Droplet not found");
    }
}

#[tokio::test]
async fn delete_needs_the_write_scope() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let response = delete(&server, &guid, &server.token(&[READ])).await;
    assert_cf_error(response, 403, 10003, "CF-NotAuthorized").await;
    let response =
        server.raw().delete(server.url(&format!("/v3/droplets/{guid}"))).send().await.unwrap();
    assert_cf_error(response, 401, 10002, "CF-NotAuthenticated").await;
    assert_eq!(server.droplet_json(&guid).await["state"], "AWAITING_UPLOAD");
}

#[tokio::test]
pub async fn delete_of_a_droplet_awaiting_upload() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let location = delete_accepted(&server, &guid).await;
    assert_gone(&server, &guid).await;
    let job = server.wait_for_job(&location).await;
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    // An upload to the deleted droplet finds nothing.
    let response = server
        .post_form(&guid, Multipart::new().file("bits", "droplet.tgz", &small_droplet()))
        .await;
    assert_cf_error(response, 404, 10010, "CF-ResourceNotFound").await;
    server.wait_for_empty_blobstore().await;
}

/// Deleted while its upload job runs: whichever finishes first, no blob is left.
#[tokio::test]
pub async fn delete_during_the_upload_job_leaves_no_blob() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let bits = tarball(&[("./app/blob.bin", &random_bytes(8 * 1024 * 1024))]);
    let response =
        server.post_form(&guid, Multipart::new().file("bits", "droplet.tgz", &bits)).await;
    assert_eq!(response.status(), 202);
    let upload = response.headers()["location"].to_str().unwrap().to_owned();

    let location = delete_accepted(&server, &guid).await;
    let job = server.wait_for_job(&location).await;
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    server.wait_for_job(&upload).await;
    assert_gone(&server, &guid).await;
    server.wait_for_empty_blobstore().await;
}

/// `kill -9` right after the 202: after the restart the job is `COMPLETE` and no blob is left.
#[tokio::test]
pub async fn server_killed_after_the_delete_finishes_the_job_on_restart() {
    let mut server = TestServer::start();
    let guid = server.create_droplet().await;
    server.upload_succeeds(&guid).await;
    let location = delete_accepted(&server, &guid).await;

    server.kill_and_restart();
    let job = server.wait_for_job(&location).await;
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    assert_gone(&server, &guid).await;
    assert!(!server.blob_path(&guid).exists(), "the blob outlived its droplet");
    server.wait_for_empty_blobstore().await;
}
