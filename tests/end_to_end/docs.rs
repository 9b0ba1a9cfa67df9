//! `GET /docs`: the committed `openapi.html` documents what the server serves, and what a browser
//! makes of it.

use std::time::Duration;

use crate::common::TestServer;

/// The page documents the API this server serves: every operation of its `/openapi.json` (made
/// from the API trait at run time) is in the page's embedded document, so a page left stale by a
/// change to the API fails here.
#[tokio::test]
async fn docs_page_documents_every_operation_served_and_needs_no_token() {
    let server = TestServer::start();
    let response = server.raw().get(server.url("/docs")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.unwrap();
    let spec: serde_json::Value =
        server.raw().get(server.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let operations: Vec<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|path| path.as_object().unwrap().values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    assert!(operations.len() >= 10, "{operations:?}");
    for operation in operations {
        let embedded = format!("\"operationId\":\"{operation}\"");
        assert!(page.contains(&embedded), "{operation} is not in /docs; run `cargo xtask regen`");
    }
    let version = spec["info"]["version"].as_str().unwrap();
    assert!(page.contains(&format!("\"version\":\"{version}\"")), "version {version}");
    // Self-contained: no script is loaded from elsewhere.
    assert!(!page.contains("<script src=\"http"), "the page loads a remote script");
}

/// Headless Chromium (`apt-get install chromium`) loads the upload operation's page, runs the
/// scripts, and the upload and download operations are in the rendered document (the navigation
/// lists both), outside any script: the spec itself is embedded in one, and the served HTML has
/// neither summary outside scripts, so only the page's own rendering puts them there.
#[tokio::test]
async fn docs_page_renders_the_operations_in_a_browser() {
    let server = TestServer::start();
    let args = ["--virtual-time-budget=10000", "--dump-dom"];
    let output = chromium(&args, &server.url("/docs#/droplets/droplet_upload")).await;
    let dom = String::from_utf8_lossy(&output);
    let rendered = without_scripts(&dom);
    for summary in ["Upload droplet bits", "Download droplet bits"] {
        assert!(rendered.contains(summary), "{summary:?} is not in the rendered page");
    }
}

/// The guide at the top of `/docs` is rendered, every section of it, and a screenshot of the
/// top of the page is written for a person to look at (`target/docs-guide.png`).
#[tokio::test]
async fn docs_page_opens_on_the_guide() {
    let server = TestServer::start();
    let url = server.url("/docs");
    let dom = chromium(&["--virtual-time-budget=10000", "--dump-dom"], &url).await;
    let rendered = without_scripts(&String::from_utf8_lossy(&dom));
    for section in [
        "Getting a token",
        "Create, upload, follow the job, download",
        "Redirects: never send the token along",
        "Errors",
        "The size limit",
        "CF-BlobstoreUnavailable",
        "client_credentials",
    ] {
        assert!(rendered.contains(section), "{section:?} is not in the rendered guide");
    }
    let screenshot = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/docs-guide.png");
    let _ = std::fs::remove_file(screenshot);
    let window = "--window-size=1600,1400";
    chromium(&["--virtual-time-budget=10000", window, &format!("--screenshot={screenshot}")], &url)
        .await;
    let png = std::fs::read(screenshot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "not a real screenshot");
}

/// Runs headless Chromium on `url` with `args`; returns what it printed.
async fn chromium(args: &[&str], url: &str) -> Vec<u8> {
    let profile = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .args(args)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("chromium finished within 2 minutes")
        .expect("running chromium (apt-get install -y chromium)");
    assert!(output.status.success(), "chromium: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

/// The document with every `<script>...</script>` element cut out.
fn without_scripts(html: &str) -> String {
    let mut rest = html;
    let mut out = String::new();
    while let Some(start) = rest.find("<script") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</script>") {
            Some(end) => rest = &rest[start + end + "</script>".len()..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}
