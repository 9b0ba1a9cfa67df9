//! `--only check`: `droplet-server check --deep` reading a local store through, against
//! `sha256sum` reading the same files, taking turns, with the page cache dropped before each
//! (`sync; echo 3 > /proc/sys/vm/drop_caches`, as root), so that both read from the disk and
//! neither finds the other's reads in memory. Reported: each one's MiB/s (medians) and the ratio.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, ensure};

use super::droplet::Droplet;
use super::measure::{Samples, mib_per_s};
use super::ours::Ours;

#[derive(clap::Args)]
pub(super) struct ScrubArgs {
    /// `--only check`: droplets written into the local store, each of `--check-droplet-mib`.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..))]
    check_droplets: u64,
    /// `--only check`: the size of each droplet's contents, in MiB.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    check_droplet_mib: u64,
}

impl ScrubArgs {
    pub(super) fn droplet_mib(&self) -> u64 {
        self.check_droplet_mib
    }
}

/// Fills a store with `args.check_droplets` copies of `droplet` uploaded through `bin`, then
/// measures `rounds` rounds.
pub(super) fn run(
    args: &ScrubArgs,
    bin: &Path,
    droplet: &Droplet,
    rounds: u64,
    dir: &Path,
) -> anyhow::Result<()> {
    let data_dir = dir.join("check-data");
    let ours = Ours::start(bin, &data_dir, None, None)?;
    let mut blobs: Vec<PathBuf> = Vec::new();
    for _ in 0..args.check_droplets {
        let guid = ours.create_droplet()?;
        ours.upload(&guid, &droplet.body)?;
        blobs.push(ours.blob_path(&guid)?.context("an uploaded droplet's blob")?);
    }
    // The check runs beside no server, on the store it left.
    drop(ours);
    let bytes: u64 = blobs.iter().map(|b| std::fs::metadata(b).map_or(0, |m| m.len())).sum();
    let dropped = drop_page_cache();
    if !dropped {
        eprintln!("the page cache cannot be dropped (not root?): both sides may read from memory");
    }
    println!(
        "check --deep against sha256sum: {} blobs, {:.0} MiB, {rounds} rounds",
        blobs.len(),
        bytes as f64 / (1024.0 * 1024.0)
    );
    let mut samples = Samples::default();
    for round in 1..=rounds {
        drop_page_cache();
        let started = Instant::now();
        let check = Command::new(bin)
            .args(["check", "--deep", "--data-dir"])
            .arg(&data_dir)
            .stdout(Stdio::null())
            .status()?;
        let ours = mib_per_s(bytes, started.elapsed().as_secs_f64());
        ensure!(check.success(), "droplet-server check --deep found problems or failed");
        drop_page_cache();
        let started = Instant::now();
        let sha256sum = Command::new("sha256sum").args(&blobs).stdout(Stdio::null()).status()?;
        let reference = mib_per_s(bytes, started.elapsed().as_secs_f64());
        ensure!(sha256sum.success(), "sha256sum failed");
        println!("round {round}: check --deep {ours:.0} MiB/s, sha256sum {reference:.0} MiB/s");
        samples.push("ours", ours);
        samples.push("sha256sum", reference);
    }
    let (ours, reference) = (samples.median("ours"), samples.median("sha256sum"));
    println!();
    println!("| reader (page cache dropped: {dropped}) | MiB/s (median) | vs sha256sum |");
    println!("|---|---:|---:|");
    println!("| `sha256sum` | {reference:.0} | 1.00 |");
    println!("| `droplet-server check --deep` | {ours:.0} | {:.2} |", ours / reference);
    Ok(())
}

/// Writes dirty pages out and drops the page cache; false if this process may not.
fn drop_page_cache() -> bool {
    let synced = Command::new("sync").status().is_ok_and(|s| s.success());
    synced && std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}
