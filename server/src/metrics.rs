//! What operators watch from Prometheus, in one registry: requests, bytes, uploads streaming,
//! jobs, recovery, the blobstore. Served as `GET /metrics` in the Prometheus text format (see
//! `crate::http::metrics`). Everything else only increments what it did; this module knows the
//! names.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// Latency buckets of requests and jobs, in seconds: a millisecond to ten minutes.
const SECONDS: &[f64] =
    &[0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0, 600.0];

pub struct Metrics {
    registry: Registry,
    /// Per operation id and status; its `_count` is the number of requests.
    pub request_duration: HistogramVec,
    pub upload_bytes_received: IntCounter,
    pub download_bytes_sent: IntCounter,
    pub download_accel_redirects: IntCounter,
    /// Set at each scrape from the upload slots in use.
    pub uploads_streaming: IntGauge,
    pub upload_size: Histogram,
    /// Per job operation (`droplet.upload`, ...) and outcome.
    pub job_duration: HistogramVec,
    pub recovered_upload_claims: IntCounter,
    /// Per job operation.
    pub recovered_jobs: IntCounterVec,
    /// Per blobstore operation.
    pub blobstore_operations: IntCounterVec,
    /// Per blobstore operation and kind of error.
    pub blobstore_errors: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("droplet".to_owned()), None).expect("a valid namespace");
        let histogram = |name: &str, help: &str, buckets: Vec<f64>, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(buckets);
            let metric = HistogramVec::new(opts, labels).expect("a valid histogram");
            registry.register(Box::new(metric.clone())).expect("registered once");
            metric
        };
        let counter = |name: &str, help: &str| {
            let metric = IntCounter::new(name, help).expect("a valid counter");
            registry.register(Box::new(metric.clone())).expect("registered once");
            metric
        };
        let counters = |name: &str, help: &str, labels: &[&str]| {
            let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("valid");
            registry.register(Box::new(metric.clone())).expect("registered once");
            metric
        };
        let uploads_streaming =
            IntGauge::new("uploads_streaming", "Upload bodies streaming in now.").expect("valid");
        registry.register(Box::new(uploads_streaming.clone())).expect("registered once");
        // 1 KiB to 8 GiB, by powers of four.
        let sizes = prometheus::exponential_buckets(1024.0, 4.0, 12).expect("valid buckets");
        Metrics {
            request_duration: histogram(
                "http_request_duration_seconds",
                "Time to answer a request (to its response head), by operation and status.",
                SECONDS.to_vec(),
                &["operation", "status"],
            ),
            upload_bytes_received: counter(
                "upload_bytes_received_total",
                "Bytes of upload request bodies read.",
            ),
            download_bytes_sent: counter(
                "download_bytes_sent_total",
                "Bytes of droplet bits sent by downloads (redirected ones are the store's, \
                 X-Accel-Redirect ones nginx's).",
            ),
            download_accel_redirects: counter(
                "download_accel_redirects_total",
                "Downloads handed to nginx with X-Accel-Redirect, whose bits nginx sends.",
            ),
            uploads_streaming,
            upload_size: histogram(
                "upload_size_bytes",
                "Size of the bits of each upload whose body arrived whole.",
                sizes,
                &[],
            )
            .with_label_values::<&str>(&[]),
            job_duration: histogram(
                "job_duration_seconds",
                "Time from a job's start to its outcome, by operation and outcome.",
                SECONDS.to_vec(),
                &["operation", "outcome"],
            ),
            recovered_upload_claims: counter(
                "recovery_upload_claims_settled_total",
                "Upload claims of dead server processes this process settled.",
            ),
            recovered_jobs: counters(
                "recovery_jobs_settled_total",
                "Jobs of dead server processes this process took over and settled.",
                &["operation"],
            ),
            blobstore_operations: counters(
                "blobstore_operations_total",
                "Blobstore operations, by operation.",
                &["operation"],
            ),
            blobstore_errors: counters(
                "blobstore_errors_total",
                "Blobstore operations that failed, by operation and kind of error.",
                &["operation", "kind"],
            ),
            registry,
        }
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut text).expect("encodes to memory");
        String::from_utf8(text).expect("the text format is UTF-8")
    }
}
