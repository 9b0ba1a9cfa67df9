//! Talking to the server under test: the generated client, a plain HTTP client, hand-made
//! multipart bodies (byte for byte what `curl -F` sends) and uploads started by hand over TCP.

use std::io::Write;

use droplet_client::Client;
use tokio::io::AsyncWriteExt;

use super::assertions::{DEADLINE, eventually};
use super::server::TestServer;
use super::tokens::{READ, WRITE};

/// Why a test that runs `curl` failed to start it: these tests need curl, and fail without it.
pub const CURL_NEEDED: &str =
    "running curl (the compatibility tests need it: apt-get install -y curl)";

impl TestServer {
    /// The generated client with a read and write development token.
    pub fn client(&self) -> Client {
        self.client_with(&self.token(&[READ, WRITE]))
    }

    pub fn client_with(&self, token: &str) -> Client {
        Client::for_transfers(&self.base_url, token).expect("client")
    }

    /// A plain HTTP client: no token, and redirects are not followed, so that they can be seen.
    pub fn raw(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .read_timeout(DEADLINE)
            .build()
            .expect("reqwest client")
    }

    /// `method path` on the plain client, with a read and write development token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.raw()
            .request(method, self.url(path))
            .header("authorization", format!("bearer {}", self.token(&[READ, WRITE])))
    }

    /// The JSON at an absolute `url`, read with a development token of these scopes.
    pub async fn json_as(&self, scopes: &[&str], url: &str) -> serde_json::Value {
        let request = self.raw().get(url);
        let request = request.header("authorization", format!("bearer {}", self.token(scopes)));
        request.send().await.expect("GET").json().await.expect("a JSON body")
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, path)
    }

    /// `POST /v3/droplets/GUID/upload` with this multipart body, sent with its length.
    pub async fn post_form(&self, guid: &str, form: Multipart) -> reqwest::Response {
        let (content_type, body) = form.finish();
        self.request(reqwest::Method::POST, &format!("/v3/droplets/{guid}/upload"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("upload request")
    }

    /// Starts an upload by hand: the request head announces the whole `form`, but only its first
    /// `sent` bytes go out. Returns the connection, to be dropped (a client that goes away) or
    /// left hanging while the server is killed. Waits until the server streams the bits to a
    /// partial blob.
    pub async fn start_partial_upload(
        &self,
        guid: &str,
        form: Multipart,
        sent: usize,
    ) -> tokio::net::TcpStream {
        let stream = self.send_partial_upload(guid, form, sent).await;
        eventually("the server to stream the bits into a partial blob", || async {
            !self.partial_blobs().is_empty()
        })
        .await;
        stream
    }

    /// [`TestServer::start_partial_upload`] without waiting for the partial blob: for
    /// blobstores that keep it elsewhere.
    pub async fn send_partial_upload(
        &self,
        guid: &str,
        form: Multipart,
        sent: usize,
    ) -> tokio::net::TcpStream {
        let (content_type, body) = form.finish();
        let head = format!(
            "POST /v3/droplets/{guid}/upload HTTP/1.1\r\nhost: {}\r\n\
             authorization: bearer {}\r\ncontent-type: {content_type}\r\n\
             content-length: {}\r\n\r\n",
            self.addr,
            self.token(&[READ, WRITE]),
            body.len()
        );
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.expect("connect");
        stream.write_all(head.as_bytes()).await.expect("request head");
        stream.write_all(&body[..sent]).await.expect("part of the body");
        stream.flush().await.expect("flush");
        stream
    }
}

/// A `multipart/form-data` body built by hand, byte for byte what `curl -F` sends.
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    pub fn new() -> Self {
        // curl's boundary shape: 24 dashes and random hex.
        let boundary =
            format!("------------------------{}", hex::encode(rand::random::<[u8; 8]>()));
        Multipart { boundary, body: Vec::new() }
    }

    /// A file part, as `curl -F name=@filename` sends it.
    pub fn file(self, name: &str, filename: &str, contents: &[u8]) -> Self {
        let disposition = format!("form-data; name=\"{name}\"; filename=\"{filename}\"");
        self.part(&disposition, Some("application/octet-stream"), contents)
    }

    /// A plain field, as `curl -F name=value` sends it.
    pub fn field(self, name: &str, value: &str) -> Self {
        self.part(&format!("form-data; name=\"{name}\""), None, value.as_bytes())
    }

    fn part(mut self, disposition: &str, content_type: Option<&str>, contents: &[u8]) -> Self {
        write!(self.body, "--{}\r\nContent-Disposition: {disposition}\r\n", self.boundary)
            .expect("write to Vec");
        if let Some(content_type) = content_type {
            write!(self.body, "Content-Type: {content_type}\r\n").expect("write to Vec");
        }
        self.body.extend_from_slice(b"\r\n");
        self.body.extend_from_slice(contents);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// The `Content-Type` header and the complete body.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        write!(self.body, "--{}--\r\n", self.boundary).expect("write to Vec");
        (format!("multipart/form-data; boundary={}", self.boundary), self.body)
    }
}

/// A request body that the test feeds chunk by chunk, to keep an upload in flight.
pub fn channel_body()
-> (futures::channel::mpsc::Sender<std::io::Result<bytes::Bytes>>, reqwest::Body) {
    let (sender, receiver) = futures::channel::mpsc::channel(4);
    (sender, reqwest::Body::wrap_stream(receiver))
}

/// All the bytes of a download through the generated client.
pub async fn collect(
    response: droplet_client::ResponseValue<droplet_client::ByteStream>,
) -> Vec<u8> {
    use futures::TryStreamExt;
    let chunks: Vec<bytes::Bytes> = response.into_inner().into_inner().try_collect().await.unwrap();
    chunks.concat()
}

/// The job guid at the end of a `Location` header.
pub fn job_guid(location: &str) -> &str {
    location.rsplit('/').next().expect("a path")
}
