//! Uploading bits: through the generated client, by hand and with curl; every way a form is
//! refused, in the reference's order; bits that are not a gzip tarball.

use droplet_client::{DropletUploadForm, FilePart, types};
use serde_json::Value;

use crate::common::*;

const INVALID: &str = "Uploaded droplet file is invalid: ";
const NO_BITS: &str = "A droplet tgz file must be uploaded as 'bits'";

/// Checks a 202 from the generated client: `Location` names the job, the body is the droplet
/// now `PROCESSING_UPLOAD` without an upload link; then that the job completes and the droplet is
/// `STAGED` with the SHA-256 of `bits`.
async fn assert_accepted_and_staged(
    server: &TestServer,
    guid: &str,
    accepted: droplet_client::ResponseValue<types::Droplet>,
    bits: &[u8],
) {
    assert_eq!(accepted.status(), 202);
    let location = accepted.headers()["location"].to_str().unwrap().to_owned();
    let job_guid = job_guid(&location).to_owned();
    assert_eq!(location, server.url(&format!("/v3/jobs/{job_guid}")));
    let body = &*accepted;
    assert_eq!(body.guid.to_string(), guid);
    assert_eq!(body.state, types::DropletState::ProcessingUpload);
    assert!(body.links.upload.is_none() && body.links.download.is_none(), "{:?}", body.links);
    assert!(body.checksum.is_none());

    let job =
        within_deadline("the job", server.client().wait_for_accepted_job(&accepted)).await.unwrap();
    assert_eq!(job.guid.to_string(), job_guid);
    assert_eq!(job.operation, "droplet.upload");
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    assert!(job.errors.is_empty());
    assert_eq!(job.links.self_.href, location);
    assert_eq!(job.links.droplet.unwrap().href, server.url(&format!("/v3/droplets/{guid}")));

    let droplet = server.droplet(guid).await;
    assert_eq!(droplet.state, types::DropletState::Staged);
    assert!(droplet.error.is_none());
    let checksum = droplet.checksum.unwrap();
    assert_eq!((checksum.type_.as_str(), checksum.value), ("sha256", sha256_hex(bits)));
}

#[tokio::test]
pub async fn upload_from_path_through_the_generated_client() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let bits = small_droplet();
    let path = server.scratch().join("droplet.tgz");
    std::fs::write(&path, &bits).unwrap();

    let form =
        DropletUploadForm { bits: FilePart::from_path(&path).await.unwrap(), resources: None };
    let accepted = server.client().droplet_upload(&guid, form).await.unwrap();
    assert_accepted_and_staged(&server, &guid, accepted, &bits).await;
}

#[tokio::test]
async fn upload_from_a_stream_of_unknown_length() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let bits = tarball(&[("./app/big.bin", &random_bytes(512 * 1024))]);
    let chunks: Vec<std::io::Result<bytes::Bytes>> =
        bits.chunks(7000).map(|chunk| Ok(bytes::Bytes::copy_from_slice(chunk))).collect();

    let part = FilePart::from_stream("droplet.tar.gz", None, futures::stream::iter(chunks));
    let form = DropletUploadForm { bits: part, resources: None };
    let accepted = server.client().droplet_upload(&guid, form).await.unwrap();
    assert_accepted_and_staged(&server, &guid, accepted, &bits).await;
}

#[tokio::test]
pub async fn upload_a_multipart_body_made_like_curl() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let bits = small_droplet();
    let response =
        server.post_form(&guid, Multipart::new().file("bits", "droplet.tgz", &bits)).await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let droplet: Value = response.json().await.unwrap();
    assert_eq!(droplet["state"], "PROCESSING_UPLOAD");

    let job = server.wait_for_job(&location).await;
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    assert_eq!(server.droplet(&guid).await.checksum.unwrap().value, sha256_hex(&bits));
}

/// The real `curl -F bits=@droplet.tgz`; 2 MiB, so that curl also sends `Expect: 100-continue`.
#[tokio::test]
async fn upload_with_real_curl() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let bits = tarball(&[("./app/blob.bin", &random_bytes(2 * 1024 * 1024))]);
    let dir = server.scratch();
    std::fs::write(dir.join("droplet.tgz"), &bits).unwrap();

    let output = tokio::process::Command::new("curl")
        .current_dir(&dir)
        .args(["--silent", "--show-error", "--dump-header", "headers", "--output", "body"])
        .args(["--write-out", "%{http_code}"])
        .args(["-H", &format!("Authorization: bearer {}", server.token(&[READ, WRITE]))])
        .args(["-F", "bits=@droplet.tgz"])
        .arg(server.url(&format!("/v3/droplets/{guid}/upload")))
        .output()
        .await
        .expect(CURL_NEEDED);
    assert!(output.status.success(), "{output:?}");
    let body = std::fs::read_to_string(dir.join("body")).unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "202", "{body}");
    let headers = std::fs::read_to_string(dir.join("headers")).unwrap();
    let location = headers
        .lines()
        .find_map(|line| line.strip_prefix("location: ").or(line.strip_prefix("Location: ")))
        .unwrap_or_else(|| panic!("no Location in {headers}"))
        .trim();

    let job = server.wait_for_job(location).await;
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    assert_eq!(server.droplet(&guid).await.checksum.unwrap().value, sha256_hex(&bits));
}

// ---- forms the server refuses -------------------------------------------------------------------

/// Posts `form` to a fresh droplet; expects 422 with `reason`, and that nothing changed.
async fn assert_form_refused(form: Multipart, reason: &str) {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let response = server.post_form(&guid, form).await;
    let detail = assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
    assert_eq!(detail, format!("{INVALID}{reason}"));
    server.wait_for_empty_blobstore().await;
    server.assert_untouched(&guid).await;
}

#[tokio::test]
async fn missing_bits_part_is_422() {
    assert_form_refused(Multipart::new().field("resources", "[]"), NO_BITS).await;
}

#[tokio::test]
async fn bits_sent_as_a_plain_field_is_422() {
    assert_form_refused(Multipart::new().field("bits", "H4sI"), NO_BITS).await;
}

#[tokio::test]
async fn bits_not_named_tgz_is_422() {
    let form = Multipart::new().file("bits", "x.zip", &small_droplet());
    assert_form_refused(form, "x.zip is not a tgz").await;
}

#[tokio::test]
async fn empty_bits_is_422() {
    let form = Multipart::new().file("bits", "droplet.tgz", b"");
    assert_form_refused(form, "droplet.tgz cannot be empty").await;
}

#[tokio::test]
async fn unknown_form_field_before_the_bits_is_422() {
    let form =
        Multipart::new().field("color", "blue").file("bits", "droplet.tgz", &small_droplet());
    assert_form_refused(form, "Unknown field(s): 'color'").await;
}

#[tokio::test]
pub async fn unknown_form_field_after_the_bits_is_422() {
    let form =
        Multipart::new().file("bits", "droplet.tgz", &small_droplet()).field("color", "blue");
    assert_form_refused(form, "Unknown field(s): 'color'").await;
}

/// A `resources` field that is not a JSON array of resources, before or after the bits.
#[tokio::test]
async fn malformed_resources_field_is_422() {
    for resources_first in [true, false] {
        let server = TestServer::start();
        let guid = server.create_droplet().await;
        let bits = small_droplet();
        let form = match resources_first {
            true => Multipart::new().field("resources", "[{\"path\":").file("bits", "d.tgz", &bits),
            false => Multipart::new().file("bits", "d.tgz", &bits).field("resources", "{}"),
        };
        let response = server.post_form(&guid, form).await;
        let detail = assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
        let expected = "resources must be a JSON array of {path, size_in_bytes, checksum: {value}}";
        assert!(detail.starts_with(&format!("{INVALID}{expected}")), "{detail}");
        server.assert_untouched(&guid).await;
    }
}

/// A body whose length is right but whose form never ends (no closing boundary).
#[tokio::test]
async fn multipart_body_cut_short_is_422() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let (content_type, body) =
        Multipart::new().file("bits", "droplet.tgz", &small_droplet()).finish();
    let cut = body.len() - 100;
    let response = server
        .request(reqwest::Method::POST, &format!("/v3/droplets/{guid}/upload"))
        .header("content-type", content_type)
        .body(body[..cut].to_vec())
        .send()
        .await
        .unwrap();
    let detail = assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
    assert!(detail.starts_with(INVALID), "{detail}");
    server.wait_for_empty_blobstore().await;
    server.assert_untouched(&guid).await;
}

#[tokio::test]
async fn body_that_is_not_multipart_is_422() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let path = format!("/v3/droplets/{guid}/upload");
    let post = || server.request(reqwest::Method::POST, &path);
    let requests = [
        post().header("content-type", "application/json"),
        post().header("content-type", "multipart/form-data"),
        post(),
    ];
    for request in requests {
        let response = request.body(r#"{"bits":"droplet.tgz"}"#).send().await.unwrap();
        let detail = assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
        assert_eq!(detail, format!("{INVALID}{NO_BITS}"));
    }
    server.assert_untouched(&guid).await;
}

#[tokio::test]
async fn upload_to_an_unknown_droplet_is_404() {
    let server = TestServer::start();
    for guid in [uuid::Uuid::new_v4().to_string(), "not-a-guid".to_owned()] {
        let form = Multipart::new().file("bits", "droplet.tgz", &small_droplet());
        let response = server.post_form(&guid, form).await;
        let detail = assert_cf_error(response, 404, 10010, "CF-ResourceNotFound").await;
        assert_eq!(detail, "Droplet not found");
    }
    server.wait_for_empty_blobstore().await;
}

#[tokio::test]
async fn upload_without_write_scope_is_403() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let reader = server.client_with(&server.token(&[READ]));
    let form = DropletUploadForm {
        bits: FilePart::from_bytes("droplet.tgz", small_droplet()),
        resources: None,
    };
    let result = reader.droplet_upload(&guid, form).await;
    assert_client_cf_error(result, 403, 10003, "CF-NotAuthorized");
    server.assert_untouched(&guid).await;
}

/// The reference checks the body (422), then that the droplet exists (404), then that the caller
/// may write (403), then the droplet's state (422).
#[tokio::test]
pub async fn upload_checks_come_in_the_reference_order() {
    let server = TestServer::start();
    let awaiting = server.create_droplet().await;
    let staged = server.create_droplet().await;
    server.upload_succeeds(&staged).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let (writer, reader) = (server.token(&[READ, WRITE]), server.token(&[READ]));
    let valid = || Multipart::new().file("bits", "droplet.tgz", &small_droplet());
    let invalid = || Multipart::new().file("bits", "droplet.zip", &small_droplet());

    let cases = [
        // (droplet, token, form, status, title)
        (&unknown, &reader, invalid(), 422, "CF-UnprocessableEntity"),
        (&awaiting, &reader, invalid(), 422, "CF-UnprocessableEntity"),
        (&staged, &reader, invalid(), 422, "CF-UnprocessableEntity"),
        (&unknown, &reader, valid(), 404, "CF-ResourceNotFound"),
        (&staged, &reader, valid(), 403, "CF-NotAuthorized"),
        (&staged, &writer, valid(), 422, "CF-UnprocessableEntity"),
    ];
    for (guid, token, form, status, title) in cases {
        let (content_type, body) = form.finish();
        let response = server
            .raw()
            .post(server.url(&format!("/v3/droplets/{guid}/upload")))
            .header("authorization", format!("bearer {token}"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let code = match status {
            404 => 10010,
            403 => 10003,
            _ => 10008,
        };
        let detail = assert_cf_error(response, status, code, title).await;
        if status == 422 && guid == &staged && token == &writer {
            assert_eq!(detail, ONLY_ONCE);
        }
    }
    server.assert_untouched(&awaiting).await;
}

/// The body's validity comes first even when the offending field follows the bits.
#[tokio::test]
async fn a_field_after_the_bits_is_checked_before_the_droplet() {
    let server = TestServer::start();
    let unknown = uuid::Uuid::new_v4().to_string();
    let form =
        Multipart::new().file("bits", "droplet.tgz", &small_droplet()).field("color", "blue");
    let response = server.post_form(&unknown, form).await;
    let detail = assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
    assert_eq!(detail, format!("{INVALID}Unknown field(s): 'color'"));
}

#[tokio::test]
pub async fn second_upload_is_422_and_keeps_the_first_bits() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let first = small_droplet();
    server.upload_and_wait(&guid, &first).await;

    let response = server
        .post_form(&guid, Multipart::new().file("bits", "droplet.tgz", &small_droplet()))
        .await;
    let detail = assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
    assert_eq!(detail, ONLY_ONCE);
    let droplet = server.droplet(&guid).await;
    assert_eq!(droplet.state, types::DropletState::Staged);
    assert_eq!(droplet.checksum.unwrap().value, sha256_hex(&first));
    let stored = std::fs::read(server.blob_path(&guid)).unwrap();
    assert_eq!(sha256_hex(&stored), sha256_hex(&first));
}

#[tokio::test]
pub async fn failed_droplet_takes_no_second_upload() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    server.upload_and_wait(&guid, b"not gzip").await;
    let response = server
        .post_form(&guid, Multipart::new().file("bits", "droplet.tgz", &small_droplet()))
        .await;
    let detail = assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
    assert_eq!(detail, ONLY_ONCE);
    assert_eq!(server.droplet(&guid).await.state, types::DropletState::Failed);
}
