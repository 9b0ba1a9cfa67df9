//! `cargo xtask bench`: our server against nginx, side by side on this machine, uploading and
//! downloading the same droplet with the same curl commands. The machine is small and shared, so
//! absolute times mean little: what is reported is the ratio of our medians to nginx's.
//!
//! The same upload and download also go to a second instance of our server whose blobstore is an
//! S3 bucket, served by s3s-fs on a loopback port in this process; its download is the 302 to a
//! presigned URL followed by curl. Those figures are reported beside the local store's.
//!
//! This file has the flow; the rest is by concern:
//! - `droplet`: the generated droplet tgz and its multipart request body, cached in the target
//!   directory;
//! - `ours`: building and starting our server (on the local store or on S3), and talking to it;
//! - `nginx`: the nginx baseline and its configuration;
//! - `measure`: the measured rounds, their samples and medians;
//! - `report`: the tables printed at the end;
//! - `http`: uploads, downloads and API calls through curl;
//! - `process`: the servers as child processes, and the wall and CPU time an upload cost them.

mod droplet;
mod http;
mod measure;
mod nginx;
mod ours;
mod process;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use droplet_test_s3_server::S3Server;

use self::droplet::Droplet;
use self::measure::{Samples, Uploads};
use self::nginx::Nginx;
use self::ours::Ours;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Size of the generated droplet's contents, in MiB (the tgz is slightly larger).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    size_mib: u64,
    /// Rounds of measurements, alternating between the servers; medians are reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    rounds: u64,
    /// gzip level of the generated droplet. From level 2 on, zlib-rs stores incompressible
    /// members the way `tar czf` (gzip -6) and Go's compress/gzip (which builds real droplets)
    /// do; its level 1 instead codes them with fixed Huffman codes (5% larger, and several times
    /// slower to inflate), a worst case worth measuring with `--gzip-level 1`.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=9))]
    gzip_level: u32,
}

pub fn run(root: &Path, args: BenchArgs) -> anyhow::Result<ExitCode> {
    let Some(nginx_bin) = nginx::find_binary() else {
        eprintln!("nginx is not installed: apt-get install -y nginx");
        return Ok(ExitCode::FAILURE);
    };
    let target = target_dir(root);
    let server_bin = ours::build_server(root, &target)?;
    let cache = target.join("bench");
    let droplet = Droplet::cached(&cache, args.size_mib, args.gzip_level)?;

    // Declared first so that it is removed last, after both servers have stopped. It lives next
    // to the cached droplet: the same filesystem for both servers, and not a tmpfs.
    let run_dir = tempfile::Builder::new().prefix("run-").tempdir_in(&cache)?;
    let ours = Ours::start(&server_bin, &run_dir.path().join("ours"), None)?;
    let nginx = Nginx::start(&nginx_bin, &run_dir.path().join("nginx"), &droplet.tgz)?;
    let s3 = S3Server::start(&run_dir.path().join("s3"));
    let s3_config = run_dir.path().join("ours-s3.toml");
    std::fs::write(&s3_config, s3.blobstore_toml())?;
    let ours_s3 = Ours::start(&server_bin, &run_dir.path().join("ours-s3"), Some(&s3_config))?;
    println!(
        "ours: {}  nginx: {}  ours on S3: {} (S3: {})  data: {}",
        ours.url,
        nginx.url,
        ours_s3.url,
        s3.endpoint,
        run_dir.path().display()
    );

    let mut uploads = Uploads {
        ours: &ours,
        nginx: &nginx,
        ours_s3: &ours_s3,
        s3_root: &s3.root,
        droplet: &droplet,
        left: [None, None, None],
    };
    println!("warm-up round (not measured)...");
    uploads.ours()?;
    uploads.nginx()?;
    uploads.ours_s3()?;
    let mut samples = Samples::default();
    for round in 1..=args.rounds {
        samples.round(round, &mut uploads)?;
    }
    let peak_rss = ours.peak_rss_bytes()?;
    report::against_nginx(&droplet, args.rounds, &samples, peak_rss);
    report::s3_beside_local(&droplet, &samples, peak_rss, ours_s3.peak_rss_bytes()?);
    Ok(ExitCode::SUCCESS)
}

fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}
