//! Uploads that stall: a body that makes no progress for `upload_idle_timeout_secs` is cut like a
//! client that went away, and while an upload really streams a second one is told so.

use crate::common::*;

/// An upload that will stall after its first 300 KiB.
fn stalling_form() -> Multipart {
    let bits = tarball(&[("./app/blob.bin", &random_bytes(1024 * 1024))]);
    Multipart::new().file("bits", "droplet.tgz", &bits)
}

#[tokio::test]
pub async fn a_stalled_upload_is_cut_and_frees_its_droplet() {
    let server = TestServer::start_with_config("upload_idle_timeout_secs = 1\n");
    let guid = server.create_droplet().await;
    // The connection stays open, the body stops coming.
    let _stalled = server.start_partial_upload(&guid, stalling_form(), 300 * 1024).await;
    eventually("the stalled upload to be cut", || async { server.partial_blobs().is_empty() })
        .await;
    // The droplet takes an upload again at once, like after a client that went away.
    server.assert_untouched(&guid).await;
}

#[tokio::test]
pub async fn a_second_upload_while_one_streams_is_told_it_is_in_progress() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let _streaming = server.start_partial_upload(&guid, stalling_form(), 300 * 1024).await;
    let second = server
        .post_form(&guid, Multipart::new().file("bits", "droplet.tgz", &small_droplet()))
        .await;
    let detail = assert_cf_error(second, 422, 10008, "CF-UnprocessableEntity").await;
    assert_eq!(detail, IN_PROGRESS);
    assert_eq!(
        server.droplet(&guid).await.state,
        droplet_client::types::DropletState::AwaitingUpload
    );
}
