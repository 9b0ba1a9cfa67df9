//! `cargo xtask bench`: our server against references, side by side on this machine. The machine
//! is small and shared, so absolute times mean little: what is reported is ratios of medians
//! measured in the same run.
//!
//! - On the local store, our upload and download of a droplet of random bytes against nginx
//!   receiving the same upload into a file and serving the same file; and the same droplet as
//!   a resumable upload in 16 MiB `PATCH`es, against our multipart upload of it (on S3 too).
//! - A droplet like an application's (`tar czf` of text, binaries and jars), whose upload check
//!   must inflate it.
//! - On S3 (s3s-fs, a process of its own), our upload through to the bucket against boto3
//!   uploading the same file straight to it.
//! - Fan-out (`fanout`): many clients downloading one droplet at once, from our server alone,
//!   from nginx in front of it (`X-Accel-Redirect`), and from nginx alone; and many uploads at
//!   once. Both with our server's peak memory.
//! - Lists (`lists`): every list query at 50,000 and 500,000 droplets, on SQLite and on
//!   PostgreSQL, and how each grows.
//! - The check (`scrub`, `--only check`): `droplet-server check --deep` reading a local store
//!   through, against `sha256sum` reading the same files, from a cold page cache.
//!
//! With `--baseline` (a droplet-server binary, or a git revision, which `baseline` builds) every
//! measurement of our server is also made of that build, in the same rounds: a before and after
//! in one sitting.
//!
//! This file has the flow; the rest is by concern:
//! - `baseline`: the earlier build to compare with, built from a git revision if need be;
//! - `droplet` and `contents`: the generated droplets and their multipart request bodies, cached
//!   in the target directory;
//! - `ours`: building and starting our server (on the local store or on S3), and talking to it;
//! - `nginx`: the nginx baseline and its configuration;
//! - `s3`: the S3 server's process and the boto3 reference upload;
//! - `measure`: the measured rounds, their samples and medians;
//! - `fanout`: the concurrent downloads and uploads;
//! - `report`: the tables printed at the end;
//! - `http`: uploads, downloads and API calls through curl;
//! - `process`: the servers as child processes, and the wall and CPU time an upload cost them.

mod baseline;
mod contents;
mod droplet;
mod fanout;
mod http;
mod lists;
mod measure;
mod nginx;
mod ours;
mod process;
mod report;
mod s3;
mod scrub;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use self::droplet::{Droplet, Kind};
use self::measure::{Bench, Resumable, Samples, Variant};
use self::nginx::Nginx;
use self::ours::Ours;
use self::s3::S3Process;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Size of the generated droplets' contents, in MiB (the random droplet's tgz is slightly
    /// larger, the compressible one's about half).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    size_mib: u64,
    /// Rounds of measurements, alternating between the servers; medians are reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    rounds: u64,
    /// gzip level of the random droplet. From level 2 on, zlib-rs stores incompressible
    /// members the way `tar czf` (gzip -6) and Go's compress/gzip (which builds real droplets)
    /// do; its level 1 instead codes them with fixed Huffman codes (5% larger, and several times
    /// slower to inflate), a worst case worth measuring with `--gzip-level 1`.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=9))]
    gzip_level: u32,
    /// An earlier droplet-server, measured beside this tree's: its binary, or a git revision of
    /// this repository (built in release mode once, and kept in `target/bench-baseline`).
    #[arg(long, value_name = "BINARY|REVISION")]
    baseline: Option<String>,
    /// A real droplet (a gzipped tarball) to upload instead of the generated compressible one.
    #[arg(long)]
    app_tgz: Option<PathBuf>,
    /// Run only the rounds against nginx and S3, only the fan-out, only the lists, or only the
    /// check's read-through against sha256sum (`check`, which everything else leaves out).
    #[arg(long, value_enum, default_value_t = Only::Everything)]
    only: Only,
    #[command(flatten)]
    fanout: fanout::FanOutArgs,
    #[command(flatten)]
    lists: lists::ListArgs,
    #[command(flatten)]
    scrub: scrub::ScrubArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Only {
    Everything,
    Rounds,
    Fanout,
    Lists,
    Check,
}

pub fn run(root: &Path, args: BenchArgs) -> anyhow::Result<ExitCode> {
    prerequisites::for_bench();
    if args.only == Only::Check {
        let target = target_dir(root);
        let bins = ours::build(root, &target)?;
        let cache = target.join("bench");
        std::fs::create_dir_all(&cache)?;
        let kind = Kind::Random { gzip_level: args.gzip_level };
        let droplet = Droplet::cached(&cache, args.scrub.droplet_mib(), kind)?;
        let run_dir = tempfile::Builder::new().prefix("run-").tempdir_in(&cache)?;
        scrub::run(&args.scrub, &bins.server, &droplet, args.rounds, run_dir.path())?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(nginx_bin) = nginx::find_binary() else {
        eprintln!("nginx is not installed: apt-get install -y nginx");
        return Ok(ExitCode::FAILURE);
    };
    let target = target_dir(root);
    let bins = ours::build(root, &target)?;
    let mut builds = vec![("ours", bins.server.clone())];
    if let Some(baseline) = &args.baseline {
        builds.push(("before", baseline::binary(root, &target, baseline)?));
    }
    let labels: Vec<&str> = builds.iter().map(|(label, _)| *label).collect();
    let cache = target.join("bench");
    std::fs::create_dir_all(&cache)?;
    // Declared first so that it is removed last, after every server has stopped. It lives next
    // to the cached droplets: the same filesystem for every server, and not a tmpfs.
    let run_dir = tempfile::Builder::new().prefix("run-").tempdir_in(&cache)?;
    let rounds = match args.only {
        Only::Fanout | Only::Lists | Only::Check => None,
        _ => Some(rounds(root, &args, &builds, &bins, &nginx_bin, &cache, run_dir.path())?),
    };
    let fanout = match args.only {
        Only::Rounds | Only::Lists | Only::Check => None,
        _ => {
            let dir = run_dir.path().join("fanout");
            Some(fanout::run(root, &args.fanout, &builds, &nginx_bin, &cache, &dir)?)
        }
    };
    if let Some((random, app, samples, local_rss, s3_rss)) = &rounds {
        report::local_store(&labels, random, samples, local_rss);
        report::compressible(&labels, app, samples);
        report::s3(&labels, random, samples, s3_rss);
    }
    if let Some(fanout) = fanout {
        fanout.report(&labels);
    }
    if matches!(args.only, Only::Everything | Only::Lists) {
        lists::run(&args.lists, &builds, &run_dir.path().join("lists"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What the rounds measured: the droplets, the samples, and the peak RSS of each build on the
/// local store and on S3.
type Rounds = (Droplet, Droplet, Samples, Vec<u64>, Vec<u64>);

/// The rounds against nginx and S3, on servers of their own.
fn rounds(
    root: &Path,
    args: &BenchArgs,
    builds: &[(&'static str, PathBuf)],
    bins: &ours::Binaries,
    nginx_bin: &Path,
    cache: &Path,
    run_dir: &Path,
) -> anyhow::Result<Rounds> {
    let random =
        Droplet::cached(cache, args.size_mib, Kind::Random { gzip_level: args.gzip_level })?;
    let app = match &args.app_tgz {
        Some(tgz) => Droplet::from_file(run_dir, tgz)?,
        None => Droplet::cached(cache, args.size_mib, Kind::Compressible)?,
    };
    let s3 = S3Process::start(&bins.s3_server, &run_dir.join("s3"), root)?;
    let s3_config = run_dir.join("ours-s3.toml");
    std::fs::write(&s3_config, s3.blobstore_toml())?;
    let signed_config = run_dir.join("ours-s3-signed.toml");
    std::fs::write(&signed_config, format!("{}sign_payload = true\n", s3.blobstore_toml()))?;
    // Every build trusts the S3 server's certificate the same way, the older ones included.
    let trust = Some(s3.ca_certificate.as_path());
    let mut variants = Vec::new();
    for (index, (label, bin)) in builds.iter().enumerate() {
        let local = Ours::start(bin, &run_dir.join(label), None, None)?;
        let s3_dir = run_dir.join(format!("{label}-s3"));
        let on_s3 = Ours::start(bin, &s3_dir, Some(&s3_config), trust)?;
        println!("{label}: {} (S3: {})", local.url, on_s3.url);
        // Only this tree's build knows the setting.
        let s3_signed = match index {
            0 => Some(Ours::start(
                bin,
                &run_dir.join("ours-s3-signed"),
                Some(&signed_config),
                trust,
            )?),
            _ => None,
        };
        let resumable = match local.serves_resumable_uploads()? {
            true => Some(Resumable {
                local: Ours::start(bin, &run_dir.join(format!("{label}-resumable")), None, None)?,
                s3: Ours::start(
                    bin,
                    &run_dir.join(format!("{label}-s3-resumable")),
                    Some(&s3_config),
                    trust,
                )?,
            }),
            false => None,
        };
        variants.push(Variant { label, local, s3: on_s3, s3_signed, resumable });
    }
    let nginx = Nginx::start(nginx_bin, &run_dir.join("nginx"), &random.tgz, "1")?;
    println!("nginx: {}  S3: {}  data: {}", nginx.url, s3.endpoint, run_dir.display());

    let chunks = random.chunks(measure::PATCH_BYTES)?;
    let mut bench = Bench {
        variants: &variants,
        nginx: &nginx,
        s3: &s3,
        random: &random,
        app: &app,
        chunks: &chunks,
        left: BTreeMap::new(),
    };
    println!("warm-up round (not measured)...");
    bench.round(0, &mut Samples::default())?;
    let mut samples = Samples::default();
    for round in 1..=args.rounds {
        bench.round(round, &mut samples)?;
    }
    let local_rss =
        variants.iter().map(|v| v.local.peak_rss_bytes()).collect::<Result<Vec<_>, _>>()?;
    let s3_rss = variants.iter().map(|v| v.s3.peak_rss_bytes()).collect::<Result<Vec<_>, _>>()?;
    for variant in &variants {
        if let Some(signed) = &variant.s3_signed {
            let name = format!("{} S3 signed peak rss", variant.label);
            samples.push(name, signed.peak_rss_bytes()? as f64);
        }
        if let Some(resumable) = &variant.resumable {
            let name = format!("{} resumable peak rss", variant.label);
            samples.push(name, resumable.local.peak_rss_bytes()? as f64);
            let name = format!("{} S3 resumable peak rss", variant.label);
            samples.push(name, resumable.s3.peak_rss_bytes()? as f64);
        }
    }
    drop(bench);
    Ok((random, app, samples, local_rss, s3_rss))
}

fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}
