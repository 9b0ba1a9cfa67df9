//! `GET /metrics`: after a known workload the counters moved by exactly what it did, and
//! `promtool check metrics` (Debian's `prometheus` package) finds nothing to say about the output.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::*;

/// Each sample of the text format, `name{labels}` to value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').expect("a sample");
            (name.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

pub async fn scrape(server: &TestServer) -> (String, BTreeMap<String, f64>) {
    let response = server.raw().get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.unwrap();
    let parsed = samples(&text);
    (text, parsed)
}

fn promtool_check(text: &str) {
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running promtool (apt-get install -y prometheus)");
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = promtool.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success() && said.trim().is_empty(), "promtool: {said}\n{text}");
}

pub fn requests(operation: &str, status: u16) -> String {
    format!(
        "droplet_http_request_duration_seconds_count{{operation=\"{operation}\",status=\"{status}\"}}"
    )
}

#[tokio::test]
pub async fn metrics_count_exactly_a_known_workload() {
    let server = TestServer::start();
    let (_, before) = scrape(&server).await;

    let guid = server.create_droplet().await;
    let bits = small_droplet();
    let (content_type, body) = Multipart::new().file("bits", "droplet.tgz", &bits).finish();
    let upload = server
        .request(reqwest::Method::POST, &format!("/v3/droplets/{guid}/upload"))
        .header("content-type", content_type)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 202);
    let job = upload.headers()["location"].to_str().unwrap().to_owned();
    let mut polls = 0;
    loop {
        polls += 1;
        let state = server.json_as(&[READ], &job).await["state"].clone();
        if state == "COMPLETE" {
            break;
        }
        assert_eq!(state, "PROCESSING");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(server.download_bits(&guid).await, bits);
    let missing = server.get(&format!("/v3/droplets/{}", uuid::Uuid::new_v4())).send().await;
    assert_eq!(missing.unwrap().status(), 404);

    let (text, after) = scrape(&server).await;
    let moved = |name: &str| {
        after.get(name).copied().unwrap_or(0.0) - before.get(name).copied().unwrap_or(0.0)
    };
    assert_eq!(moved(&requests("droplet_create", 201)), 1.0, "{text}");
    assert_eq!(moved(&requests("droplet_upload", 202)), 1.0, "{text}");
    assert_eq!(moved(&requests("job_get", 200)), polls as f64, "{text}");
    assert_eq!(moved(&requests("droplet_download", 200)), 1.0, "{text}");
    assert_eq!(moved(&requests("droplet_get", 404)), 1.0, "{text}");
    // The scrape before this one.
    assert_eq!(moved(&requests("metrics_get", 200)), 1.0, "{text}");
    assert_eq!(moved("droplet_upload_bytes_received_total"), body.len() as f64, "{text}");
    assert_eq!(moved("droplet_download_bytes_sent_total"), bits.len() as f64, "{text}");
    assert_eq!(moved("droplet_upload_size_bytes_count"), 1.0, "{text}");
    assert_eq!(moved("droplet_upload_size_bytes_sum"), bits.len() as f64, "{text}");
    let upload_jobs =
        "droplet_job_duration_seconds_count{operation=\"droplet.upload\",outcome=\"complete\"}";
    assert_eq!(moved(upload_jobs), 1.0, "{text}");
    for operation in ["create", "read"] {
        let name = format!("droplet_blobstore_operations_total{{operation=\"{operation}\"}}");
        assert_eq!(moved(&name), 1.0, "{name}: {text}");
    }
    assert!(!text.contains("droplet_blobstore_errors_total{"), "{text}");
    assert_eq!(after["droplet_uploads_streaming"], 0.0);
    assert_eq!(after["droplet_recovery_upload_claims_settled_total"], 0.0);
    promtool_check(&text);
}

#[tokio::test]
pub async fn metrics_can_need_a_token_and_have_a_listener_of_their_own() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = TestServer::start_with_config(&format!(
        "[metrics]\nbind = \"127.0.0.1:{port}\"\nrequire_token = true\n"
    ));
    let on_api = server.raw().get(server.url("/metrics")).send().await.unwrap();
    assert_cf_error(on_api, 404, 10010, "CF-ResourceNotFound").await;
    let url = format!("http://127.0.0.1:{port}/metrics");
    let anonymous = server.raw().get(&url).send().await.unwrap();
    assert_cf_error(anonymous, 401, 10002, "CF-NotAuthenticated").await;
    let reader = server.raw().get(&url).bearer_auth(server.token(&[READ])).send().await.unwrap();
    assert_eq!(reader.status(), 200);
    promtool_check(&reader.text().await.unwrap());
}
