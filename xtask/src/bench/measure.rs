//! The measured rounds: what is timed, how, and the samples kept for the report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, ensure};

use super::droplet::Droplet;
use super::nginx::Nginx;
use super::ours::Ours;
use super::process::Upload;
use super::s3::S3Process;

pub(super) const MIB: f64 = 1024.0 * 1024.0;

/// Every measurement of the run, by name (`ours upload`, `nginx download`, ...).
#[derive(Default)]
pub(super) struct Samples(BTreeMap<String, Vec<f64>>);

impl Samples {
    pub(super) fn push(&mut self, name: impl Into<String>, value: f64) {
        self.0.entry(name.into()).or_default().push(value);
    }

    /// The median of `name`'s samples; NaN (printed as such) when nothing was measured.
    pub(super) fn median(&self, name: &str) -> f64 {
        self.0.get(name).map_or(f64::NAN, |values| median(values))
    }

    fn upload(&mut self, name: &str, upload: &Upload) {
        self.push(format!("{name} upload"), upload.seconds);
        self.push(format!("{name} upload cpu"), upload.cpu_seconds);
    }
}

/// A build of our server under test: this tree's, and, with `--baseline`, an earlier one's, each
/// on the local store and on S3.
pub(super) struct Variant {
    pub(super) label: &'static str,
    pub(super) local: Ours,
    pub(super) s3: Ours,
    /// This tree's build also on S3 with `sign_payload = true`: what it costs to sign the
    /// payload over https, where neither it nor boto3 does by default.
    pub(super) s3_signed: Option<Ours>,
    /// The build on each store again, for its resumable uploads (if it serves them), so that
    /// each server's peak memory is that of one kind of upload.
    pub(super) resumable: Option<Resumable>,
}

/// A build's servers for resumable uploads: on the local store and on S3.
pub(super) struct Resumable {
    pub(super) local: Ours,
    pub(super) s3: Ours,
}

/// The size of a resumable upload's `PATCH`es in the bench.
pub(super) const PATCH_BYTES: u64 = 16 * 1024 * 1024;

/// What a round runs against.
pub(super) struct Bench<'a> {
    pub(super) variants: &'a [Variant],
    pub(super) nginx: &'a Nginx,
    pub(super) s3: &'a S3Process,
    /// The droplet of random bytes, and the one like an application's.
    pub(super) random: &'a Droplet,
    pub(super) app: &'a Droplet,
    /// The random droplet in `PATCH`es of [`PATCH_BYTES`], with their offsets.
    pub(super) chunks: &'a [(PathBuf, u64)],
    /// The files the previous uploads left, by who left them.
    pub(super) left: BTreeMap<String, PathBuf>,
}

impl Bench<'_> {
    /// One round: each droplet uploaded to each server and downloaded back, then the S3 store
    /// through our server and directly. Unmeasured when `round` is 0, the warm-up.
    pub(super) fn round(&mut self, round: u64, samples: &mut Samples) -> anyhow::Result<()> {
        let (random, app, variants) = (self.random, self.app, self.variants);
        for variant in variants {
            let (guid, upload) = self.upload_ours(&variant.local, variant.label, random)?;
            show(round, variant.label, "upload", random, &upload);
            samples.upload(variant.label, &upload);
            settle();
            let seconds = variant.local.download(&guid, random.tgz_len)?;
            show_download(round, variant.label, random, seconds);
            samples.push(format!("{} download", variant.label), seconds);
            if let Some(resumable) = &variant.resumable {
                let name = format!("{} resumable", variant.label);
                let upload = self.upload_resumable(&resumable.local, &name)?;
                show(round, &name, "upload", random, &upload);
                samples.upload(&name, &upload);
            }
        }
        let (upload, synced) = self.upload_nginx(random)?;
        show(round, "nginx", "upload", random, &upload);
        samples.upload("nginx", &upload);
        samples.push("nginx upload synced", synced);
        settle();
        let seconds = self.nginx.download(&variants[0].local.token, random.tgz_len)?;
        show_download(round, "nginx", random, seconds);
        samples.push("nginx download", seconds);

        for variant in variants {
            let name = format!("{} app", variant.label);
            let (_, upload) = self.upload_ours(&variant.local, variant.label, app)?;
            show(round, &name, "upload", app, &upload);
            samples.upload(&name, &upload);
        }
        let (upload, _) = self.upload_nginx(app)?;
        show(round, "nginx app", "upload", app, &upload);
        samples.upload("nginx app", &upload);

        for variant in variants {
            let name = format!("{} S3", variant.label);
            let (guid, upload) = self.upload_ours(&variant.s3, &name, random)?;
            show(round, &name, "upload", random, &upload);
            samples.upload(&name, &upload);
            settle();
            let seconds = variant.s3.download(&guid, random.tgz_len)?;
            show_download(round, &name, random, seconds);
            samples.push(format!("{name} download"), seconds);
            if let Some(resumable) = &variant.resumable {
                let name = format!("{} S3 resumable", variant.label);
                let upload = self.upload_resumable(&resumable.s3, &name)?;
                show(round, &name, "upload", random, &upload);
                samples.upload(&name, &upload);
            }
            if let Some(signed) = &variant.s3_signed {
                let name = format!("{} S3 signed", variant.label);
                let (_, upload) = self.upload_ours(signed, &name, random)?;
                show(round, &name, "upload", random, &upload);
                samples.upload(&name, &upload);
            }
        }
        settle();
        self.delete_left("direct S3")?;
        let (seconds, object) = self.s3.direct_upload(&random.tgz)?;
        println!(
            "round {round}: {:<14} upload   {seconds:7.2} s  {:7.1} MiB/s",
            "boto3 to S3",
            mib_per_s(random.tgz_len, seconds)
        );
        samples.push("direct S3 upload", seconds);
        self.left.insert("direct S3".to_owned(), object);
        Ok(())
    }

    /// An upload into a new droplet of `ours`, after deleting what its previous upload left.
    fn upload_ours(
        &mut self,
        ours: &Ours,
        slot: &str,
        droplet: &Droplet,
    ) -> anyhow::Result<(String, Upload)> {
        let guid = ours.create_droplet()?;
        settle();
        self.delete_left(slot)?;
        let (upload, _accepted) = ours.upload(&guid, &droplet.body)?;
        let left = match ours.blob_path(&guid)? {
            Some(path) => path,
            None => self.s3.object_path(&guid),
        };
        ensure!(left.is_file(), "no blob at {}", left.display());
        self.left.insert(slot.to_owned(), left);
        Ok((guid, upload))
    }

    /// A resumable upload of the random droplet into a new droplet of `ours`, in `PATCH`es of
    /// [`PATCH_BYTES`], after deleting what its previous upload left.
    fn upload_resumable(&mut self, ours: &Ours, slot: &str) -> anyhow::Result<Upload> {
        let guid = ours.create_droplet()?;
        settle();
        self.delete_left(slot)?;
        let upload = ours.upload_resumable(&guid, self.random.tgz_len, self.chunks)?;
        let left = match ours.blob_path(&guid)? {
            Some(path) => path,
            None => self.s3.object_path(&guid),
        };
        ensure!(left.is_file(), "no blob at {}", left.display());
        self.left.insert(slot.to_owned(), left);
        Ok(upload)
    }

    /// An upload to nginx, and the seconds until its file was also fdatasynced.
    fn upload_nginx(&mut self, droplet: &Droplet) -> anyhow::Result<(Upload, f64)> {
        settle();
        self.delete_left("nginx")?;
        let token = &self.variants[0].local.token;
        let (upload, synced, file) = self.nginx.upload(token, droplet)?;
        self.left.insert("nginx".to_owned(), file);
        Ok((upload, synced))
    }

    /// Deletes the file the previous upload of `slot` left.
    ///
    /// A VM that hands the memory its guest frees back to the host (free page reporting, as on
    /// the one this was written on) makes every write to a page-cache page not recently in use
    /// cost a host page fault: there about 3 s per GiB, for every server alike, which made
    /// nginx's upload 2.5 times slower and hid most of the difference between the servers.
    /// Deleting the previous upload just before the next one gives the kernel recently used
    /// pages to write into, as on a long-running host whose page cache recycles memory. It helps
    /// most, not all, of the time: the host reclaims what is still free after a couple of
    /// seconds. The unmeasured warm-up round gives the first round files to delete.
    fn delete_left(&mut self, slot: &str) -> anyhow::Result<()> {
        if let Some(path) = self.left.remove(slot) {
            std::fs::remove_file(&path).with_context(|| format!("deleting {}", path.display()))?;
        }
        Ok(())
    }
}

fn show(round: u64, who: &str, what: &str, droplet: &Droplet, upload: &Upload) {
    println!(
        "round {round}: {who:<14} {what:<8} {:7.2} s  {:7.1} MiB/s  CPU {:5.2} s",
        upload.seconds,
        mib_per_s(droplet.body_len, upload.seconds),
        upload.cpu_seconds,
    );
}

fn show_download(round: u64, who: &str, droplet: &Droplet, seconds: f64) {
    println!(
        "round {round}: {who:<14} download {seconds:7.2} s  {:7.1} MiB/s",
        mib_per_s(droplet.tgz_len, seconds)
    );
}

/// Writes back every dirty page before a measurement, so that the previous one's writeback (nginx
/// leaves a whole upload in the page cache) does not compete for the disk with this one.
pub(super) fn settle() {
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
