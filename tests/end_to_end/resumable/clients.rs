//! The clients that drive resumable uploads: ours (the client crate's upload and the `droplet`
//! CLI) getting over connections that break and a server killed mid-upload, and two tus
//! clients nobody here wrote, tuspy and tus-js-client.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use droplet_client::{Client, ResumeOptions, UploadOptions, UploadProtocol};

use super::droplet_and_bits;
use crate::common::*;

/// The droplet's bits in a file of the server's scratch directory.
fn file_of(server: &TestServer, bits: &[u8]) -> PathBuf {
    let path = server.scratch().join(format!("{}.tgz", uuid::Uuid::new_v4()));
    std::fs::write(&path, bits).unwrap();
    path
}

/// Quick retries, for tests.
fn quick() -> ResumeOptions {
    ResumeOptions { first_backoff: Duration::from_millis(100), ..Default::default() }
}

#[tokio::test]
async fn the_client_resumes_through_a_link_that_breaks() {
    let server = TestServer::start();
    let proxy = CuttingProxy::start(server.addr, 400 * 1024, 2);
    // A connection per request, so that the proxy sees the head of each.
    let mut headers = reqwest::header::HeaderMap::new();
    let bearer = format!("bearer {}", server.token(&[READ, WRITE]));
    headers.insert("authorization", bearer.parse().unwrap());
    let http = reqwest::Client::builder().default_headers(headers).pool_max_idle_per_host(0);
    let client = Client::new_with_client(&proxy.url, http.build().unwrap());
    let (guid, bits) = droplet_and_bits(&server, 1500).await;
    let reported = Arc::new(AtomicU64::new(0));
    let seen = reported.clone();
    let progress = move |sent: u64, _total: u64| seen.store(sent, Ordering::SeqCst);
    let options =
        UploadOptions { resume: quick(), progress: Some(Arc::new(progress)), ..Default::default() };
    let droplet = uuid::Uuid::parse_str(&guid).unwrap();
    let report = client.upload_file_with(droplet, file_of(&server, &bits), options).await;
    let report = report.expect("the upload resumed to its end");
    assert_eq!(proxy.cut(), 2, "the link broke twice");
    // Each append announced its length, as tus clients do (not chunked).
    let appends: Vec<String> =
        proxy.heads().into_iter().filter(|head| head.starts_with("patch ")).collect();
    assert!(appends.len() >= 3, "{appends:?}");
    for head in &appends {
        assert!(head.contains("\r\ncontent-length: "), "{head}");
    }
    assert_eq!(report.sent_sha256, sha256_hex(&bits));
    assert_eq!(report.staged_sha256, sha256_hex(&bits));
    assert_eq!(report.bytes, bits.len() as u64);
    assert_eq!(reported.load(Ordering::SeqCst), bits.len() as u64);
    // The bytes that arrived before each break were kept: none but those lost in flight
    // were sent again.
    let (_, samples) = crate::metrics::scrape(&server).await;
    let received = samples["droplet_upload_bytes_received_total"];
    assert!(received < (bits.len() + 200 * 1024) as f64, "{received} bytes received");
    let appends = samples[&crate::metrics::requests("resumable_upload_append", 204)];
    assert!(appends >= 1.0, "{appends} appends answered");

    // A multipart upload over the same link starts over each time, and fails.
    let proxy = CuttingProxy::start(server.addr, 400 * 1024, 1);
    let client = Client::for_transfers(&proxy.url, &server.token(&[READ, WRITE])).unwrap();
    let (guid, bits) = droplet_and_bits(&server, 1500).await;
    let options = UploadOptions { protocol: UploadProtocol::Multipart, ..Default::default() };
    let droplet = uuid::Uuid::parse_str(&guid).unwrap();
    let failed = client.upload_file_with(droplet, file_of(&server, &bits), options).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(server.droplet_json(&guid).await["state"], "AWAITING_UPLOAD");
}

#[tokio::test]
async fn the_cli_resumes_through_a_link_that_breaks() {
    let server = TestServer::start();
    let proxy = CuttingProxy::start(server.addr, 300 * 1024, 1);
    let (guid, bits) = droplet_and_bits(&server, 1000).await;
    let token = server.token(&[READ, WRITE]);
    let file = file_of(&server, &bits);
    let args = ["droplet", "--api", &proxy.url, "--token", &token, "upload", &guid];
    let mut out = Vec::new();
    let args = args.iter().copied().chain([file.to_str().unwrap()]);
    droplet_client::cli::run(args, &mut out).await.expect("the CLI's upload");
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("state:    STAGED") && out.contains(&sha256_hex(&bits)), "{out}");
    assert_eq!(proxy.cut(), 1);
}

/// The server is killed mid-upload and started again on the same address: the client waits,
/// asks the offset, and finishes.
#[tokio::test]
async fn the_client_resumes_after_the_server_is_killed() {
    let mut server = TestServer::start();
    let (guid, bits) = droplet_and_bits(&server, 24 * 1024).await;
    let client = server.client();
    let halfway = Arc::new(tokio::sync::Notify::new());
    let (signal, length) = (halfway.clone(), bits.len() as u64);
    let progress = move |sent: u64, _| {
        if sent > length / 3 {
            signal.notify_one();
        }
    };
    // Slow enough that the server dies mid-way: one PATCH per 256 KiB.
    let resume = ResumeOptions { chunk_bytes: Some(256 * 1024), ..quick() };
    let options =
        UploadOptions { resume, progress: Some(Arc::new(progress)), ..Default::default() };
    let droplet = uuid::Uuid::parse_str(&guid).unwrap();
    let file = file_of(&server, &bits);
    let upload = tokio::spawn(async move { client.upload_file_with(droplet, file, options).await });
    within_deadline("a third of the upload", halfway.notified()).await;
    server.kill_and_restart_in_place(&[]);
    let report = within_deadline("the upload", upload).await.unwrap().expect("it resumed");
    assert_eq!(report.staged_sha256, sha256_hex(&bits));
    // The new process was asked where the upload stood, and no upload was started over.
    let (_, samples) = crate::metrics::scrape(&server).await;
    let count = |operation, status| samples.get(&crate::metrics::requests(operation, status));
    assert!(count("resumable_upload_head", 200).is_some_and(|n| *n >= 1.0), "{samples:?}");
    assert_eq!(count("resumable_upload_create", 201), None, "{samples:?}");
}

/// Runs a third-party tus client's script against the droplet's creation URL; its output.
async fn third_party(
    server: &TestServer,
    guid: &str,
    bits: &[u8],
    program: &Path,
    script: &Path,
) -> String {
    let output = tokio::process::Command::new(program)
        .arg(script)
        .env("DROPLET_UPLOADS_URL", server.url(&format!("/v3/droplets/{guid}/uploads")))
        .env("DROPLET_TOKEN", server.token(&[READ, WRITE]))
        .env("DROPLET_TGZ", file_of(server, bits))
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{}:\n{stdout}\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Waits for the droplet to be staged, and checks it was staged with these bits.
async fn assert_staged_with(server: &TestServer, guid: &str, bits: &[u8]) {
    eventually("the droplet to be staged", || async {
        server.droplet_json(guid).await["state"] == "STAGED"
    })
    .await;
    assert_eq!(server.droplet(guid).await.checksum.unwrap().value, sha256_hex(bits));
}

#[tokio::test]
async fn tuspy_uploads_a_droplet() {
    let python =
        std::env::var("DROPLET_TEST_PYTHON").expect("run the tests with `cargo xtask test`");
    let server = TestServer::start();
    let (guid, bits) = droplet_and_bits(&server, 1100).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/compat/tus_upload.py");
    let url = third_party(&server, &guid, &bits, Path::new(&python), &script).await;
    assert!(url.trim().starts_with(&server.url(&format!("/v3/droplets/{guid}/uploads/"))), "{url}");
    assert_staged_with(&server, &guid, &bits).await;
}

#[tokio::test]
async fn tus_js_client_uploads_a_droplet() {
    let tus_js =
        std::env::var("DROPLET_TEST_TUS_JS").expect("run the tests with `cargo xtask test`");
    let server = TestServer::start();
    let (guid, bits) = droplet_and_bits(&server, 1100).await;
    let script = Path::new(&tus_js).join("upload.mjs");
    let out = third_party(&server, &guid, &bits, Path::new("node"), &script).await;
    let mut lines = out.lines();
    assert!(
        lines
            .next()
            .unwrap_or_default()
            .starts_with(&server.url(&format!("/v3/droplets/{guid}/uploads/"))),
        "{out}"
    );
    let job = lines.next().expect("the job's URL");
    assert!(job.starts_with(&server.url("/v3/jobs/")), "{out}");
    assert_staged_with(&server, &guid, &bits).await;
}
