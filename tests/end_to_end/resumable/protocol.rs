//! tus as a client sees it: the flow, the headers of each answer, and each refusal with its
//! status and CF error body, after which the upload is where it was.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Method;

use super::{assert_staged, droplet_and_bits};
use crate::common::*;

fn sha256_base64(bytes: &[u8]) -> String {
    BASE64.encode(hex::decode(sha256_hex(bytes)).unwrap())
}

#[tokio::test]
async fn a_droplet_arrives_in_appends_and_stages() {
    let server = TestServer::start();
    let (guid, bits) = droplet_and_bits(&server, 1200).await;

    let options = server.tus(Method::OPTIONS, &server.url(&format!("/v3/droplets/{guid}/uploads")));
    let options = options.send().await.unwrap();
    assert_eq!(options.status(), 204);
    assert_eq!(header(&options, "tus-version"), Some("1.0.0"));
    assert_eq!(header(&options, "tus-extension"), Some("creation,termination,expiration,checksum"));
    assert_eq!(header(&options, "tus-max-size"), Some("2147483648"));
    assert_eq!(header(&options, "tus-checksum-algorithm"), Some("sha256"));

    let create = server.url(&format!("/v3/droplets/{guid}/uploads"));
    let metadata = format!("filename {}", BASE64.encode("droplet.tgz"));
    let created = server.tus(Method::POST, &create).header("upload-length", bits.len());
    let created = created.header("upload-metadata", &metadata).send().await.unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "tus-resumable"), Some("1.0.0"));
    assert!(header(&created, "upload-expires").unwrap().ends_with(" GMT"));
    let url = header(&created, "location").unwrap().to_owned();
    let id = url.strip_prefix(&format!("{create}/")).expect("the form of an upload's URL");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{url}");
    // One upload at a time: the droplet still awaits its bits, but takes no other upload.
    assert_eq!(server.droplet_json(&guid).await["state"], "AWAITING_UPLOAD");
    let multipart = server.post_form(&guid, Multipart::new().file("bits", "d.tgz", &bits)).await;
    assert_eq!(assert_cf_error(multipart, 422, 10008, "CF-UnprocessableEntity").await, IN_PROGRESS);
    let another = server.tus(Method::POST, &create).header("upload-length", 10).send().await;
    assert_cf_error(another.unwrap(), 422, 10008, "CF-UnprocessableEntity").await;

    let head = server.tus(Method::HEAD, &url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "upload-offset"), Some("0"));
    assert_eq!(header(&head, "upload-length"), Some(bits.len().to_string().as_str()));
    assert_eq!(header(&head, "cache-control"), Some("no-store"));
    assert_eq!(header(&head, "upload-metadata"), Some(metadata.as_str()));
    assert_eq!(header(&head, "job-location"), None);

    let (first, rest) = bits.split_at(400 * 1024);
    let (second, third) = rest.split_at(500 * 1024);
    server.tus_append(&url, 0, first).await;
    // The second with its checksum, which it matches.
    let checked = server.tus(Method::PATCH, &url).header("upload-offset", first.len());
    let checked = checked.header("content-type", OFFSET_STREAM);
    let checked = checked.header("upload-checksum", format!("sha256 {}", sha256_base64(second)));
    let checked = checked.body(second.to_vec()).send().await.unwrap();
    assert_eq!(checked.status(), 204);
    assert!(header(&checked, "upload-expires").is_some());
    assert_eq!(server.tus_offset(&url).await, (first.len() + second.len()) as u64);
    let last = server.tus_append(&url, (first.len() + second.len()) as u64, third).await;
    let job = header(&last, "job-location").expect("the job, once complete").to_owned();
    assert!(job.starts_with(&server.url("/v3/jobs/")), "{job}");
    assert_staged(&server, &guid, &job, &bits).await;
    assert_eq!(server.download_bits(&guid).await, bits);
    assert!(server.log().contains("fed by its appends"), "the appends fed the checks");

    // Asked again, the complete upload says so, and names its job.
    let head = server.tus(Method::HEAD, &url).send().await.unwrap();
    assert_eq!(header(&head, "upload-offset"), Some(bits.len().to_string().as_str()));
    assert_eq!(header(&head, "job-location"), Some(job.as_str()));
    assert_eq!(header(&head, "upload-expires"), None);
    // A last append whose answer was lost may be sent again, empty, and gets the same answer.
    let again = server.tus_patch(&url, bits.len() as u64, vec![]).await;
    assert_eq!(again.status(), 204);
    assert_eq!(header(&again, "job-location"), Some(job.as_str()));
    let more = server.tus_patch(&url, bits.len() as u64, b"more".to_vec()).await;
    assert_cf_error(more, 413, 10019, "CF-UploadTooLarge").await;
    let end = server.tus(Method::DELETE, &url).send().await.unwrap();
    assert_cf_error(end, 422, 10008, "CF-UnprocessableEntity").await;
    // The droplet has its bits: no upload of either kind.
    let again = server.tus(Method::POST, &create).header("upload-length", 10).send().await;
    let detail = assert_cf_error(again.unwrap(), 422, 10008, "CF-UnprocessableEntity").await;
    assert_eq!(detail, ONLY_ONCE);
}

#[tokio::test]
async fn every_bad_request_is_refused_with_its_status_and_changes_nothing() {
    let server = TestServer::start();
    let (guid, bits) = droplet_and_bits(&server, 300).await;
    let create = server.url(&format!("/v3/droplets/{guid}/uploads"));
    let url = server.tus_create(&guid, bits.len() as u64).await;
    server.tus_append(&url, 0, &bits[..1000]).await;
    let patch = |offset: u64| {
        server
            .tus(Method::PATCH, &url)
            .header("upload-offset", offset)
            .header("content-type", OFFSET_STREAM)
    };
    let read_only = format!("bearer {}", server.token(&[READ]));
    let reader = |method: Method, url: &str| {
        let request = server.raw().request(method, url).header("tus-resumable", "1.0.0");
        request.header("authorization", &read_only)
    };

    // Each refusal, then the upload stands where it was.
    let refusals: Vec<(&str, reqwest::RequestBuilder, u16, i64, &str)> = vec![
        (
            "no Tus-Resumable",
            server.request(Method::HEAD, url.strip_prefix(&server.base_url).unwrap()),
            412,
            10022,
            "CF-TusVersionUnsupported",
        ),
        (
            "no Tus-Resumable on an append",
            server
                .request(Method::PATCH, url.strip_prefix(&server.base_url).unwrap())
                .header("upload-offset", 1000)
                .header("content-type", OFFSET_STREAM)
                .body("x"),
            412,
            10022,
            "CF-TusVersionUnsupported",
        ),
        (
            "another tus version",
            patch(1000).header("tus-resumable", "0.2.2").body("x"),
            412,
            10022,
            "CF-TusVersionUnsupported",
        ),
        ("no Upload-Length", server.tus(Method::POST, &create), 400, 1001, "CF-MessageParseError"),
        (
            "a length over max_upload_bytes",
            server.tus(Method::POST, &create).header("upload-length", 3u64 << 30),
            413,
            10019,
            "CF-UploadTooLarge",
        ),
        (
            "an empty droplet",
            server.tus(Method::POST, &create).header("upload-length", 0),
            422,
            10008,
            "CF-UnprocessableEntity",
        ),
        (
            "malformed metadata",
            server
                .tus(Method::POST, &create)
                .header("upload-length", 9)
                .header("upload-metadata", "a b c"),
            400,
            10004,
            "CF-InvalidRequest",
        ),
        (
            "an unknown id",
            server.tus(
                Method::HEAD,
                &server.url(&format!("/v3/droplets/{guid}/uploads/{}", uuid::Uuid::new_v4())),
            ),
            404,
            10010,
            "CF-ResourceNotFound",
        ),
        (
            "another droplet's path",
            server.tus(Method::HEAD, &url.replace(&guid, &uuid::Uuid::new_v4().to_string())),
            404,
            10010,
            "CF-ResourceNotFound",
        ),
        ("a wrong offset", patch(999).body("x"), 409, 10021, "CF-UploadOffsetMismatch"),
        (
            "past the length",
            patch(1000).body(vec![0u8; bits.len()]),
            413,
            10019,
            "CF-UploadTooLarge",
        ),
        (
            "another media type",
            server
                .tus(Method::PATCH, &url)
                .header("upload-offset", 1000)
                .header("content-type", "application/octet-stream")
                .body("x"),
            415,
            10023,
            "CF-UnsupportedMediaType",
        ),
        (
            "a checksum that does not match",
            patch(1000)
                .header("upload-checksum", format!("sha256 {}", sha256_base64(b"y")))
                .body("x"),
            460,
            10025,
            "CF-ChecksumMismatch",
        ),
        (
            "a checksum algorithm not served",
            patch(1000).header("upload-checksum", "md5 AAAAAAAAAAAAAAAAAAAAAA==").body("x"),
            400,
            10004,
            "CF-InvalidRequest",
        ),
        (
            "a read-only token",
            reader(Method::PATCH, &url)
                .header("upload-offset", 1000)
                .header("content-type", OFFSET_STREAM)
                .body("x"),
            403,
            10003,
            "CF-NotAuthorized",
        ),
        ("a read-only token's HEAD", reader(Method::HEAD, &url), 403, 10003, "CF-NotAuthorized"),
        (
            "a read-only token's creation",
            reader(Method::POST, &create).header("upload-length", 9),
            403,
            10003,
            "CF-NotAuthorized",
        ),
        (
            "a read-only token's OPTIONS",
            reader(Method::OPTIONS, &create),
            403,
            10003,
            "CF-NotAuthorized",
        ),
        (
            "a read-only token's DELETE",
            reader(Method::DELETE, &url),
            403,
            10003,
            "CF-NotAuthorized",
        ),
        (
            "no token",
            server.raw().head(&url).header("tus-resumable", "1.0.0"),
            401,
            10002,
            "CF-NotAuthenticated",
        ),
        (
            "another upload while this one is in progress",
            server.tus(Method::POST, &create).header("upload-length", 9),
            422,
            10008,
            "CF-UnprocessableEntity",
        ),
    ];
    for (what, request, status, code, title) in refusals {
        let request = request.build().unwrap();
        let is_head = request.method() == Method::HEAD;
        let response = server.raw().execute(request).await.unwrap();
        if status == 412 {
            assert_eq!(header(&response, "tus-version"), Some("1.0.0"), "{what}");
        }
        if status != 401 && status != 400 {
            assert_eq!(header(&response, "tus-resumable"), Some("1.0.0"), "{what}");
        }
        if is_head {
            assert_eq!(response.status().as_u16(), status, "{what}");
        } else {
            let detail = assert_cf_error(response, status, code, title).await;
            println!("{what}: {status} {title}: {detail}");
        }
        assert_eq!(server.tus_offset(&url).await, 1000, "{what} changed the upload");
    }

    // Termination frees the droplet, and the upload is gone.
    let end = server.tus(Method::DELETE, &url).send().await.unwrap();
    assert_eq!(end.status(), 204);
    let head = server.tus(Method::HEAD, &url).send().await.unwrap();
    assert_eq!(head.status(), 404);
    let gone = server.tus_patch(&url, 1000, b"x".to_vec()).await;
    assert_cf_error(gone, 404, 10010, "CF-ResourceNotFound").await;
    let files = server.blob_files();
    assert!(files.iter().all(|file| !file.starts_with("resumable")), "{files:?}");
    server.assert_untouched(&guid).await;
}

/// Bits that are no gzip tarball fail the job with the reason, whether the appends fed the
/// checks (one server, in order) or the job read the stored bits (after a refused checksum
/// left the checks behind), and nothing of them is left.
#[tokio::test]
async fn bits_that_are_no_droplet_fail_the_job_with_the_reason() {
    let server = TestServer::start();
    for reread in [false, true] {
        let guid = server.create_droplet().await;
        let bits = random_bytes(200_000);
        let url = server.tus_create(&guid, bits.len() as u64).await;
        server.tus_append(&url, 0, &bits[..1000]).await;
        if reread {
            let wrong = format!("sha256 {}", sha256_base64(b"other"));
            let refused = server.tus(Method::PATCH, &url).header("upload-offset", 1000);
            let refused = refused.header("content-type", OFFSET_STREAM);
            let refused = refused.header("upload-checksum", wrong).body(bits[1000..].to_vec());
            assert_eq!(refused.send().await.unwrap().status(), 460);
        }
        let last = server.tus_append(&url, 1000, &bits[1000..]).await;
        let job = server.wait_for_job(header(&last, "job-location").unwrap()).await;
        assert_eq!(job.state, droplet_client::types::JobState::Failed, "{job:?}");
        let droplet = server.droplet_json(&guid).await;
        assert_eq!(droplet["state"], "FAILED");
        let error = droplet["error"].as_str().unwrap();
        assert!(error.starts_with("Uploaded droplet is invalid: "), "{error}");
        eventually("nothing of the bits to be left", || async {
            let files = server.blob_files();
            files.iter().all(|f| !f.starts_with("resumable") && !f.ends_with(&guid))
        })
        .await;
    }
    let log = server.log();
    assert!(log.contains("fed by its appends") && log.contains("to read the stored bits"));
}
