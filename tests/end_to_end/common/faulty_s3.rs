//! A proxy in front of the test S3 server that plays a store under strain, as a real one is at
//! times: it answers some requests `503 SlowDown` without passing them on, and cuts the
//! connection of others once the store has acted on them and answered (the client never learns
//! what became of its request). Every Nth `CreateMultipartUpload` is cut that way too, which
//! leaves an upload in the bucket that its client never learned of. The faults can be healed
//! mid-test.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use droplet_test_s3_server::Background;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// How much strain the proxy puts on: percentages of all requests, and a period.
#[derive(Default)]
pub struct Strain {
    /// Requests answered `503 SlowDown` without reaching the store.
    pub slow_down_percent: AtomicU32,
    /// Requests whose connection is cut after the store answered.
    pub cut_percent: AtomicU32,
    /// Every this-many-th `CreateMultipartUpload` is cut after the store answered (0: none).
    pub cut_every_nth_create: AtomicU32,
    creates: AtomicU32,
    /// What it did: requests seen, answered 503, cut.
    pub requests: AtomicU32,
    pub slowed: AtomicU32,
    pub cut: AtomicU32,
}

impl Strain {
    /// Stops every fault: the store is healthy from now on.
    pub fn heal(&self) {
        self.slow_down_percent.store(0, Ordering::SeqCst);
        self.cut_percent.store(0, Ordering::SeqCst);
        self.cut_every_nth_create.store(0, Ordering::SeqCst);
    }
}

pub struct FaultyS3 {
    /// `http://ADDR` of the proxy: the endpoint to configure.
    pub endpoint: String,
    pub strain: Arc<Strain>,
    _background: Background,
}

enum Fate {
    SlowDown,
    Cut,
    Pass,
}

impl FaultyS3 {
    /// A proxy on a free loopback port in front of the S3 server at `target`.
    pub fn start(target: &str, strain: Strain) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port for the proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("its address"));
        let strain = Arc::new(strain);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("the proxy's client");
        let (target, shared) = (target.to_owned(), strain.clone());
        let background = Background::serve(listener, move |socket| {
            let (client, target, strain) = (client.clone(), target.clone(), shared.clone());
            let service = service_fn(move |request: hyper::Request<Incoming>| {
                let (client, target, strain) = (client.clone(), target.clone(), strain.clone());
                async move { pass_on(&client, &target, &strain, request).await }
            });
            async move {
                let io = TokioIo::new(socket);
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            }
        });
        FaultyS3 { endpoint, strain, _background: background }
    }
}

/// What becomes of one request.
fn fate(strain: &Strain, request: &hyper::Request<Incoming>) -> Fate {
    strain.requests.fetch_add(1, Ordering::SeqCst);
    let roll = rand::random::<u32>() % 100;
    let creates_upload = request.method() == hyper::Method::POST
        && request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "uploads" || p == "uploads="));
    if creates_upload {
        let nth = strain.cut_every_nth_create.load(Ordering::SeqCst);
        let count = strain.creates.fetch_add(1, Ordering::SeqCst) + 1;
        if nth > 0 && count.is_multiple_of(nth) {
            return Fate::Cut;
        }
    }
    let slow = strain.slow_down_percent.load(Ordering::SeqCst);
    if roll < slow {
        return Fate::SlowDown;
    }
    if roll < slow + strain.cut_percent.load(Ordering::SeqCst) {
        return Fate::Cut;
    }
    Fate::Pass
}

async fn pass_on(
    client: &reqwest::Client,
    target: &str,
    strain: &Strain,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::io::Error> {
    let fate = fate(strain, &request);
    if let Fate::SlowDown = fate {
        strain.slowed.fetch_add(1, Ordering::SeqCst);
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
            <Message>Please reduce your request rate.</Message></Error>";
        let response = hyper::Response::builder().status(503).body(Full::new(Bytes::from(body)));
        return Ok(response.expect("a response"));
    }
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(std::io::Error::other)?.to_bytes();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut forwarded = client.request(parts.method.clone(), format!("{target}{path}"));
    for (name, value) in &parts.headers {
        // The signature covers `host`, which stays the proxy's, as the client signed it.
        if name != hyper::header::CONTENT_LENGTH && name != hyper::header::TRANSFER_ENCODING {
            forwarded = forwarded.header(name, value);
        }
    }
    let answer = forwarded.body(body).send().await.map_err(std::io::Error::other)?;
    let mut response = hyper::Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != hyper::header::CONTENT_LENGTH && name != hyper::header::TRANSFER_ENCODING {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.map_err(std::io::Error::other)?;
    if let Fate::Cut = fate {
        // The store acted; its answer is lost with the connection.
        strain.cut.fetch_add(1, Ordering::SeqCst);
        return Err(std::io::Error::other("connection cut by the proxy"));
    }
    Ok(response.body(Full::new(bytes)).expect("a response"))
}
