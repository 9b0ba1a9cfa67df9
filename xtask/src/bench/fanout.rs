//! Many clients at once. When an app scales out, its cells download one droplet together: the
//! fan-out is measured from our server alone, from nginx in front of it serving the bits by
//! `X-Accel-Redirect` (with the repository's nginx snippet), and from nginx alone serving the
//! same file; with our server's peak memory meanwhile. Then as many uploads at once as the
//! server takes by default, for their peak memory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, ensure};

use super::droplet::{Droplet, Kind};
use super::http::bearer;
use super::measure::{MIB, median, settle};
use super::nginx::{Nginx, NginxFront};
use super::ours::{Ours, peak_rss_bytes, reset_peak_rss};
use super::process::{cpu_seconds, stderr};
use super::report::{Table, at_least, under};

/// Fronted by nginx, our fan-out against nginx's own.
const FRONTED_RATIO_TARGET: f64 = 0.9;
const PEAK_RSS_TARGET_MIB: f64 = 96.0;

#[derive(clap::Args)]
pub struct FanOutArgs {
    /// Size of the droplet the fan-out downloads, in MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    fanout_mib: u64,
    /// Clients downloading it at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=300))]
    fanout_clients: u64,
    /// Uploads of it at once (the server's default `max_concurrent_uploads`).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=300))]
    concurrent_uploads: u64,
    /// Times each fan-out is repeated; the median is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    fanout_rounds: u64,
}

/// What the fan-out measured, for the report.
pub(super) struct FanOut {
    droplet_mib: f64,
    clients: u64,
    uploads: u64,
    /// Per build, from the server alone.
    standalone: Vec<Standalone>,
    fronted: Measured,
    nginx: Measured,
}

/// One kind of fan-out: its median wall time, and the CPU time the server(s) spent on it.
struct Measured {
    seconds: f64,
    cpu_seconds: f64,
}

struct Standalone {
    measured: Measured,
    /// The server's peak RSS during the fan-out, and during the concurrent uploads.
    download_rss: u64,
    upload_rss: u64,
}

pub(super) fn run(
    root: &Path,
    args: &FanOutArgs,
    builds: &[(&'static str, PathBuf)],
    nginx_bin: &Path,
    cache: &Path,
    dir: &Path,
) -> anyhow::Result<FanOut> {
    let droplet = Droplet::cached(cache, args.fanout_mib, Kind::Random { gzip_level: 2 })?;
    // The median wall time of the fan-outs, and of the CPU time the server(s) spent on them.
    let repeat = |what: &str,
                  cpu: &dyn Fn() -> anyhow::Result<f64>,
                  download: &dyn Fn() -> anyhow::Result<f64>| {
        let (mut seconds, mut cpu_seconds) = (Vec::new(), Vec::new());
        for round in 1..=args.fanout_rounds {
            settle();
            let cpu_before = cpu()?;
            let taken = download()?;
            let cpu_taken = cpu()? - cpu_before;
            println!(
                "fan-out {round}: {what:<14} {} x {:.0} MiB in {taken:5.2} s: {:7.1} MiB/s, \
                 server CPU {cpu_taken:5.2} s",
                args.fanout_clients,
                droplet.tgz_len as f64 / MIB,
                aggregate(&droplet, args.fanout_clients, taken)
            );
            seconds.push(taken);
            cpu_seconds.push(cpu_taken);
        }
        anyhow::Ok(Measured { seconds: median(&seconds), cpu_seconds: median(&cpu_seconds) })
    };
    let clients = args.fanout_clients;

    let mut standalone = Vec::new();
    for (label, bin) in builds {
        let ours = Ours::start(bin, &dir.join(label), None, None)?;
        let guid = ours.create_droplet()?;
        ours.upload(&guid, &droplet.body)?;
        let url = format!("{}/v3/droplets/{guid}/download", ours.url);
        reset_peak_rss(ours.pid())?;
        let cpu = || cpu_seconds(ours.pid());
        let download = || fan_out(&url, &ours.token, clients, droplet.tgz_len);
        let measured = repeat(label, &cpu, &download)?;
        let download_rss = peak_rss_bytes(ours.pid())?;
        println!("fan-out: {label} peak RSS {:.1} MiB", download_rss as f64 / MIB);
        let upload_rss = concurrent_uploads(&ours, &droplet, args.concurrent_uploads)?;
        standalone.push(Standalone { measured, download_rss, upload_rss });
    }

    let (_, bin) = &builds[0];
    let front = NginxFront::start(root, nginx_bin, bin, &dir.join("fronted"))?;
    let guid = front.ours.create_droplet()?;
    front.ours.upload(&guid, &droplet.body)?;
    let url = format!("{}/v3/droplets/{guid}/download", front.url);
    let cpu = || Ok(cpu_seconds(front.ours.pid())? + front.nginx_cpu_seconds()?);
    let download = || fan_out(&url, &front.ours.token, clients, droplet.tgz_len);
    let fronted = repeat("nginx + ours", &cpu, &download)?;
    drop(front);

    let nginx = Nginx::start(nginx_bin, &dir.join("nginx"), &droplet.tgz, "auto")?;
    let url = format!("{}/droplet.tgz", nginx.url);
    let cpu = || nginx.cpu_seconds();
    let alone = repeat("nginx alone", &cpu, &|| fan_out(&url, "none", clients, droplet.tgz_len))?;
    Ok(FanOut {
        droplet_mib: droplet.tgz_len as f64 / MIB,
        clients,
        uploads: args.concurrent_uploads,
        standalone,
        fronted,
        nginx: alone,
    })
}

/// Seconds for `clients` concurrent downloads of `url`, each by a curl process of its own (one
/// process for all would be the bottleneck), each checked to have received all `expected_len`
/// bytes.
fn fan_out(url: &str, token: &str, clients: u64, expected_len: u64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let downloads = (0..clients)
        .map(|_| {
            Command::new("curl")
                .args(["-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-H"])
                .arg(bearer(token))
                .arg(url)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .context("running curl")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let outputs = downloads
        .into_iter()
        .map(|download| download.wait_with_output().context("waiting for curl"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let seconds = started.elapsed().as_secs_f64();
    let wanted = format!("200 {expected_len}");
    for output in outputs {
        ensure!(output.status.success(), "curl {url} failed: {}", stderr(&output));
        let written = String::from_utf8_lossy(&output.stdout);
        ensure!(written == wanted, "GET {url}: got {written}, not {wanted}");
    }
    Ok(seconds)
}

/// The peak RSS of `uploads` uploads at once, each into a droplet of its own, until all are
/// staged.
fn concurrent_uploads(ours: &Ours, droplet: &Droplet, uploads: u64) -> anyhow::Result<u64> {
    let guids = (0..uploads).map(|_| ours.create_droplet()).collect::<anyhow::Result<Vec<_>>>()?;
    settle();
    reset_peak_rss(ours.pid())?;
    let started = Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let uploads: Vec<_> = guids
            .iter()
            .map(|guid| scope.spawn(move || ours.upload(guid, &droplet.body).map(drop)))
            .collect();
        for upload in uploads {
            upload.join().expect("an upload thread panicked")?;
        }
        Ok(())
    })?;
    let rss = peak_rss_bytes(ours.pid())?;
    println!(
        "{uploads} uploads at once of {:.0} MiB: all staged in {:.2} s, peak RSS {:.1} MiB",
        droplet.tgz_len as f64 / MIB,
        started.elapsed().as_secs_f64(),
        rss as f64 / MIB
    );
    Ok(rss)
}

fn aggregate(droplet: &Droplet, clients: u64, seconds: f64) -> f64 {
    clients as f64 * droplet.tgz_len as f64 / MIB / seconds
}

impl FanOut {
    pub(super) fn report(&self, labels: &[&str]) {
        let table = Table::new(
            &format!(
                "fan-out: {} clients downloading one {:.0} MiB droplet at once (ratio: the \
                 aggregate against nginx alone's)",
                self.clients, self.droplet_mib
            ),
            &["MiB/s", "CPU s/GiB", "peak RSS"],
            "ratio",
        );
        let gib = self.clients as f64 * self.droplet_mib / 1024.0;
        let row =
            |measured: &Measured| [gib * 1024.0 / measured.seconds, measured.cpu_seconds / gib];
        for (label, standalone) in labels.iter().zip(&self.standalone) {
            let rss = standalone.download_rss as f64 / MIB;
            let [throughput, cpu] = row(&standalone.measured);
            table.row(
                &format!("{label} alone"),
                &[throughput, cpu, rss],
                under(rss, PEAK_RSS_TARGET_MIB),
            );
        }
        let ratio = self.nginx.seconds / self.fronted.seconds;
        let [throughput, cpu] = row(&self.fronted);
        table.row(
            "nginx + ours (accel)",
            &[throughput, cpu, f64::NAN],
            at_least(ratio, FRONTED_RATIO_TARGET),
        );
        let [throughput, cpu] = row(&self.nginx);
        table.row("nginx alone", &[throughput, cpu, f64::NAN], None);
        let table = Table::new(
            &format!("{} uploads at once of the same droplet, until staged", self.uploads),
            &["peak RSS"],
            "MiB",
        );
        for (label, standalone) in labels.iter().zip(&self.standalone) {
            let rss = standalone.upload_rss as f64 / MIB;
            table.row(label, &[rss], under(rss, PEAK_RSS_TARGET_MIB));
        }
    }
}
