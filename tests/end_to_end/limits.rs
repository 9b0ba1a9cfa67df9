//! The upload size limit: 413 with a CF body, whether the client announces the length or not, and
//! nothing stored.

use bytes::Bytes;

use crate::common::*;

const MAX: u64 = 1024 * 1024;

fn limited_server() -> TestServer {
    TestServer::start_with_config(&format!("max_upload_bytes = {MAX}\n"))
}

/// A 2 MiB upload: twice the limit.
fn oversized_form() -> (String, Vec<u8>) {
    Multipart::new().file("bits", "droplet.tgz", &random_bytes(2 * MAX as usize)).finish()
}

async fn assert_too_large(server: &TestServer, guid: &str, response: reqwest::Response) {
    let detail = assert_cf_error(response, 413, 10019, "CF-UploadTooLarge").await;
    assert_eq!(detail, format!("The upload exceeds the maximum size of {MAX} bytes."));
    server.wait_for_empty_blobstore().await;
    server.assert_untouched(guid).await;
}

#[tokio::test]
async fn oversized_upload_with_content_length_is_413() {
    let server = limited_server();
    let guid = server.create_droplet().await;
    let (content_type, body) = oversized_form();
    let response = server
        .request(reqwest::Method::POST, &format!("/v3/droplets/{guid}/upload"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("a response, not a broken connection");
    assert_too_large(&server, &guid, response).await;
}

/// Without a length the server can only find out as the bytes arrive; it must stop there too.
#[tokio::test]
async fn oversized_chunked_upload_is_413() {
    let server = limited_server();
    let guid = server.create_droplet().await;
    let (content_type, body) = oversized_form();
    let chunks: Vec<std::io::Result<Bytes>> =
        body.chunks(16 * 1024).map(|chunk| Ok(Bytes::copy_from_slice(chunk))).collect();
    let response = server
        .request(reqwest::Method::POST, &format!("/v3/droplets/{guid}/upload"))
        .header("content-type", content_type)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("a response, not a broken connection");
    assert_too_large(&server, &guid, response).await;
}

#[tokio::test]
async fn upload_under_the_limit_is_accepted() {
    let server = limited_server();
    let guid = server.create_droplet().await;
    let bits = tarball(&[("./app/blob.bin", &random_bytes(MAX as usize / 2))]);
    let job = server.upload_and_wait(&guid, &bits).await;
    assert_eq!(job.state, droplet_client::types::JobState::Complete, "{job:?}");
}

/// curl announces the length and waits for `100 Continue`: the 413 comes before the body.
#[tokio::test]
async fn curl_gets_the_413() {
    let server = limited_server();
    let guid = server.create_droplet().await;
    let dir = server.scratch();
    std::fs::write(dir.join("droplet.tgz"), random_bytes(2 * MAX as usize)).unwrap();
    let output = tokio::process::Command::new("curl")
        .current_dir(&dir)
        .args(["--silent", "--show-error", "--write-out", "\n%{http_code}"])
        .args(["-H", &format!("Authorization: bearer {}", server.token(&[READ, WRITE]))])
        .args(["-F", "bits=@droplet.tgz"])
        .arg(server.url(&format!("/v3/droplets/{guid}/upload")))
        .output()
        .await
        .expect(CURL_NEEDED);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let (body, status) = stdout.rsplit_once('\n').unwrap();
    assert_eq!(status, "413", "{body}");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["errors"][0]["title"], "CF-UploadTooLarge");
    server.wait_for_empty_blobstore().await;
}

/// Past `max_concurrent_uploads` streaming at once, an upload is turned away before its body is
/// read: 503 with `Retry-After`, and nothing stored.
#[tokio::test]
pub async fn uploads_past_the_concurrency_limit_are_503_with_retry_after() {
    let server = TestServer::start_with_config("max_concurrent_uploads = 1\n");
    let streaming = server.create_droplet().await;
    let bits = tarball(&[("./app/blob.bin", &random_bytes(1024 * 1024))]);
    let form = Multipart::new().file("bits", "droplet.tgz", &bits);
    let connection = server.start_partial_upload(&streaming, form, 300 * 1024).await;

    let refused = server.create_droplet().await;
    let form = Multipart::new().file("bits", "droplet.tgz", &small_droplet());
    let response = server.post_form(&refused, form).await;
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let detail = assert_cf_error(response, 503, 10015, "CF-ServiceUnavailable").await;
    assert!(detail.contains("max_concurrent_uploads"), "{detail}");
    let retry_after: u64 = retry_after.expect("a Retry-After header").parse().unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    assert_eq!(server.partial_blobs().len(), 1, "only the streaming upload writes");

    // Once the slot is free, the refused droplet takes its upload.
    drop(connection);
    eventually("the dropped upload to free its slot", || async {
        server.partial_blobs().is_empty()
    })
    .await;
    server.assert_untouched(&refused).await;
}
