//! Downloads answered with a 302 to a short-lived signed URL that the server itself serves
//! (`[blobstore] redirect_downloads = true`), for clients that insist on a redirect.

use crate::common::*;

fn redirecting_server(ttl_secs: u64) -> TestServer {
    TestServer::start_with_config(&format!(
        "[blobstore]\nredirect_downloads = true\nsigned_url_ttl_secs = {ttl_secs}\n"
    ))
}

/// A staged droplet and the signed URL its download redirects to.
async fn staged_and_signed(server: &TestServer) -> (String, Vec<u8>, reqwest::Url) {
    let guid = server.create_droplet().await;
    let bits = small_droplet();
    server.upload_and_wait(&guid, &bits).await;
    let response = server.get(&format!("/v3/droplets/{guid}/download")).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let location = response.headers()["location"].to_str().unwrap();
    (guid, bits, reqwest::Url::parse(location).expect("an absolute Location"))
}

/// `url` with its query parameter `name` set to `value`.
pub fn with_query(url: &reqwest::Url, name: &str, value: &str) -> reqwest::Url {
    let mut url = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name { value.to_owned() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url
}

pub fn query(url: &reqwest::Url, name: &str) -> String {
    url.query_pairs().find(|(k, _)| k == name).expect("query parameter").1.into_owned()
}

#[tokio::test]
async fn download_redirects_to_a_signed_url_that_needs_no_token() {
    let server = redirecting_server(60);
    let (guid, bits, url) = staged_and_signed(&server).await;
    assert_eq!(
        url.as_str().split('?').next().unwrap(),
        server.url(&format!("/v3/droplets/{guid}/bits"))
    );
    let expires: i64 = query(&url, "expires").parse().expect("expires is unix time");
    assert!(expires > chrono::Utc::now().timestamp(), "already expired: {url}");
    let signature = query(&url, "signature");
    assert!(signature.len() >= 64 && signature.chars().all(|c| c.is_ascii_hexdigit()), "{url}");

    // No Authorization header: the URL carries its own authorization.
    let response = server.raw().get(url.clone()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"].to_str().unwrap(), format!("\"{}\"", sha256_hex(&bits)));
    assert_eq!(response.headers()["content-length"].to_str().unwrap(), bits.len().to_string());
    assert_eq!(response.bytes().await.unwrap(), bits);

    let response = server.raw().get(url).header("range", "bytes=0-9").send().await.unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.bytes().await.unwrap(), bits[..10]);
}

#[tokio::test]
async fn tampered_signed_url_is_403() {
    let server = redirecting_server(60);
    let (guid, _, url) = staged_and_signed(&server).await;
    let other = server.create_droplet().await;
    server.upload_succeeds(&other).await;

    let mut flipped = query(&url, "signature");
    let last = flipped.pop().unwrap();
    flipped.push(if last == '0' { '1' } else { '0' });
    let later = (query(&url, "expires").parse::<i64>().unwrap() + 3600).to_string();
    let mut other_droplet = url.clone();
    other_droplet.set_path(&format!("/v3/droplets/{other}/bits"));
    let tampered = [
        with_query(&url, "signature", &flipped),
        with_query(&url, "signature", "not-hex"),
        with_query(&url, "expires", &later),
        other_droplet,
    ];
    for url in tampered {
        let response = server.raw().get(url.clone()).send().await.unwrap();
        assert_cf_error(response, 403, 10003, "CF-NotAuthorized").await;
    }
    // The genuine URL still works.
    let response = server.raw().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{guid}");
}

#[tokio::test]
async fn expired_signed_url_is_403() {
    let server = redirecting_server(1);
    let (_, _, url) = staged_and_signed(&server).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let response = server.raw().get(url).send().await.unwrap();
    assert_cf_error(response, 403, 10003, "CF-NotAuthorized").await;
}

#[tokio::test]
async fn generated_client_follows_the_redirect() {
    let server = redirecting_server(60);
    let (guid, bits, _) = staged_and_signed(&server).await;
    let client = server.client();
    let stream = client.droplet_download(&guid, None, None, None).await.expect("redirect followed");
    assert_eq!(stream.status(), 200);
    assert_eq!(collect(stream).await, bits);

    let path = server.scratch().join("droplet.tgz");
    client.download_to_file(guid.parse().unwrap(), &path).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bits);
}
