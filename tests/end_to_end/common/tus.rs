//! Speaking tus to the server under test by hand, as a tus client would: every request with a
//! read and write token and `Tus-Resumable: 1.0.0`.

use reqwest::Method;
use tokio::io::AsyncWriteExt;

use super::server::TestServer;
use super::tokens::{READ, WRITE};

/// The media type of an append's body.
pub const OFFSET_STREAM: &str = "application/offset+octet-stream";

impl TestServer {
    /// `method url` (an absolute URL, as `Location` gives it) as a tus client sends it.
    pub fn tus(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.raw()
            .request(method, url)
            .header("authorization", format!("bearer {}", self.token(&[READ, WRITE])))
            .header("tus-resumable", "1.0.0")
    }

    /// Starts an upload of `length` bytes into `droplet`; its URL.
    pub async fn tus_create(&self, droplet: &str, length: u64) -> String {
        let url = self.url(&format!("/v3/droplets/{droplet}/uploads"));
        let response = self.tus(Method::POST, &url).header("upload-length", length).send().await;
        let response = response.expect("POST uploads");
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        response.headers()["location"].to_str().expect("a Location").to_owned()
    }

    /// Appends `bytes` at `offset`.
    pub async fn tus_patch(&self, url: &str, offset: u64, bytes: Vec<u8>) -> reqwest::Response {
        self.tus(Method::PATCH, url)
            .header("upload-offset", offset)
            .header("content-type", OFFSET_STREAM)
            .body(bytes)
            .send()
            .await
            .expect("PATCH")
    }

    /// Appends `bytes` at `offset`, which must be taken; the answer's `Upload-Offset`.
    pub async fn tus_append(&self, url: &str, offset: u64, bytes: &[u8]) -> reqwest::Response {
        let response = self.tus_patch(url, offset, bytes.to_vec()).await;
        assert_eq!(response.status(), 204, "{:?}", response.headers());
        let reported = offset_of(&response);
        assert_eq!(reported, offset + bytes.len() as u64);
        response
    }

    /// The upload's offset, as `HEAD` answers it.
    pub async fn tus_offset(&self, url: &str) -> u64 {
        let response = self.tus(Method::HEAD, url).send().await.expect("HEAD");
        assert_eq!(response.status(), 200, "{:?}", response.headers());
        offset_of(&response)
    }

    /// Starts an append of `announced` bytes by hand and sends only `bytes`, leaving the
    /// connection open: to be dropped (a connection that broke) or left hanging.
    pub async fn tus_partial_append(
        &self,
        url: &str,
        offset: u64,
        announced: u64,
        bytes: &[u8],
        extra_headers: &str,
    ) -> tokio::net::TcpStream {
        let path = url.strip_prefix(&self.base_url).expect("an upload of this server");
        let head = format!(
            "PATCH {path} HTTP/1.1\r\nhost: {}\r\nauthorization: bearer {}\r\n\
             tus-resumable: 1.0.0\r\nupload-offset: {offset}\r\ncontent-type: {OFFSET_STREAM}\r\n\
             {extra_headers}content-length: {announced}\r\n\r\n",
            self.addr,
            self.token(&[READ, WRITE]),
        );
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.expect("connect");
        stream.write_all(head.as_bytes()).await.expect("request head");
        stream.write_all(bytes).await.expect("part of the body");
        stream.flush().await.expect("flush");
        stream
    }
}

/// The `Upload-Offset` a response reports.
pub fn offset_of(response: &reqwest::Response) -> u64 {
    let offset = response.headers().get("upload-offset").expect("an Upload-Offset");
    offset.to_str().expect("text").parse().expect("a number")
}

/// A header of a response, as text.
pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|value| value.to_str().expect("text"))
}
