//! The measured rounds: what is timed, how, and the samples kept for the report.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, ensure};

use super::droplet::Droplet;
use super::nginx::Nginx;
use super::ours::Ours;
use super::process::Upload;

pub(super) const MIB: f64 = 1024.0 * 1024.0;

#[derive(Default)]
pub(super) struct Samples {
    pub(super) ours_upload: Vec<f64>,
    pub(super) nginx_upload: Vec<f64>,
    /// CPU seconds the servers spent on an upload: less disturbed by neighbours than wall time.
    pub(super) ours_upload_cpu: Vec<f64>,
    pub(super) nginx_upload_cpu: Vec<f64>,
    /// nginx's upload plus an fdatasync of the file it wrote: informational, since our server
    /// makes the blob durable before the job completes and nginx never syncs.
    pub(super) nginx_upload_synced: Vec<f64>,
    pub(super) ours_download: Vec<f64>,
    pub(super) nginx_download: Vec<f64>,
    /// Our server on the S3 store: the upload until its job completed, and the download through
    /// the redirect to the presigned URL.
    pub(super) s3_upload: Vec<f64>,
    pub(super) s3_download: Vec<f64>,
}

impl Samples {
    /// One round: an upload to each server, then a download from each, ours first.
    pub(super) fn round(&mut self, round: u64, uploads: &mut Uploads<'_>) -> anyhow::Result<()> {
        let (ours, nginx, droplet) = (uploads.ours, uploads.nginx, uploads.droplet);
        let (guid, ours_up, accepted) = uploads.ours()?;
        println!(
            "round {round}: ours  upload   {:7.2} s  {:7.1} MiB/s  CPU {:5.2} s  (202 after {:.2} s)",
            ours_up.seconds,
            mib_per_s(droplet.body_len, ours_up.seconds),
            ours_up.cpu_seconds,
            accepted
        );
        let (nginx_up, synced) = uploads.nginx()?;
        println!(
            "round {round}: nginx upload   {:7.2} s  {:7.1} MiB/s  CPU {:5.2} s  (+ fdatasync: {:.2} s)",
            nginx_up.seconds,
            mib_per_s(droplet.body_len, nginx_up.seconds),
            nginx_up.cpu_seconds,
            synced
        );
        settle();
        let ours_down = ours.download(&guid, droplet.tgz_len)?;
        println!(
            "round {round}: ours  download {ours_down:7.2} s  {:7.1} MiB/s",
            mib_per_s(droplet.tgz_len, ours_down)
        );
        settle();
        let nginx_down = nginx.download(&ours.token, droplet.tgz_len)?;
        println!(
            "round {round}: nginx download {nginx_down:7.2} s  {:7.1} MiB/s",
            mib_per_s(droplet.tgz_len, nginx_down)
        );
        self.ours_upload.push(ours_up.seconds);
        self.nginx_upload.push(nginx_up.seconds);
        self.ours_upload_cpu.push(ours_up.cpu_seconds);
        self.nginx_upload_cpu.push(nginx_up.cpu_seconds);
        self.nginx_upload_synced.push(synced);
        self.ours_download.push(ours_down);
        self.nginx_download.push(nginx_down);

        settle();
        let (guid, s3_up, accepted) = uploads.ours_s3()?;
        println!(
            "round {round}: S3    upload   {:7.2} s  {:7.1} MiB/s  CPU {:5.2} s  (202 after {:.2} s)",
            s3_up.seconds,
            mib_per_s(droplet.body_len, s3_up.seconds),
            s3_up.cpu_seconds,
            accepted
        );
        settle();
        let s3_down = uploads.ours_s3.download(&guid, droplet.tgz_len)?;
        println!(
            "round {round}: S3    download {s3_down:7.2} s  {:7.1} MiB/s",
            mib_per_s(droplet.tgz_len, s3_down)
        );
        self.s3_upload.push(s3_up.seconds);
        self.s3_download.push(s3_down);
        Ok(())
    }
}

/// Makes the uploads, each after deleting the file the same server's previous upload left.
///
/// A VM that hands the memory its guest frees back to the host (free page reporting, as on the
/// one this was written on) makes every write to a page-cache page not recently in use cost a
/// host page fault: there about 3 s per GiB, for both servers alike, which made nginx's upload
/// 2.5 times slower and hid most of the difference between the servers. Deleting the previous
/// upload just before the next one gives the kernel recently used pages to write into, as on a
/// long-running host whose page cache recycles memory. It helps most, not all, of the time: the
/// host reclaims what is still free after a couple of seconds. The unmeasured warm-up round
/// gives the first round files to delete.
pub(super) struct Uploads<'a> {
    pub(super) ours: &'a Ours,
    pub(super) nginx: &'a Nginx,
    pub(super) ours_s3: &'a Ours,
    /// The S3 server's directory: objects are files under `BUCKET/`.
    pub(super) s3_root: &'a Path,
    pub(super) droplet: &'a Droplet,
    /// The files the previous uploads left: ours, nginx's, the S3 object.
    pub(super) left: [Option<PathBuf>; 3],
}

impl Uploads<'_> {
    /// An upload into a new droplet: its guid, the upload, and the seconds until the 202.
    pub(super) fn ours(&mut self) -> anyhow::Result<(String, Upload, f64)> {
        let guid = self.ours.create_droplet()?;
        settle();
        delete(&mut self.left[0])?;
        let (upload, accepted) = self.ours.upload(&guid, &self.droplet.body)?;
        self.left[0] = Some(self.ours.blob_path(&guid)?);
        Ok((guid, upload, accepted))
    }

    /// An upload into a new droplet of our server on the S3 store.
    pub(super) fn ours_s3(&mut self) -> anyhow::Result<(String, Upload, f64)> {
        let guid = self.ours_s3.create_droplet()?;
        settle();
        delete(&mut self.left[2])?;
        let (upload, accepted) = self.ours_s3.upload(&guid, &self.droplet.body)?;
        let object = self.s3_root.join(droplet_test_s3_server::BUCKET).join("droplets").join(&guid);
        ensure!(object.is_file(), "no S3 object at {}", object.display());
        self.left[2] = Some(object);
        Ok((guid, upload, accepted))
    }

    /// An upload, and the seconds until its file was also fdatasynced.
    pub(super) fn nginx(&mut self) -> anyhow::Result<(Upload, f64)> {
        settle();
        delete(&mut self.left[1])?;
        let (upload, synced, file) = self.nginx.upload(&self.ours.token, self.droplet)?;
        self.left[1] = Some(file);
        Ok((upload, synced))
    }
}

fn delete(file: &mut Option<PathBuf>) -> anyhow::Result<()> {
    if let Some(path) = file.take() {
        std::fs::remove_file(&path).with_context(|| format!("deleting {}", path.display()))?;
    }
    Ok(())
}

/// Writes back every dirty page before a measurement, so that the previous one's writeback (nginx
/// leaves a whole upload in the page cache) does not compete for the disk with this one.
fn settle() {
    let _ = Command::new("sync").status();
}

pub(super) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[middle] } else { (sorted[middle - 1] + sorted[middle]) / 2.0 }
}

pub(super) fn mib_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / MIB / seconds
}
