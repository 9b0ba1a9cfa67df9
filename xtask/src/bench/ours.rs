//! Our server: built in release mode, started on a data directory of its own (and on a
//! configuration, for the S3 store), and driven through its API.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use super::http::{bearer, curl, download, resumable_appends, upload_request};
use super::process::{Process, Upload, cpu_seconds, stderr};

/// An upload job that has not finished by then is stuck, not slow.
const JOB_TIMEOUT: Duration = Duration::from_secs(600);

/// The release binaries the bench runs.
pub(super) struct Binaries {
    pub(super) server: PathBuf,
    pub(super) s3_server: PathBuf,
}

pub(super) fn build(root: &Path, target: &Path) -> anyhow::Result<Binaries> {
    println!("building droplet-server and the S3 server (release)...");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "droplet-server", "-p", "droplet-test-s3-server"])
        .current_dir(root)
        .status()
        .context("running cargo")?;
    ensure!(status.success(), "cargo build --release failed: {status}");
    Ok(Binaries {
        server: target.join("release/droplet-server"),
        s3_server: target.join("release/droplet-test-s3-server"),
    })
}

pub(super) struct Ours {
    process: Process,
    pub(super) url: String,
    pub(super) token: String,
    data_dir: PathBuf,
    /// The CA certificates it was started to trust: the S3 store's, which downloads redirect to.
    trust: Option<PathBuf>,
}

impl Ours {
    /// Starts `bin` on `data_dir`, with `config` if given, trusting the CA certificates in
    /// `trust` (as `SSL_CERT_FILE`, which every build reads) if given.
    pub(super) fn start(
        bin: &Path,
        data_dir: &Path,
        config: Option<&Path>,
        trust: Option<&Path>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let log = File::create(data_dir.with_extension("log"))?;
        let mut command = Command::new(bin);
        command.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"]).arg(data_dir);
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        if let Some(trust) = trust {
            command.env("SSL_CERT_FILE", trust);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let process = Process { child, name: "droplet-server" };
        let mut first = String::new();
        stdout.read_line(&mut first)?;
        let Some(url) = first.trim().strip_prefix("listening on ") else {
            bail!(
                "droplet-server did not start (see {})",
                data_dir.with_extension("log").display()
            );
        };
        let url = url.to_owned();
        // The server may print more; the pipe must not fill up.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));

        let output = Command::new(bin).arg("token").arg("--data-dir").arg(data_dir).output()?;
        ensure!(output.status.success(), "droplet-server token failed: {}", stderr(&output));
        let token = String::from_utf8(output.stdout)?.trim().to_owned();
        let (data_dir, trust) = (data_dir.to_owned(), trust.map(Path::to_owned));
        Ok(Ours { process, url, token, data_dir, trust })
    }

    pub(super) fn create_droplet(&self) -> anyhow::Result<String> {
        let app = uuid::Uuid::new_v4();
        let body = format!(r#"{{"relationships":{{"app":{{"data":{{"guid":"{app}"}}}}}}}}"#);
        let url = format!("{}/v3/droplets", self.url);
        let response = curl(&[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-H",
            &bearer(&self.token),
            "--data-binary",
            &body,
            &url,
        ])?;
        response.expect(201, "creating a droplet")?;
        let droplet: serde_json::Value = serde_json::from_str(&response.body)?;
        droplet["guid"].as_str().map(str::to_owned).context("the droplet has no guid")
    }

    /// The upload until its job is COMPLETE, and the seconds until the 202.
    pub(super) fn upload(&self, guid: &str, body: &Path) -> anyhow::Result<(Upload, f64)> {
        let pid = self.process.child.id();
        let cpu = cpu_seconds(pid)?;
        let started = Instant::now();
        let url = format!("{}/v3/droplets/{guid}/upload", self.url);
        let response = upload_request(&url, &self.token, body)?;
        let accepted = started.elapsed().as_secs_f64();
        response.expect(202, "uploading to our server")?;
        let job = response.header("location").context("the 202 has no Location")?;
        self.wait_for_job(job)?;
        let seconds = started.elapsed().as_secs_f64();
        Ok((Upload { seconds, cpu_seconds: cpu_seconds(pid)? - cpu }, accepted))
    }

    /// Whether this build serves resumable uploads (an earlier one, as a baseline, may not).
    pub(super) fn serves_resumable_uploads(&self) -> anyhow::Result<bool> {
        let url = format!("{}/v3/droplets/{}/uploads", self.url, uuid::Uuid::nil());
        let response = curl(&["-X", "OPTIONS", "-H", &bearer(&self.token), &url])?;
        Ok(response.header("tus-version").is_some())
    }

    /// A resumable upload of `tgz_len` bytes, sent as `chunks`, until its job is COMPLETE.
    pub(super) fn upload_resumable(
        &self,
        guid: &str,
        tgz_len: u64,
        chunks: &[(PathBuf, u64)],
    ) -> anyhow::Result<Upload> {
        let pid = self.process.child.id();
        let cpu = cpu_seconds(pid)?;
        let started = Instant::now();
        let url = format!("{}/v3/droplets/{guid}/uploads", self.url);
        let length = format!("Upload-Length: {tgz_len}");
        let tus = "Tus-Resumable: 1.0.0";
        let response =
            curl(&["-X", "POST", "-H", tus, "-H", &length, "-H", &bearer(&self.token), &url])?;
        response.expect(201, "creating a resumable upload")?;
        let upload = response.header("location").context("the 201 has no Location")?;
        let job = resumable_appends(upload, &self.token, chunks)?;
        self.wait_for_job(&job)?;
        let seconds = started.elapsed().as_secs_f64();
        Ok(Upload { seconds, cpu_seconds: cpu_seconds(pid)? - cpu })
    }

    /// Where the local blobstore keeps the droplet's bits (`blobstore::droplet_key`); None on
    /// the S3 store.
    pub(super) fn blob_path(&self, guid: &str) -> anyhow::Result<Option<PathBuf>> {
        let path = self.data_dir.join("blobs/droplets").join(guid);
        Ok(path.is_file().then_some(path))
    }

    fn wait_for_job(&self, url: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + JOB_TIMEOUT;
        while Instant::now() < deadline {
            let response = curl(&["-H", &bearer(&self.token), url])?;
            response.expect(200, "polling the upload job")?;
            let job: serde_json::Value = serde_json::from_str(&response.body)?;
            match job["state"].as_str() {
                Some("COMPLETE") => return Ok(()),
                Some("FAILED") => bail!("the upload job FAILED: {}", job["errors"]),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        bail!("the upload job did not complete within {JOB_TIMEOUT:?}")
    }

    pub(super) fn download(&self, guid: &str, expected_len: u64) -> anyhow::Result<f64> {
        let url = format!("{}/v3/droplets/{guid}/download", self.url);
        download(&url, &self.token, expected_len, self.trust.as_deref())
    }

    pub(super) fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// The server's peak resident set (VmHWM), in bytes.
    pub(super) fn peak_rss_bytes(&self) -> anyhow::Result<u64> {
        peak_rss_bytes(self.pid())
    }
}

/// A process's peak resident set (VmHWM), in bytes.
pub(super) fn peak_rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM")?;
    let kib: u64 = line.split_whitespace().nth(1).context("malformed VmHWM")?.parse()?;
    Ok(kib * 1024)
}

/// Starts a new peak: the kernel resets VmHWM to the current resident set (proc(5), clear_refs).
pub(super) fn reset_peak_rss(pid: u32) -> anyhow::Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").context("resetting the peak RSS")
}
