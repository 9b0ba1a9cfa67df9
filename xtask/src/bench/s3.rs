//! The S3 store: the test suite's S3 server (s3s-fs) as a process of its own, and the reference
//! it is measured against, boto3 uploading the same droplet straight into the same bucket.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail, ensure};
use droplet_test_s3_server::{ACCESS_KEY, BUCKET, REGION, SECRET_KEY};

use super::process::{Process, stderr};

/// boto3, pinned like the test tools: the AWS SDK most S3 clients are compared with, and what
/// the AWS CLI uploads with.
const PYTHON_PACKAGES: &[&str] = &["boto3==1.44.8"];
const DIRECT_UPLOAD: &str = include_str!("direct_upload.py");

pub(super) struct S3Process {
    /// Held only to be stopped when dropped.
    _process: Process,
    /// `https://ADDR`: the store speaks TLS, as a real S3 does, so that each client signs (or
    /// not) as it does over https.
    pub(super) endpoint: String,
    /// The self-signed certificate the store presents.
    pub(super) ca_certificate: PathBuf,
    root: PathBuf,
    python: PathBuf,
}

impl S3Process {
    pub(super) fn start(bin: &Path, root: &Path, repository: &Path) -> anyhow::Result<Self> {
        let python =
            crate::python::venv(repository, "bench-venv", PYTHON_PACKAGES)?.join("bin/python");
        let mut child = Command::new(bin)
            .arg("--tls")
            .arg(root)
            // Held open: the server runs until its standard input closes.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut first)?;
        let process = Process { child, name: "droplet-test-s3-server" };
        let Some(endpoint) = first.trim().strip_prefix("listening on ") else {
            bail!("the S3 server did not start: {first:?}");
        };
        let endpoint = endpoint.to_owned();
        let ca_certificate = root.join(droplet_test_s3_server::TLS_CA_FILE);
        ensure!(ca_certificate.is_file(), "the S3 server wrote no {}", ca_certificate.display());
        let root = root.to_owned();
        Ok(S3Process { _process: process, endpoint, ca_certificate, root, python })
    }

    pub(super) fn blobstore_toml(&self) -> String {
        // The certificate is trusted through SSL_CERT_FILE, which older builds read too.
        droplet_test_s3_server::blobstore_toml(&self.endpoint, None)
    }

    /// Where s3s-fs keeps a droplet's object.
    pub(super) fn object_path(&self, guid: &str) -> PathBuf {
        self.root.join(BUCKET).join("droplets").join(guid)
    }

    /// Uploads `file` with boto3's defaults to a new key: the seconds it took, and the object.
    pub(super) fn direct_upload(&self, file: &Path) -> anyhow::Result<(f64, PathBuf)> {
        let key = format!("direct/{}", uuid::Uuid::new_v4());
        let output = Command::new(&self.python)
            .args(["-c", DIRECT_UPLOAD, &self.endpoint, BUCKET, &key])
            .arg(file)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_CA_BUNDLE", &self.ca_certificate)
            .output()
            .context("running boto3")?;
        ensure!(output.status.success(), "the boto3 upload failed: {}", stderr(&output));
        let seconds: f64 = String::from_utf8(output.stdout)?.trim().parse()?;
        let object = self.root.join(BUCKET).join(&key);
        let (stored, expected) =
            (std::fs::metadata(&object)?.len(), std::fs::metadata(file)?.len());
        ensure!(stored == expected, "boto3 stored {stored} bytes, not {expected}");
        Ok((seconds, object))
    }
}
