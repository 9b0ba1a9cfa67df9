//! Downloads sent by nginx (`blobstore.x_accel_redirect_location`): the real server behind a real
//! nginx configured by the snippet the repository ships (`server/deploy/nginx-droplets.conf`).
//! Through nginx a client gets what the server alone answers (the bits, their validators and
//! digest, ranges, conditions, CF errors) while the bits come from nginx, as the server's
//! metrics show; reached directly, the same server streams them itself.

use crate::common::*;
use crate::download_semantics::{Target, check_semantics, header, repr_digest};
use crate::metrics::{requests, scrape};

/// The internal location of the shipped snippet.
const LOCATION: &str = "/droplet-bits/";

fn handing_over(extra_blobstore_keys: &str) -> String {
    format!("[blobstore]\nx_accel_redirect_location = \"{LOCATION}\"\n{extra_blobstore_keys}")
}

/// A server handing downloads over to the nginx in front of it, which the links it hands out
/// name (`external_url`), as the snippet's instructions say; and that nginx.
fn behind_nginx(extra_blobstore_keys: &str) -> (TestServer, Nginx) {
    let port = free_port();
    let server = TestServer::start_with_config(&format!(
        "external_url = \"http://127.0.0.1:{port}\"\n{}",
        handing_over(extra_blobstore_keys)
    ));
    let nginx = Nginx::start(port, &server);
    (server, nginx)
}

/// Bytes of bits the server sent itself, and downloads it handed over to nginx, so far.
async fn sent_and_handed_over(server: &TestServer) -> (f64, f64) {
    let (_, samples) = scrape(server).await;
    let sample = |name: &str| *samples.get(name).unwrap_or_else(|| panic!("no {name}"));
    (sample("droplet_download_bytes_sent_total"), sample("droplet_download_accel_redirects_total"))
}

/// What the server logged at error level: nothing, for any download here.
fn logged_errors(server: &TestServer) -> Vec<String> {
    server.log().lines().filter(|line| line.contains(" ERRO ")).map(str::to_owned).collect()
}

async fn get(
    server: &TestServer,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = server.raw().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("GET")
}

/// Checks the whole droplet came with everything the server says about it, and only once each.
async fn assert_whole_droplet(response: reqwest::Response, target: &Target) {
    let bits = &target.bits;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "etag"), Some(format!("\"{}\"", sha256_hex(bits))));
    assert_eq!(header(&response, "repr-digest"), Some(repr_digest(bits)));
    let disposition = format!("attachment; filename=\"droplet_{}.tgz\"", target.guid);
    assert_eq!(header(&response, "content-disposition"), Some(disposition));
    assert_eq!(header(&response, "content-type").as_deref(), Some("application/octet-stream"));
    assert_eq!(header(&response, "content-length"), Some(bits.len().to_string()));
    for name in ["etag", "repr-digest", "accept-ranges", "content-type", "content-disposition"] {
        assert_eq!(response.headers().get_all(name).iter().count(), 1, "{name} once");
    }
    assert_eq!(header(&response, "accept-ranges").as_deref(), Some("bytes"));
    // None of nginx's own validators, nothing of the handover.
    for name in ["last-modified", "x-accel-redirect"] {
        assert_eq!(header(&response, name), None, "{name}");
    }
    assert_eq!(response.bytes().await.unwrap(), bits[..]);
}

#[tokio::test]
async fn nginx_sends_the_bits_with_the_servers_headers() {
    let (server, nginx) = behind_nginx("");
    let target = Target::download(&server).await.through(&nginx.base_url);
    let token = target.token.clone();
    let token = token.as_deref();

    assert_whole_droplet(get(&server, &target.url, token, &[]).await, &target).await;

    let slice = get(&server, &target.url, token, &[("range", "bytes=100-199")]).await;
    assert_eq!(slice.status(), 206);
    let len = target.bits.len();
    assert_eq!(header(&slice, "content-range"), Some(format!("bytes 100-199/{len}")));
    assert_eq!(header(&slice, "etag"), Some(format!("\"{}\"", sha256_hex(&target.bits))));
    assert_eq!(header(&slice, "repr-digest"), Some(repr_digest(&target.bits)));
    assert_eq!(slice.bytes().await.unwrap(), target.bits[100..200]);

    // HEAD, If-None-Match (ours and another), If-Range (ours and another), a range past the end.
    check_semantics(&server, &target).await;

    // nginx's own validators, from the file's time and size, validate nothing.
    let modified = std::fs::metadata(server.blob_path(&target.guid)).unwrap().modified().unwrap();
    let modified = modified.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let nginx_etag = format!("\"{modified:x}-{len:x}\"");
    let response = get(&server, &target.url, token, &[("if-none-match", &nginx_etag)]).await;
    assert_whole_droplet(response, &target).await;
    let date = chrono::DateTime::from_timestamp(modified as i64, 0).unwrap();
    let date = date.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let response = get(&server, &target.url, token, &[("if-modified-since", &date)]).await;
    assert_whole_droplet(response, &target).await;

    // Every answer with bits was nginx's to send: four above, four in check_semantics (GET,
    // If-None-Match with another tag, If-Range with ours and with another).
    assert_eq!(sent_and_handed_over(&server).await, (0.0, 8.0));
    let (_, samples) = scrape(&server).await;
    assert_eq!(samples[&requests("droplet_download", 200)], 8.0);
    assert_eq!(samples[&requests("droplet_download", 304)], 1.0);
    assert_eq!(samples[&requests("droplet_download", 416)], 1.0);
    assert_eq!(samples[&requests("droplet_download_head", 200)], 1.0);
    assert_eq!(logged_errors(&server), Vec::<String>::new());
}

#[tokio::test]
async fn the_signed_bits_url_is_sent_by_nginx_too() {
    let (server, nginx) = behind_nginx("redirect_downloads = true\n");
    // The download redirects to a signed URL of nginx's, which needs no token.
    let target = Target::signed(&server).await;
    let bits_url = nginx.url(&format!("/v3/droplets/{}/bits?", target.guid));
    assert!(target.url.starts_with(&bits_url), "{}", target.url);
    let download = nginx.url(&format!("/v3/droplets/{}/download", target.guid));
    let redirect = get(&server, &download, Some(&server.token(&[READ])), &[]).await;
    assert_eq!(redirect.status(), 302);
    assert!(header(&redirect, "location").unwrap().starts_with(&bits_url));

    assert_whole_droplet(get(&server, &target.url, None, &[]).await, &target).await;
    let slice = get(&server, &target.url, None, &[("range", "bytes=-10")]).await;
    assert_eq!(slice.status(), 206);
    assert_eq!(slice.bytes().await.unwrap(), target.bits[target.bits.len() - 10..]);
    check_semantics(&server, &target).await;

    assert_eq!(sent_and_handed_over(&server).await, (0.0, 6.0));
    assert_eq!(logged_errors(&server), Vec::<String>::new());
}

#[tokio::test]
async fn nginx_passes_the_servers_refusals_on() {
    let (server, nginx) = behind_nginx("");
    let (guid, _) = crate::copy::staged(&server).await;
    let download = nginx.url(&format!("/v3/droplets/{guid}/download"));

    let response = get(&server, &download, None, &[]).await;
    assert_cf_error(response, 401, 10002, "CF-NotAuthenticated").await;
    let auditor = server.token(&[GLOBAL_AUDITOR]);
    let response = get(&server, &download, Some(&auditor), &[]).await;
    assert_cf_error(response, 403, 10003, "CF-NotAuthorized").await;
    let token = server.token(&[READ]);
    let unknown = nginx.url(&format!("/v3/droplets/{}/download", uuid::Uuid::new_v4()));
    let response = get(&server, &unknown, Some(&token), &[]).await;
    assert_cf_error(response, 404, 10010, "CF-ResourceNotFound").await;
    let awaiting = server.create_droplet().await;
    let not_staged = nginx.url(&format!("/v3/droplets/{awaiting}/download"));
    let response = get(&server, &not_staged, Some(&token), &[]).await;
    let detail = assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
    assert_eq!(detail, "Only staged droplets can be downloaded.");

    // The internal location is nginx's alone: asked from outside, with or without a token, the
    // droplet's file is not found there.
    let internal = nginx.url(&format!("{LOCATION}droplets/{guid}"));
    assert_eq!(get(&server, &internal, None, &[]).await.status(), 404);
    assert_eq!(get(&server, &internal, Some(&token), &[]).await.status(), 404);

    // nginx sets X-Sendfile-Type itself, whatever the client sent.
    let claimed = [("x-sendfile-type", "X-Sendfile")];
    let response = get(&server, &download, Some(&token), &claimed).await;
    assert_eq!(response.status(), 200);
    assert_eq!(sent_and_handed_over(&server).await, (0.0, 1.0));
    assert_eq!(logged_errors(&server), Vec::<String>::new());
}

#[tokio::test]
async fn a_lost_blob_is_still_the_servers_to_report() {
    let (server, nginx) = behind_nginx("");
    let (guid, _) = crate::copy::staged(&server).await;
    std::fs::remove_file(server.blob_path(&guid)).unwrap();
    let download = nginx.url(&format!("/v3/droplets/{guid}/download"));
    let response = get(&server, &download, Some(&server.token(&[READ])), &[]).await;
    assert_cf_error(response, 502, 150006, "CF-BlobstoreUnavailable").await;
    eventually("an error line naming the droplet", || async {
        logged_errors(&server)
            .iter()
            .any(|line| line.contains("bits are missing") && line.contains(&guid))
    })
    .await;
    assert_eq!(sent_and_handed_over(&server).await, (0.0, 0.0));
}

#[tokio::test]
async fn requests_nginx_would_answer_otherwise_stream_through_it() {
    let (server, nginx) = behind_nginx("");
    let target = Target::download(&server).await;
    let through_nginx = nginx.url(&format!("/v3/droplets/{}/download", target.guid));
    let token = target.token.as_deref();
    let past_end = format!("bytes={}-", target.bits.len());
    // nginx would answer these with 412, 416 or 206 where the server ignores the header, or with
    // a 416 outside the CF error format.
    let cases: [&[(&str, &str)]; 6] = [
        &[("if-match", "\"another\"")],
        &[("if-unmodified-since", "Sat, 01 Jan 2000 00:00:00 GMT")],
        &[("range", "bytes=9-0")],
        &[("range", "bytes=0-1,5-6")],
        &[("range", "Bytes=0-9")],
        &[("range", &past_end)],
    ];
    for headers in cases {
        let direct = get(&server, &target.url, token, headers).await;
        let proxied = get(&server, &through_nginx, token, headers).await;
        assert_eq!(proxied.status(), direct.status(), "{headers:?}");
        for name in ["content-type", "content-range", "etag", "repr-digest"] {
            assert_eq!(header(&proxied, name), header(&direct, name), "{name} with {headers:?}");
        }
        assert_eq!(proxied.bytes().await.unwrap(), direct.bytes().await.unwrap(), "{headers:?}");
    }
    let (_, handed_over) = sent_and_handed_over(&server).await;
    assert_eq!(handed_over, 0.0);
}

#[tokio::test]
async fn the_server_reached_directly_streams_the_bits() {
    let server = TestServer::start_with_config(&handing_over(""));
    let target = Target::download(&server).await;
    assert_whole_droplet(get(&server, &target.url, target.token.as_deref(), &[]).await, &target)
        .await;
    check_semantics(&server, &target).await;
    // The whole droplet four times (above, GET, If-None-Match with another tag, If-Range with
    // another), and the ten bytes of an If-Range with ours.
    let len = target.bits.len() as f64;
    assert_eq!(sent_and_handed_over(&server).await, (4.0 * len + 10.0, 0.0));

    // What nginx gets instead: no body, the file to send and the headers to keep.
    let nginx_asks = [("x-sendfile-type", "X-Accel-Redirect")];
    let handover = get(&server, &target.url, target.token.as_deref(), &nginx_asks).await;
    assert_eq!(handover.status(), 200);
    let file = format!("{LOCATION}droplets/{}", target.guid);
    assert_eq!(header(&handover, "x-accel-redirect"), Some(file));
    assert_eq!(header(&handover, "etag"), Some(format!("\"{}\"", sha256_hex(&target.bits))));
    assert_eq!(header(&handover, "repr-digest"), Some(repr_digest(&target.bits)));
    assert!(header(&handover, "content-disposition").is_some());
    assert_eq!(header(&handover, "content-type").as_deref(), Some("application/octet-stream"));
    // nginx adds its own to the file it sends.
    assert_eq!(header(&handover, "accept-ranges"), None);
    assert!(handover.bytes().await.unwrap().is_empty());
    assert_eq!(sent_and_handed_over(&server).await, (4.0 * len + 10.0, 1.0));
}
