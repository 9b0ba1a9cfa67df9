//! The `droplet` command line against the real server. It runs in-process through
//! `droplet_client::cli::run` (the binary's `main` only adds the exit code and prints
//! `cli::describe` of the error): cargo offers `CARGO_BIN_EXE_*` only for binaries of the package
//! under test, and building the client's binary from here would mean a nested cargo build.

use droplet_client::cli;
use serde_json::Value;

use crate::common::*;

/// Runs `droplet --api URL --token TOKEN ARGS...` and returns what it printed.
async fn droplet(server: &TestServer, args: &[&str]) -> anyhow::Result<String> {
    let token = server.token(&[READ, WRITE]);
    let mut all = vec!["droplet", "--api", &server.base_url, "--token", &token];
    all.extend(args);
    let mut out = Vec::new();
    cli::run(all, &mut out).await?;
    Ok(String::from_utf8(out).expect("UTF-8 output"))
}

async fn droplet_json(server: &TestServer, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend(args);
    let out = droplet(server, &all).await.unwrap_or_else(|e| panic!("{args:?}: {e:#}"));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {out}"))
}

/// A droplet created through the CLI and staged with `bits` through it; returns its guid.
async fn staged_with_cli(server: &TestServer, bits: &[u8]) -> String {
    let app = uuid::Uuid::new_v4().to_string();
    let created = droplet_json(server, &["create", "--app", &app]).await;
    assert_eq!(created["state"], "AWAITING_UPLOAD");
    let guid = created["guid"].as_str().unwrap().to_owned();
    let file = server.scratch().join("droplet.tgz");
    std::fs::write(&file, bits).unwrap();
    let out = droplet(server, &["upload", &guid, file.to_str().unwrap()]).await.unwrap();
    assert!(out.contains("state:    STAGED"), "{out}");
    assert!(out.contains(&sha256_hex(bits)), "{out}");
    guid
}

fn big_droplet() -> Vec<u8> {
    tarball(&[("./app/blob.bin", &random_bytes(300 * 1024))])
}

#[tokio::test]
async fn cli_creates_uploads_gets_and_downloads_verified_bits() {
    let server = TestServer::start();
    let bits = big_droplet();
    let guid = staged_with_cli(&server, &bits).await;

    let got = droplet(&server, &["get", &guid]).await.unwrap();
    assert!(got.contains(&format!("guid:     {guid}")) && got.contains("STAGED"), "{got}");
    let got = droplet_json(&server, &["get", &guid]).await;
    assert_eq!(got["checksum"]["value"], sha256_hex(&bits));

    let path = server.scratch().join("copy.tgz");
    let out = droplet(&server, &["download", &guid, "-o", path.to_str().unwrap()]).await.unwrap();
    assert!(out.contains("verified"), "{out}");
    assert_eq!(std::fs::read(&path).unwrap(), bits);
    assert!(!server.scratch().join("copy.tgz.part").exists());
}

#[tokio::test]
async fn cli_lists_with_the_list_filters() {
    let server = TestServer::start();
    let app = uuid::Uuid::new_v4().to_string();
    let first = droplet_json(&server, &["create", "--app", &app]).await;
    let second = droplet_json(&server, &["create", "--app", &app]).await;
    droplet_json(&server, &["create", "--app", &uuid::Uuid::new_v4().to_string()]).await;

    let list =
        droplet_json(&server, &["list", "--app-guids", &app, "--order-by", "-created_at"]).await;
    assert_eq!(list["pagination"]["total_results"], 2);
    // Created within the same second, the two tie on created_at: either order is right.
    let guids: Vec<&Value> =
        list["resources"].as_array().unwrap().iter().map(|d| &d["guid"]).collect();
    assert!(guids.contains(&&first["guid"]) && guids.contains(&&second["guid"]), "{list}");

    let first_guid = first["guid"].as_str().unwrap();
    let list = droplet_json(&server, &["list", "--guids", first_guid]).await;
    assert_eq!(list["pagination"]["total_results"], 1);
    let list = droplet_json(&server, &["list", "--states", "STAGED"]).await;
    assert_eq!(list["pagination"]["total_results"], 0);
    let list = droplet_json(&server, &["list", "--label-selector", "team=x"]).await;
    assert_eq!(list["pagination"]["total_results"], 0);
    let list = droplet_json(&server, &["list", "--per-page", "1", "--page", "2"]).await;
    assert_eq!(list["pagination"]["total_pages"], 3);
    assert_eq!(list["resources"].as_array().unwrap().len(), 1);

    let text = droplet(&server, &["list"]).await.unwrap();
    assert!(text.contains(first_guid) && text.contains("3 droplets, 1 pages"), "{text}");
}

#[tokio::test]
async fn cli_deletes_waiting_for_the_job_or_not() {
    let server = TestServer::start();
    let guid = staged_with_cli(&server, &small_droplet()).await;
    let out = droplet(&server, &["delete", &guid]).await.unwrap();
    assert!(out.contains("state:     COMPLETE"), "{out}");
    assert!(droplet(&server, &["get", &guid]).await.is_err());

    let other = server.create_droplet().await;
    let started = droplet_json(&server, &["delete", "--no-wait", &other]).await;
    let job = started["job"].as_str().expect("a job guid");
    let done = droplet_json(&server, &["job", job, "--wait"]).await;
    assert_eq!(done["state"], "COMPLETE");
    let again = droplet(&server, &["job", job]).await.unwrap();
    assert!(again.contains("COMPLETE"), "{again}");
}

#[tokio::test]
async fn cli_copies_a_staged_droplet_to_another_app() {
    let server = TestServer::start();
    let bits = small_droplet();
    let source = staged_with_cli(&server, &bits).await;
    let app = uuid::Uuid::new_v4().to_string();
    let copy = droplet_json(&server, &["copy", &source, "--app", &app]).await;
    assert_ne!(copy["guid"], source.as_str());
    assert_eq!(copy["state"], "STAGED");
    assert_eq!(copy["checksum"]["value"], sha256_hex(&bits));
}

/// An interrupted download left the first bytes in `FILE.part`: the CLI hashes them and asks only
/// for the rest.
#[tokio::test]
async fn cli_download_resumes_from_a_truncated_part_file() {
    let server = TestServer::start();
    let bits = big_droplet();
    let guid = staged_with_cli(&server, &bits).await;
    let path = server.scratch().join("resumed.tgz");
    std::fs::write(server.scratch().join("resumed.tgz.part"), &bits[..100_000]).unwrap();

    let report = droplet_json(&server, &["download", &guid, "-o", path.to_str().unwrap()]).await;
    assert_eq!(report["resumed_from"], 100_000);
    assert_eq!(report["bytes"], bits.len());
    assert_eq!(report["sha256"], sha256_hex(&bits));
    assert_eq!(std::fs::read(&path).unwrap(), bits);
}

/// A `.part` file that is not the droplet's beginning makes the resumed bits wrong: the checksum
/// catches it, nothing is left that looks like the droplet, and the next try starts clean.
#[tokio::test]
async fn cli_download_detects_a_checksum_mismatch() {
    let server = TestServer::start();
    let bits = big_droplet();
    let guid = staged_with_cli(&server, &bits).await;
    let path = server.scratch().join("bad.tgz");
    let part = server.scratch().join("bad.tgz.part");
    std::fs::write(&part, random_bytes(1000)).unwrap();

    let error = droplet(&server, &["download", &guid, "-o", path.to_str().unwrap()]).await;
    let line = cli::describe(&error.expect_err("a mismatch"));
    assert!(line.contains("SHA-256") && line.contains(&sha256_hex(&bits)), "{line}");
    assert!(!path.exists() && !part.exists());

    droplet(&server, &["download", &guid, "-o", path.to_str().unwrap()]).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bits);
}

/// Failures come back as an error that `describe` (what the binary prints before exiting 1) puts
/// on one line: for API errors the CF title and detail.
#[tokio::test]
async fn cli_errors_are_one_line_with_the_cf_title_and_detail() {
    let server = TestServer::start();
    let missing = uuid::Uuid::new_v4().to_string();
    let error = droplet(&server, &["get", &missing]).await.expect_err("no such droplet");
    let line = cli::describe(&error);
    assert!(line.contains("CF-ResourceNotFound: Droplet not found"), "{line}");
    assert!(line.contains("404") && !line.contains('\n'), "{line}");

    let error = droplet(&server, &["upload", &missing, "/nonexistent/droplet.tgz"]).await;
    let line = cli::describe(&error.expect_err("no file"));
    assert!(line.contains("/nonexistent/droplet.tgz"), "{line}");

    let mut out = Vec::new();
    let empty = server.scratch().join("no-login");
    let args = ["droplet", "--config-dir", empty.to_str().unwrap(), "--api", &server.base_url];
    let no_token = cli::run(args.iter().chain(&["get", &missing]), &mut out).await;
    // Without --token the token comes from DROPLET_TOKEN, which the test environment lacks, or
    // from a login, which this configuration directory does not hold.
    if std::env::var_os("DROPLET_TOKEN").is_none() {
        let line = cli::describe(&no_token.expect_err("no token"));
        assert!(line.contains("DROPLET_TOKEN") && line.contains("droplet login"), "{line}");
    }
}
