//! The client crate's hand-written API against the real server: the verified upload (and, through
//! a proxy that swaps the bits on the way, its failure), job waits that give up at their
//! deadline, the named list filters, and the one error type exposing the CF error.

use std::net::SocketAddr;
use std::time::Duration;

use droplet_client::{ClientError, DropletQuery, TimeBounds, WaitOptions, cli, types};
use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::*;

#[tokio::test]
async fn upload_file_reports_the_checksum_sent_and_staged() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let bits = small_droplet();
    let file = server.scratch().join("droplet.tgz");
    std::fs::write(&file, &bits).unwrap();

    let report = server.client().upload_file(guid.parse().unwrap(), &file).await.unwrap();
    assert_eq!(report.bytes, bits.len() as u64);
    assert_eq!(report.sent_sha256, sha256_hex(&bits));
    assert_eq!(report.staged_sha256, sha256_hex(&bits));
    assert_eq!(report.droplet.state, types::DropletState::Staged);

    // The CLI prints both with --json.
    let other = server.create_droplet().await;
    let token = server.token(&[READ, WRITE]);
    let file = file.to_str().unwrap();
    let args = ["--api", &server.base_url, "--token", &token, "--json", "upload", &other, file];
    let printed: serde_json::Value = serde_json::from_str(&run_cli(&args).await.unwrap()).unwrap();
    assert_eq!(printed["sent_sha256"], sha256_hex(&bits));
    assert_eq!(printed["staged_sha256"], sha256_hex(&bits));
    assert_eq!(printed["droplet"]["state"], "STAGED");
}

/// Bits altered between the client and the server (here by a proxy swapping them for another
/// valid tarball of the same length) are staged, but the upload fails loudly, naming both
/// checksums.
#[tokio::test]
async fn an_upload_whose_staged_checksum_differs_fails() {
    let server = TestServer::start();
    let (sent, swapped) = (stored_tarball(b'a'), stored_tarball(b'b'));
    assert_eq!(sent.len(), swapped.len());
    let proxy = swapping_proxy(server.addr, sent.clone(), swapped.clone()).await;
    let file = server.scratch().join("droplet.tgz");
    std::fs::write(&file, &sent).unwrap();
    let client = droplet_client::Client::for_transfers(&proxy, &server.token(&[READ, WRITE]));
    let client = client.unwrap();

    let guid = server.create_droplet().await;
    let error = client.upload_file(guid.parse().unwrap(), &file).await.expect_err("swapped bits");
    match &error {
        ClientError::UploadChecksumMismatch { sent: s, staged } => {
            assert_eq!(*s, sha256_hex(&sent));
            assert_eq!(*staged, sha256_hex(&swapped));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.download_bits(&guid).await, swapped, "the server staged what it received");

    let guid = server.create_droplet().await;
    let token = server.token(&[READ, WRITE]);
    let args = ["--api", &proxy, "--token", &token, "upload", &guid, file.to_str().unwrap()];
    let line = cli::describe(&run_cli(&args).await.expect_err("swapped bits"));
    assert!(line.contains(&sha256_hex(&sent)) && line.contains(&sha256_hex(&swapped)), "{line}");
    assert!(line.contains("altered"), "{line}");
}

#[tokio::test]
async fn an_upload_the_job_refuses_fails_with_its_cf_error() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let file = server.scratch().join("droplet.tgz");
    std::fs::write(&file, b"not a gzip tarball").unwrap();
    let error = server.client().upload_file(guid.parse().unwrap(), &file).await.unwrap_err();
    assert!(matches!(error, ClientError::JobFailed(_)), "{error:?}");
    let cf = error.cf_error().expect("the job's error");
    assert_eq!((cf.code, cf.title.as_str()), (10008, "CF-UnprocessableEntity"));
}

#[tokio::test]
async fn client_errors_expose_the_cf_error() {
    let server = TestServer::start();
    let missing = uuid::Uuid::new_v4();
    let path = server.scratch().join("missing.tgz");
    let error = server.client().download_to_file(missing, &path).await.unwrap_err();
    let cf = error.cf_error().expect("a CF error");
    assert_eq!(
        (cf.code, cf.title.as_str(), cf.detail.as_str()),
        (10010, "CF-ResourceNotFound", "Droplet not found")
    );
    assert_eq!(error.status(), Some(reqwest::StatusCode::NOT_FOUND));
    assert_eq!(error.to_string(), "CF-ResourceNotFound: Droplet not found (404 Not Found)");
    // The generated methods' errors become the same type with `?`.
    let generated = server.client().job_get(&missing.to_string()).await.unwrap_err();
    assert_eq!(ClientError::from(generated).cf_error().unwrap().detail, "Job not found");
}

#[tokio::test]
async fn list_droplets_takes_named_filters() {
    let server = TestServer::start();
    let staged = server.create_droplet().await;
    server.upload_succeeds(&staged).await;
    let waiting = server.create_droplet().await;
    let client = server.client();
    let query = DropletQuery {
        guids: vec![staged.parse().unwrap(), waiting.parse().unwrap()],
        states: vec![types::DropletState::Staged],
        ..DropletQuery::default()
    };
    let list = client.list_droplets(&query).await.unwrap();
    let guids: Vec<String> = list.resources.iter().map(|d| d.guid.to_string()).collect();
    assert_eq!(guids, std::slice::from_ref(&staged));
    let query = DropletQuery { per_page: Some(1), page: Some(2), ..DropletQuery::default() };
    let list = client.list_droplets(&query).await.unwrap();
    assert_eq!((list.pagination.total_results, list.resources.len()), (2, 1));

    // Time bounds: the `[lte]` and `[gt]` of the first droplet's creation time split the two
    // (created within one second, they may share it: then only `[lte]` and `[gte]` are certain).
    let first = server.droplet(&staged).await.created_at;
    let first = first.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let created = |bounds: TimeBounds| DropletQuery { created: bounds, ..DropletQuery::default() };
    let client = &client;
    let count = |query: DropletQuery| async move {
        client.list_droplets(&query).await.unwrap().pagination.total_results
    };
    let at_or_after = TimeBounds { at_or_after: Some(first.clone()), ..TimeBounds::default() };
    assert_eq!(count(created(at_or_after)).await, 2);
    let before = TimeBounds { before: Some(first.clone()), ..TimeBounds::default() };
    assert_eq!(count(created(before)).await, 0);
    let (at_or_before, after) = (
        TimeBounds { at_or_before: Some(first.clone()), ..TimeBounds::default() },
        TimeBounds { after: Some(first.clone()), ..TimeBounds::default() },
    );
    assert_eq!(count(created(at_or_before)).await + count(created(after)).await, 2);
    // A time the API's syntax refuses is refused before anything is sent.
    let bad = created(TimeBounds { after: Some("yesterday".into()), ..TimeBounds::default() });
    let error = client.list_droplets(&bad).await.unwrap_err();
    assert!(error.to_string().contains("created_ats[gt]"), "{error}");
}

/// A job another replica holds stays `PROCESSING`: the wait looks less and less often and gives
/// up at its deadline.
#[test]
fn waiting_for_a_job_gives_up_at_the_deadline() {
    on_postgres(|| {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let server = TestServer::start();
            let job = busy_job(&server).await;
            let options = WaitOptions {
                timeout: Duration::from_millis(1500),
                first_interval: Duration::from_millis(100),
                max_interval: Duration::from_millis(400),
            };
            let error = server.client().wait_for_job_with(job, &options).await.unwrap_err();
            match &error {
                ClientError::Timeout { state, waited, .. } => {
                    assert_eq!(state, "PROCESSING");
                    assert!(*waited >= options.timeout, "gave up after {waited:?}");
                }
                other => panic!("{other:?}"),
            }
            assert!(error.to_string().contains(&format!("job {job} is still PROCESSING")));
            // At 0, 0.1, 0.3, 0.7, 1.1 and 1.5 s at the most (fewer when answers are slow);
            // 100 ms apart would be 16 looks.
            let looks = job_looks(&server).await;
            assert!((1..=6).contains(&looks), "{looks} looks");
        })
    });
}

/// The wait looks until the job is done and returns it: here the test completes the job (as the
/// replica holding it would) once the wait has looked three times.
#[test]
fn waiting_for_a_job_returns_it_once_complete() {
    on_postgres(|| {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let server = TestServer::start();
            let job = busy_job(&server).await;
            let options = WaitOptions {
                timeout: Duration::from_secs(600),
                first_interval: Duration::from_millis(50),
                max_interval: Duration::from_millis(100),
            };
            let client = server.client();
            let complete = async {
                eventually("three looks", || async { job_looks(&server).await >= 3 }).await;
                server.query(&format!("UPDATE jobs SET state = 'COMPLETE' WHERE guid = '{job}'"));
                job_looks(&server).await
            };
            let (done, looks_before) =
                tokio::join!(client.wait_for_job_with(job, &options), complete);
            assert_eq!(done.unwrap().state, types::JobState::Complete);
            // The looks under way as the job completed, and the one that saw it complete.
            let looks = job_looks(&server).await;
            assert!(
                (looks_before..=looks_before + 2).contains(&looks),
                "{looks_before}, then {looks}"
            );
        })
    });
}

/// A `droplet.delete` job that a live replica holds (its lease runs for an hour): `PROCESSING`
/// until the test changes it.
async fn busy_job(server: &TestServer) -> uuid::Uuid {
    let droplet = server.create_droplet().await;
    let job = uuid::Uuid::new_v4();
    let now = chrono::Utc::now();
    let (secs, in_an_hour) = (now.timestamp(), now.timestamp_millis() + 3_600_000);
    server.query(&format!(
        "INSERT INTO jobs (guid, operation, state, droplet_guid, source_guid, errors,
             created_at, updated_at, owner, lease_expires_ms)
         VALUES ('{job}', 'droplet.delete', 'PROCESSING', '{droplet}', NULL, '[]',
             {secs}, {secs}, 'a-busy-replica', {in_an_hour})"
    ));
    job
}

/// How many times the server answered `GET /v3/jobs/{guid}`, from its metrics.
async fn job_looks(server: &TestServer) -> u32 {
    let metrics = server.raw().get(server.url("/metrics")).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    let count = "droplet_http_request_duration_seconds_count{operation=\"job_get\"";
    text.lines()
        .find(|line| line.starts_with(count))
        .and_then(|line| line.rsplit_once(' ')?.1.parse().ok())
        .unwrap_or(0)
}

/// Runs the `droplet` command line in-process and returns what it printed.
async fn run_cli(args: &[&str]) -> anyhow::Result<String> {
    let mut all = vec!["droplet"];
    all.extend(args);
    let mut out = Vec::new();
    cli::run(all, &mut out).await?;
    Ok(String::from_utf8(out).expect("UTF-8 output"))
}

/// A gzip tarball of one 16 KiB file of `fill` bytes, stored uncompressed: any `fill` gives the
/// same length, and a valid tarball.
fn stored_tarball(fill: u8) -> Vec<u8> {
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::none()));
    let content = vec![fill; 16 * 1024];
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    tar.append_data(&mut header, "app/data.bin", content.as_slice()).unwrap();
    tar.into_inner().unwrap().finish().unwrap()
}

/// An HTTP proxy to `upstream` that replaces `from` with `to` in request bodies, one request per
/// connection (it asks the server to close each); returns its base URL.
async fn swapping_proxy(upstream: SocketAddr, from: Vec<u8>, to: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (from, to) = (from.clone(), to.clone());
            tokio::spawn(async move {
                let _ = relay(client, upstream, &from, &to).await;
            });
        }
    });
    format!("http://{addr}")
}

async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    from: &[u8],
    to: &[u8],
) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let head_end = loop {
        let read = client.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buffer[..read]);
        if let Some(at) = find(&request, b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |value| value.trim().parse().expect("a length"));
    while request.len() < head_end + length {
        let read = client.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buffer[..read]);
    }
    let mut body = request.split_off(head_end);
    if let Some(at) = find(&body, from) {
        body.splice(at..at + from.len(), to.iter().copied());
    }
    request.truncate(head_end - 2);
    request.extend_from_slice(b"connection: close\r\n\r\n");
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(&request).await?;
    server.write_all(&body).await?;
    tokio::io::copy(&mut server, &mut client).await?;
    client.shutdown().await
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}
