//! A real S3-protocol server for the S3 blobstore: `s3s-fs` (objects as files under a directory)
//! behind `s3s`, which checks SigV4 signatures, presigned URLs included, against one access key.
//! What S3 answers about multipart uploads and s3s-fs does not is `multipart_uploads`'s.
//! It runs on a thread and runtime of its own, like the end-to-end tests' fake UAA, and can be
//! stopped mid-test to play a store that went away: its port then refuses connections until it
//! is restarted.
//!
//! A crate of its own because two users share it: the end-to-end tests (`tests/end_to_end`), which
//! run it in their process, and `cargo xtask bench`, which runs its binary (`main.rs`) as a
//! process of its own, so that the store's CPU is not counted as the bench's. So it uses nothing
//! of the test harness.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hyper::body::Incoming;
use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

mod background;
mod multipart_uploads;

pub use background::Background;

/// The one access key the server accepts, for other clients of the same bucket (the bench's
/// reference uploader).
pub const ACCESS_KEY: &str = "droplet-test-access-key";
pub const SECRET_KEY: &str = "droplet-test-secret-key-5f1d2c9a";
pub const BUCKET: &str = "droplets";
pub const REGION: &str = "us-east-1";
/// Over TLS, the file in the server's directory holding the certificate it presents.
pub const TLS_CA_FILE: &str = "tls-ca.pem";

pub struct S3Server {
    /// `http://ADDR`, or `https://ADDR` over TLS: the endpoint to configure.
    pub endpoint: String,
    /// Over TLS, the PEM file of the self-signed certificate the server presents, for clients
    /// to trust (`blobstore.ca_certificate_file`; boto3's `AWS_CA_BUNDLE`).
    pub ca_certificate: Option<PathBuf>,
    /// The directory s3s-fs keeps its state in: `BUCKET/KEY` for objects, pending multipart
    /// uploads as `.upload*` files at the top.
    pub root: PathBuf,
    /// How each PUT (an object or a part) signed its payload, in arrival order.
    payload_signing: Arc<Mutex<Vec<PayloadSigning>>>,
    addr: std::net::SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    background: Option<Background>,
}

/// What a request's `x-amz-content-sha256` said of its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadSigning {
    /// The payload's SHA-256, which the signature covers and the store checks.
    Signed,
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// Anything else (a streaming mode, or no header).
    Other,
}

impl PayloadSigning {
    fn of(request: &hyper::Request<Incoming>) -> Self {
        let header = request.headers().get("x-amz-content-sha256").map(|v| v.as_bytes());
        match header {
            Some(b"UNSIGNED-PAYLOAD") => PayloadSigning::Unsigned,
            Some(hash) if hash.len() == 64 && hash.iter().all(u8::is_ascii_hexdigit) => {
                PayloadSigning::Signed
            }
            _ => PayloadSigning::Other,
        }
    }
}

impl S3Server {
    /// Serves `root` (created if missing, with the bucket in it) on a free loopback port.
    pub fn start(root: &Path) -> Self {
        Self::serve(root, None)
    }

    /// The same over TLS, as a real S3 is reached: with a self-signed certificate for
    /// 127.0.0.1, written to `root/TLS_CA_FILE` (s3s-fs takes only directories for buckets).
    pub fn start_tls(root: &Path) -> Self {
        std::fs::create_dir_all(root).expect("the S3 server's directory");
        let certified = rcgen::generate_simple_self_signed(["127.0.0.1".to_owned()])
            .expect("a self-signed certificate");
        let ca_certificate = root.join(TLS_CA_FILE);
        std::fs::write(&ca_certificate, certified.cert.pem()).expect("writing the certificate");
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .expect("a TLS configuration");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let mut server = Self::serve(root, Some(acceptor));
        server.ca_certificate = Some(ca_certificate);
        server
    }

    fn serve(root: &Path, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        std::fs::create_dir_all(root.join(BUCKET)).expect("the S3 server's bucket directory");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port for S3");
        let addr = listener.local_addr().expect("the S3 server's address");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut server = S3Server {
            endpoint: format!("{scheme}://{addr}"),
            ca_certificate: None,
            root: root.to_owned(),
            payload_signing: Arc::new(Mutex::new(Vec::new())),
            addr,
            tls,
            background: None,
        };
        server.run(listener);
        server
    }

    /// Serves the directory on `listener`, on a thread of its own, until stopped.
    fn run(&mut self, listener: std::net::TcpListener) {
        let filesystem = s3s_fs::FileSystem::new(&self.root).expect("s3s-fs on its directory");
        let mut builder = S3ServiceBuilder::new(filesystem);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        builder.set_route(multipart_uploads::MultipartUploads { root: self.root.clone() });
        let service = builder.build();
        let (seen, tls) = (self.payload_signing.clone(), self.tls.clone());
        let connections = ConnBuilder::new(TokioExecutor::new());
        self.background = Some(Background::serve(listener, move |socket| {
            let (service, seen) = (service.clone(), seen.clone());
            // A real S3 finishes a request it has received even when its client goes away;
            // s3s-fs's handler, dropped with the connection, would leave a multipart upload
            // half-completed (the upload gone, its parts left).
            let detached = service_fn(move |request: hyper::Request<Incoming>| {
                if request.method() == hyper::Method::PUT {
                    let signing = PayloadSigning::of(&request);
                    seen.lock().expect("not poisoned").push(signing);
                }
                let handler = Service::call(&service, request);
                async move { tokio::spawn(handler).await.expect("the S3 handler panicked") }
            });
            let (connections, tls) = (connections.clone(), tls.clone());
            async move {
                let _ = match tls {
                    None => connections.serve_connection(TokioIo::new(socket), detached).await,
                    Some(tls) => {
                        let Ok(stream) = tls.accept(socket).await else { return };
                        connections.serve_connection(TokioIo::new(stream), detached).await
                    }
                };
            }
        }));
    }

    /// The `[blobstore]` section of a droplet-server configuration using this server.
    pub fn blobstore_toml(&self) -> String {
        blobstore_toml(&self.endpoint, self.ca_certificate.as_deref())
    }

    /// The same settings as top-level dotted keys (`blobstore.kind = ...`), for a configuration
    /// that has top-level keys of its own to add after them.
    pub fn blobstore_dotted_keys(&self) -> String {
        blobstore_keys(&self.endpoint, self.ca_certificate.as_deref(), "blobstore.")
    }

    /// How every PUT so far signed its payload, in arrival order.
    pub fn payload_signing(&self) -> Vec<PayloadSigning> {
        self.payload_signing.lock().expect("not poisoned").clone()
    }

    /// The files of multipart uploads neither completed nor aborted: their records and the parts
    /// already sent, which s3s-fs keeps at the top of its directory.
    pub fn pending_uploads(&self) -> Vec<String> {
        let entries = std::fs::read_dir(&self.root).expect("the S3 server's directory");
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| name.contains(".upload"))
            .collect();
        names.sort();
        names
    }

    /// Serves again, on the same address and directory, after [`Self::stop`]: the store is back.
    pub fn restart(&mut self) {
        self.stop();
        let listener = std::net::TcpListener::bind(self.addr).expect("the S3 server's port again");
        self.run(listener);
    }

    /// Stops listening and closes every connection: the store is now unreachable.
    pub fn stop(&mut self) {
        if let Some(mut background) = self.background.take() {
            background.stop();
        }
    }
}

/// The `[blobstore]` section of a droplet-server configuration using the server at `endpoint`,
/// which presents the certificate in `ca_certificate` if it speaks TLS.
pub fn blobstore_toml(endpoint: &str, ca_certificate: Option<&Path>) -> String {
    format!("[blobstore]\n{}", blobstore_keys(endpoint, ca_certificate, ""))
}

fn blobstore_keys(endpoint: &str, ca_certificate: Option<&Path>, prefix: &str) -> String {
    let settings = [
        ("kind", "s3"),
        ("bucket", BUCKET),
        ("endpoint", endpoint),
        ("region", REGION),
        ("access_key_id", ACCESS_KEY),
        ("secret_access_key", SECRET_KEY),
    ];
    let mut keys: String =
        settings.iter().map(|(key, value)| format!("{prefix}{key} = {value:?}\n")).collect();
    match ca_certificate {
        Some(pem) => keys.push_str(&format!("{prefix}ca_certificate_file = {pem:?}\n")),
        None => keys.push_str(&format!("{prefix}allow_http = true\n")),
    }
    keys
}
