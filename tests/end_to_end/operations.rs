//! Running the server: `/healthz`, request ids and structured logs, configuration errors and
//! precedence.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn healthz_checks_the_database_and_the_blobstore_without_a_token() {
    let server = TestServer::start();
    let response = server.raw().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["metadata"], "ok");
    assert_eq!(body["checks"]["blobstore"], "ok");
    // The probe leaves nothing behind.
    let tmp = server.blob_dir().join("tmp");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "left in {}", tmp.display());
}

#[tokio::test]
async fn healthz_answers_503_naming_the_failed_check() {
    let server = TestServer::start();
    // The local blobstore writes in tmp/ first; without it, it takes no writes.
    std::fs::remove_dir_all(server.blob_dir().join("tmp")).unwrap();
    let response = server.raw().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    let error = &body["errors"][0];
    assert_eq!(error["title"], "CF-ServiceUnavailable");
    let detail = error["detail"].as_str().unwrap();
    assert!(detail.contains("blobstore") && !detail.contains("metadata"), "{detail}");
}

#[tokio::test]
async fn every_response_carries_a_request_id_found_in_the_json_log() {
    let server = TestServer::start_with_config("log_format = \"json\"\n");
    let first = server.get("/v3").send().await.unwrap();
    let second = server.raw().get(server.url("/v3/droplets/nope")).send().await.unwrap();
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (first, second) = (id(&first), id(&second));
    assert!(!first.is_empty() && first != second);

    // The request's last line is written as its response goes out: give it a moment.
    for _ in 0..100 {
        if server.log().contains(&second) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let log = server.log();
    let lines: Vec<Value> = log
        .lines()
        // dropshot notes where it logs to before the first line.
        .filter(|l| !l.starts_with("note: configured to log to"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.iter().all(|l| l["v"] == 0 && l["msg"].is_string()), "not bunyan: {log}");
    for id in [first, second] {
        assert!(lines.iter().any(|l| l["req_id"] == id.as_str()), "no log line with {id}");
    }
}

/// `droplet-server serve` with `args` and `env`, expected to stop at start-up: its stderr.
fn start_up_error(args: &[&str], env: &[(&str, &str)], config: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_droplet-server"));
    command.arg("serve").arg("--bind").arg("127.0.0.1:0").arg("--data-dir").arg(dir.path());
    if let Some(config) = config {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).unwrap();
        command.arg("--config").arg(path);
    }
    for (variable, _) in std::env::vars_os() {
        if variable.to_string_lossy().starts_with("DROPLET_") {
            command.env_remove(variable);
        }
    }
    let output = command.args(args).envs(env.iter().copied()).output().unwrap();
    assert!(!output.status.success(), "the server started: {output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_unknown_key_or_invalid_value_stops_the_server_naming_the_key() {
    let stderr = start_up_error(&[], &[], Some("max_upload_bytes = 10\nbogus_key = 1\n"));
    assert!(stderr.contains("bogus_key"), "{stderr}");
    let stderr = start_up_error(&[], &[], Some("[blobstore]\nredirect_downloads = \"yes\"\n"));
    assert!(stderr.contains("redirect_downloads"), "{stderr}");
    let stderr = start_up_error(&[], &[], Some("log_format = \"xml\"\n"));
    assert!(stderr.contains("log_format"), "{stderr}");
    let stderr = start_up_error(&[], &[("DROPLET_MAX_UPLOAD_BYTES", "lots")], None);
    assert!(stderr.contains("DROPLET_MAX_UPLOAD_BYTES"), "{stderr}");
    assert!(stderr.contains("max_upload_bytes"), "{stderr}");
    let stderr = start_up_error(&[], &[("DROPLET_BLOBSTORE_SIGNED_URL_TTL_SECS", "0")], None);
    assert!(stderr.contains("blobstore.signed_url_ttl_secs"), "{stderr}");
}

/// Flags beat variables, which beat the file.
#[tokio::test]
async fn flags_override_variables_which_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "external_url = \"http://from-file.example\"\nbind = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_droplet-server"));
    command.arg("serve").arg("--config").arg(&config).arg("--data-dir").arg(dir.path());
    for (variable, _) in std::env::vars_os() {
        if variable.to_string_lossy().starts_with("DROPLET_") {
            command.env_remove(variable);
        }
    }
    // The file's bind is overridden by the variable, the variable's by the flag.
    command.env("DROPLET_BIND", "127.0.0.1:2").arg("--bind").arg("127.0.0.1:0");
    command.env("DROPLET_EXTERNAL_URL", "http://from-env.example");
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    // Kept open until the end: the server exits if its stdout goes away.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on http://").map(str::to_owned);
    let root = match &addr {
        Some(addr) => Some(root_document(addr).await),
        None => None,
    };
    let _ = child.kill();
    let _ = child.wait();
    drop(stdout);
    let addr = addr.unwrap_or_else(|| panic!("did not start: {line:?}"));
    assert!(!addr.ends_with(":1") && !addr.ends_with(":2"), "{addr}");
    assert_eq!(root.unwrap()["links"]["self"]["href"], "http://from-env.example");
}

async fn root_document(addr: &str) -> Value {
    let response = reqwest::get(format!("http://{addr}/")).await.expect("GET /");
    response.json().await.expect("the root document")
}
