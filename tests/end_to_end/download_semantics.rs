//! Downloads behave like the file servers clients know (nginx, S3), on `/download` and on the
//! signed URL alike: HEAD, `ETag` with `If-None-Match` and `If-Range`, `416` with its
//! `Content-Range`, `Repr-Digest` (RFC 9530) and `Content-Disposition`.

use crate::common::*;

/// Where a test downloads from: with a token, or through a signed URL that needs none.
pub struct Target {
    pub url: String,
    pub token: Option<String>,
    pub guid: String,
    pub bits: Vec<u8>,
}

impl Target {
    /// A staged droplet's `/download`.
    pub async fn download(server: &TestServer) -> Self {
        let (guid, bits) = crate::copy::staged(server).await;
        let url = server.url(&format!("/v3/droplets/{guid}/download"));
        Target { url, token: Some(server.token(&[READ])), guid, bits }
    }

    /// A staged droplet's signed URL (`redirect_downloads`).
    pub async fn signed(server: &TestServer) -> Self {
        let target = Self::download(server).await;
        let response = server.raw().get(&target.url).bearer_auth(target.token.clone().unwrap());
        let response = response.send().await.unwrap();
        assert_eq!(response.status(), 302);
        let url = response.headers()["location"].to_str().unwrap().to_owned();
        Target { url, token: None, ..target }
    }

    /// The same download asked of what listens at `base_url` (a proxy in front of the server).
    pub fn through(self, base_url: &str) -> Self {
        let path = self.url.split_once("/v3/").map(|(_, path)| path).expect("a /v3 URL");
        Target { url: format!("{base_url}/v3/{path}"), ..self }
    }

    async fn send(
        &self,
        server: &TestServer,
        method: reqwest::Method,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = server.raw().request(method, &self.url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    fn etag(&self) -> String {
        format!("\"{}\"", sha256_hex(&self.bits))
    }
}

pub fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

/// `sha-256=:<base64 of the digest>:`, RFC 9530's `Repr-Digest`.
pub fn repr_digest(bits: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let digest = Sha256::digest(bits);
    let mut out = String::new();
    for chunk in digest.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    format!("sha-256=:{out}:")
}

pub async fn check_semantics(server: &TestServer, target: &Target) {
    let (len, etag) = (target.bits.len(), target.etag());
    let disposition = format!("attachment; filename=\"droplet_{}.tgz\"", target.guid);

    // GET: the whole droplet, its digest and a file name.
    let get = target.send(server, reqwest::Method::GET, &[]).await;
    assert_eq!(get.status(), 200);
    assert_eq!(header(&get, "repr-digest"), Some(repr_digest(&target.bits)));
    assert_eq!(header(&get, "content-disposition"), Some(disposition.clone()));
    let get_headers = get.headers().clone();
    assert_eq!(get.bytes().await.unwrap(), target.bits);

    // HEAD: the GET's headers, no body.
    let head = target.send(server, reqwest::Method::HEAD, &[]).await;
    assert_eq!(head.status(), 200);
    for name in [
        "content-length",
        "etag",
        "accept-ranges",
        "repr-digest",
        "content-disposition",
        "content-type",
    ] {
        assert_eq!(head.headers().get(name), get_headers.get(name), "{name}");
    }
    assert!(head.bytes().await.unwrap().is_empty());

    // A cached copy that is current: 304, no body.
    let cached = target.send(server, reqwest::Method::GET, &[("if-none-match", &etag)]).await;
    assert_eq!(cached.status(), 304);
    assert_eq!(header(&cached, "etag"), Some(etag.clone()));
    assert!(cached.bytes().await.unwrap().is_empty());
    let other = target.send(server, reqwest::Method::GET, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(other.status(), 200);

    // If-Range: the slice while the validator matches, the whole droplet once it does not.
    let current = [("range", "bytes=0-9"), ("if-range", etag.as_str())];
    let slice = target.send(server, reqwest::Method::GET, &current).await;
    assert_eq!(slice.status(), 206);
    assert_eq!(header(&slice, "repr-digest"), Some(repr_digest(&target.bits)));
    assert_eq!(slice.bytes().await.unwrap(), target.bits[..10]);
    let stale = [("range", "bytes=0-9"), ("if-range", "\"stale\"")];
    let whole = target.send(server, reqwest::Method::GET, &stale).await;
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.unwrap(), target.bits);

    // Past the end: 416 with the size to ask within.
    let beyond = format!("bytes={len}-");
    let refused = target.send(server, reqwest::Method::GET, &[("range", &beyond)]).await;
    assert_eq!(header(&refused, "content-range"), Some(format!("bytes */{len}")));
    assert_cf_error(refused, 416, 10020, "CF-RangeNotSatisfiable").await;
}

#[tokio::test]
pub async fn download_has_the_http_semantics_of_a_file_server() {
    let server = TestServer::start();
    let target = Target::download(&server).await;
    check_semantics(&server, &target).await;
}

#[tokio::test]
async fn signed_url_has_the_http_semantics_of_a_file_server() {
    let server = TestServer::start_with_config("[blobstore]\nredirect_downloads = true\n");
    let target = Target::signed(&server).await;
    check_semantics(&server, &target).await;
}
