//! HTTP through curl, the same client for every server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, ensure};

use super::droplet::BOUNDARY;
use super::process::stderr;

/// The upload, identical for both servers but for the URL: the body streamed from disk, and no
/// `Expect: 100-continue` round trip.
pub(super) fn upload_request(url: &str, token: &str, body: &Path) -> anyhow::Result<Response> {
    let content_type = format!("Content-Type: multipart/form-data; boundary={BOUNDARY}");
    let body = body.to_str().context("the body's path is not UTF-8")?;
    curl(&[
        "-X",
        "POST",
        "-T",
        body,
        "-H",
        &content_type,
        "-H",
        "Expect:",
        "-H",
        &bearer(token),
        url,
    ])
}

/// A resumable upload's bytes, each chunk a `PATCH` at its offset to the upload's URL, all in
/// one curl on one connection (`--next`), as a tus client sends them; the `Job-Location` the
/// last one answered.
pub(super) fn resumable_appends(
    url: &str,
    token: &str,
    chunks: &[(PathBuf, u64)],
) -> anyhow::Result<String> {
    let mut curl = Command::new("curl");
    for (index, (chunk, offset)) in chunks.iter().enumerate() {
        if index > 0 {
            curl.arg("--next");
        }
        curl.args(["-sS", "-X", "PATCH", "-T"]).arg(chunk);
        curl.args(["-H", "Content-Type: application/offset+octet-stream"]);
        curl.args(["-H", "Tus-Resumable: 1.0.0", "-H", "Expect:", "-H", &bearer(token)]);
        curl.arg("-H").arg(format!("Upload-Offset: {offset}"));
        curl.args(["-o", "/dev/null", "-w", "%{http_code} %header{job-location}\n", url]);
    }
    let output = curl.output().context("running curl")?;
    ensure!(output.status.success(), "curl PATCH {url} failed: {}", stderr(&output));
    let answers = String::from_utf8(output.stdout)?;
    let mut last = "";
    for answer in answers.lines() {
        ensure!(answer.starts_with("204 "), "a PATCH of {url} answered {answer}");
        last = answer;
    }
    let job = last.trim_start_matches("204 ").trim();
    ensure!(!job.is_empty(), "the last PATCH of {url} named no job");
    Ok(job.to_owned())
}

/// Seconds to download `url` to nowhere, checking that all `expected_len` bytes came. A redirect
/// (our server on S3) is followed; curl does not send the token to another host or port.
/// A GET of `url` to /dev/null, following redirects; `trust` names the CA certificates of a
/// store redirected to over TLS.
pub(super) fn download(
    url: &str,
    token: &str,
    expected_len: u64,
    trust: Option<&Path>,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut curl = Command::new("curl");
    curl.args(["-sS", "-L", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-H"]);
    curl.arg(bearer(token)).arg(url);
    if let Some(trust) = trust {
        curl.arg("--cacert").arg(trust);
    }
    let output = curl.output().context("running curl")?;
    let seconds = started.elapsed().as_secs_f64();
    ensure!(output.status.success(), "curl {url} failed: {}", stderr(&output));
    let written = String::from_utf8_lossy(&output.stdout).into_owned();
    ensure!(
        written == format!("200 {expected_len}"),
        "GET {url}: got {written}, not 200 and {expected_len} bytes"
    );
    Ok(seconds)
}

pub(super) fn bearer(token: &str) -> String {
    format!("Authorization: bearer {token}")
}

pub(super) struct Response {
    status: u16,
    head: String,
    pub(super) body: String,
}

impl Response {
    pub(super) fn expect(&self, status: u16, what: &str) -> anyhow::Result<()> {
        ensure!(
            self.status == status,
            "{what}: HTTP {} (wanted {status}): {}",
            self.status,
            self.body
        );
        Ok(())
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Runs `curl -sS -i` with `args`, which must not download anything large.
pub(super) fn curl(args: &[&str]) -> anyhow::Result<Response> {
    let output =
        Command::new("curl").args(["-sS", "-i"]).args(args).output().context("running curl")?;
    ensure!(output.status.success(), "curl {args:?} failed: {}", stderr(&output));
    let mut text = String::from_utf8(output.stdout)?;
    // Skip interim responses (100 Continue), whose heads come before the final one.
    loop {
        let (head, body) = text.split_once("\r\n\r\n").context("no HTTP response head")?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .context("no HTTP status")?;
        if status >= 200 {
            return Ok(Response { status, head: head.to_owned(), body: body.to_owned() });
        }
        text = body.to_owned();
    }
}
