//! Downloading bits from the local blobstore, streamed: headers, ranges, and the refusals in the
//! reference's order.

use crate::common::*;
use droplet_client::ClientError;

/// A staged droplet; returns its guid and bits.
async fn staged_droplet(server: &TestServer) -> (String, Vec<u8>) {
    let guid = server.create_droplet().await;
    let bits = tarball(&[("./app/blob.bin", &random_bytes(200 * 1024))]);
    server.upload_and_wait(&guid, &bits).await;
    (guid, bits)
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap()
}

#[tokio::test]
pub async fn download_streams_the_whole_droplet_with_its_headers() {
    let server = TestServer::start();
    let (guid, bits) = staged_droplet(&server).await;
    let response = server.get(&format!("/v3/droplets/{guid}/download")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-length"), bits.len().to_string());
    assert_eq!(header(&response, "etag"), format!("\"{}\"", sha256_hex(&bits)));
    assert_eq!(header(&response, "accept-ranges"), "bytes");
    assert_eq!(header(&response, "content-type"), "application/octet-stream");
    assert_eq!(response.bytes().await.unwrap(), bits);
}

#[tokio::test]
pub async fn download_answers_a_range_with_206_and_that_slice() {
    let server = TestServer::start();
    let (guid, bits) = staged_droplet(&server).await;
    let len = bits.len();
    let cases = [
        ("bytes=0-9", 0..10),
        ("bytes=10-", 10..len),
        ("bytes=-5", len - 5..len),
        (&format!("bytes=100-{}", len * 2), 100..len),
    ];
    for (range, slice) in cases {
        let response = server
            .get(&format!("/v3/droplets/{guid}/download"))
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 206, "{range}");
        let content_range = format!("bytes {}-{}/{len}", slice.start, slice.end - 1);
        assert_eq!(header(&response, "content-range"), content_range, "{range}");
        assert_eq!(header(&response, "content-length"), slice.len().to_string(), "{range}");
        assert_eq!(header(&response, "etag"), format!("\"{}\"", sha256_hex(&bits)));
        assert_eq!(response.bytes().await.unwrap(), bits[slice], "{range}");
    }
}

/// Several ranges, another unit, or nonsense: ignored, as RFC 9110 allows; the whole droplet.
#[tokio::test]
async fn range_forms_not_served_get_the_whole_droplet() {
    let server = TestServer::start();
    let (guid, bits) = staged_droplet(&server).await;
    for range in ["bytes=0-1,5-6", "items=0-9", "bytes=9-1", "bytes=a-b"] {
        let response = server
            .get(&format!("/v3/droplets/{guid}/download"))
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{range}");
        assert!(response.headers().get("content-range").is_none(), "{range}");
        assert_eq!(response.bytes().await.unwrap(), bits, "{range}");
    }
}

#[tokio::test]
async fn generated_client_downloads_a_range() {
    let server = TestServer::start();
    let (guid, bits) = staged_droplet(&server).await;
    let stream =
        server.client().droplet_download(&guid, None, None, Some("bytes=-100")).await.unwrap();
    assert_eq!(stream.status(), 206);
    assert_eq!(collect(stream).await, bits[bits.len() - 100..]);
}

#[tokio::test]
async fn unsatisfiable_range_is_416() {
    let server = TestServer::start();
    let (guid, bits) = staged_droplet(&server).await;
    for range in [format!("bytes={}-", bits.len()), "bytes=-0".to_owned()] {
        let response = server
            .get(&format!("/v3/droplets/{guid}/download"))
            .header("range", &range)
            .send()
            .await
            .unwrap();
        assert_cf_error(response, 416, 10020, "CF-RangeNotSatisfiable").await;
    }
}

#[tokio::test]
pub async fn download_of_a_droplet_without_bits_is_422() {
    let server = TestServer::start();
    let awaiting = server.create_droplet().await;
    let failed = server.create_droplet().await;
    server.upload_and_wait(&failed, b"not gzip").await;
    for guid in [awaiting, failed] {
        let response = server.get(&format!("/v3/droplets/{guid}/download")).send().await.unwrap();
        let detail = assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
        assert_eq!(detail, "Only staged droplets can be downloaded.");
    }
}

#[tokio::test]
async fn download_of_a_droplet_whose_blob_is_gone_is_502_and_logged() {
    let server = TestServer::start();
    let (guid, _) = staged_droplet(&server).await;
    std::fs::remove_file(server.blob_path(&guid)).unwrap();
    let response = server.get(&format!("/v3/droplets/{guid}/download")).send().await.unwrap();
    let detail = assert_cf_error(response, 502, 150006, "CF-BlobstoreUnavailable").await;
    assert_eq!(detail, "Failed to perform operation due to blobstore unavailability.");
    // Lost data: an error line naming the droplet, for the operator (the log is written
    // asynchronously).
    eventually("an error line naming the droplet", || async {
        server.log().lines().any(|line| {
            line.contains("ERRO") && line.contains("bits are missing") && line.contains(&guid)
        })
    })
    .await;
}

#[tokio::test]
async fn download_of_an_unknown_droplet_is_404() {
    let server = TestServer::start();
    // Not found comes before not allowed.
    let auditor = server.token(&[GLOBAL_AUDITOR]);
    for guid in [uuid::Uuid::new_v4().to_string(), "not-a-guid".to_owned()] {
        let response = server
            .raw()
            .get(server.url(&format!("/v3/droplets/{guid}/download")))
            .header("authorization", format!("bearer {auditor}"))
            .send()
            .await
            .unwrap();
        let detail = assert_cf_error(response, 404, 10010, "CF-ResourceNotFound").await;
        assert_eq!(detail, "Droplet not found");
    }
}

/// A global auditor reads droplets but may not download their bits; an admin_read_only may.
#[tokio::test]
async fn global_auditor_may_read_but_not_download() {
    let server = TestServer::start();
    let (guid, bits) = staged_droplet(&server).await;
    let auditor = server.client_with(&server.token(&[GLOBAL_AUDITOR]));
    auditor.droplet_get(&guid).await.expect("an auditor reads the droplet");
    let result = auditor.droplet_download(&guid, None, None, None).await;
    assert_client_cf_error(result, 403, 10003, "CF-NotAuthorized");

    let read_only_admin = server.client_with(&server.token(&[ADMIN_READ_ONLY]));
    let path = server.scratch().join("copy.tgz");
    read_only_admin.download_to_file(guid.parse().unwrap(), &path).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bits);
}

#[tokio::test]
pub async fn download_to_file_verifies_the_sha256() {
    let server = TestServer::start();
    let (guid, bits) = staged_droplet(&server).await;
    let path = server.scratch().join("droplet.tgz");
    let report = server.client().download_to_file(guid.parse().unwrap(), &path).await.unwrap();
    assert_eq!((report.bytes, report.sha256.as_str()), (bits.len() as u64, &*sha256_hex(&bits)));
    assert_eq!(std::fs::read(&path).unwrap(), bits);

    // Flip a byte of the stored blob: the client must notice, and keep no file.
    let mut corrupted = bits.clone();
    corrupted[1000] ^= 0xff;
    std::fs::write(server.blob_path(&guid), &corrupted).unwrap();
    let path = server.scratch().join("corrupted.tgz");
    match server.client().download_to_file(guid.parse().unwrap(), &path).await {
        Err(ClientError::DownloadChecksumMismatch { expected, actual }) => {
            assert_eq!(expected, sha256_hex(&bits));
            assert_eq!(actual, sha256_hex(&corrupted));
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    assert!(!path.exists());
    assert!(!server.scratch().join("corrupted.tgz.part").exists());
}

/// A staged droplet whose row lacks its checksum or its size (a fault outside the server, made
/// here in the SQLite file) is a 500 either way, the log naming what is missing: never bits
/// without the `ETag` and `Repr-Digest` clients check them against.
#[tokio::test]
async fn a_staged_droplet_without_its_checksum_or_size_is_a_500() {
    let server = TestServer::start();
    let url = format!("sqlite://{}", server.data_dir().join("droplets.db").display());
    let database = sqlx::SqlitePool::connect(&url).await.expect("the server's SQLite database");
    for (column, missing) in [("checksum_sha256", "checksum"), ("blob_size", "size")] {
        let (guid, _) = staged_droplet(&server).await;
        let forget = format!("UPDATE droplets SET {column} = NULL WHERE guid = '{guid}'");
        let forgotten = sqlx::query(&forget).execute(&database).await.expect("UPDATE");
        assert_eq!(forgotten.rows_affected(), 1);
        for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
            let path = format!("/v3/droplets/{guid}/download");
            let response = server.request(method, &path).send().await.unwrap();
            assert_eq!(response.status(), 500, "{missing} missing");
            assert_eq!(response.headers().get("etag"), None);
        }
        let response = server.get(&format!("/v3/droplets/{guid}/download")).send().await.unwrap();
        assert_cf_error(response, 500, 10001, "UnknownError").await;
        let logged = format!("staged droplet {guid} has no {missing} recorded");
        eventually(&logged, || async { server.log().contains(&logged) }).await;
    }
}
