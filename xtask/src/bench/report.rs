//! The tables printed after the rounds: medians, ratios and targets.

use super::droplet::Droplet;
use super::measure::{MIB, Samples, median, mib_per_s};

const UPLOAD_RATIO_TARGET: f64 = 1.3;
const DOWNLOAD_RATIO_TARGET: f64 = 0.9;
const PEAK_RSS_TARGET_MIB: f64 = 64.0;
/// Server CPU seconds an upload may cost per GiB of droplet. CPU time, unlike wall time, is
/// little disturbed by a shared machine's neighbours, so it is judged on its own.
const UPLOAD_CPU_PER_GIB_TARGET: f64 = 2.0;

/// Our server on the local store beside nginx, against the targets.
pub(super) fn against_nginx(droplet: &Droplet, rounds: u64, samples: &Samples, peak_rss: u64) {
    let ours_up = median(&samples.ours_upload);
    let nginx_up = median(&samples.nginx_upload);
    let nginx_up_synced = median(&samples.nginx_upload_synced);
    let ours_cpu = median(&samples.ours_upload_cpu);
    let nginx_cpu = median(&samples.nginx_upload_cpu);
    let ours_down = mib_per_s(droplet.tgz_len, median(&samples.ours_download));
    let nginx_down = mib_per_s(droplet.tgz_len, median(&samples.nginx_download));
    let upload_ratio = ours_up / nginx_up;
    let download_ratio = ours_down / nginx_down;
    let rss_mib = peak_rss as f64 / MIB;
    let verdict = |pass: bool| if pass { "PASS" } else { "MISS" };

    println!();
    println!(
        "droplet: {:.1} MiB tgz, request body {:.1} MiB; median of {rounds} round(s)",
        droplet.tgz_len as f64 / MIB,
        droplet.body_len as f64 / MIB
    );
    println!("{:<22}{:>10}{:>10}{:>12}  {:<10}", "", "ours", "nginx", "ours/nginx", "target");
    println!(
        "{:<22}{ours_up:>10.2}{nginx_up:>10.2}{upload_ratio:>12.2}  {:<10}{}",
        "upload (s)",
        format!("<= {UPLOAD_RATIO_TARGET}"),
        verdict(upload_ratio <= UPLOAD_RATIO_TARGET)
    );
    println!(
        "{:<22}{:>10.1}{:>10.1}",
        "upload (MiB/s)",
        mib_per_s(droplet.body_len, ours_up),
        mib_per_s(droplet.body_len, nginx_up)
    );
    println!(
        "{:<22}{ours_cpu:>10.2}{nginx_cpu:>10.2}{:>12.2}",
        "upload CPU (s)",
        ours_cpu / nginx_cpu
    );
    let gib = droplet.body_len as f64 / (1024.0 * MIB);
    let (ours_cpu_gib, nginx_cpu_gib) = (ours_cpu / gib, nginx_cpu / gib);
    println!(
        "{:<22}{ours_cpu_gib:>10.2}{nginx_cpu_gib:>10.2}{:>12}  {:<10}{}",
        "upload CPU (s/GiB)",
        "",
        format!("<= {UPLOAD_CPU_PER_GIB_TARGET:.1}"),
        verdict(ours_cpu_gib <= UPLOAD_CPU_PER_GIB_TARGET)
    );
    println!(
        "{:<22}{ours_down:>10.1}{nginx_down:>10.1}{download_ratio:>12.2}  {:<10}{}",
        "download (MiB/s)",
        format!(">= {DOWNLOAD_RATIO_TARGET}"),
        verdict(download_ratio >= DOWNLOAD_RATIO_TARGET)
    );
    println!(
        "{:<22}{rss_mib:>10.1}{:>10}{:>12}  {:<10}{}",
        "peak RSS (MiB)",
        "",
        "",
        format!("< {PEAK_RSS_TARGET_MIB}"),
        verdict(rss_mib < PEAK_RSS_TARGET_MIB)
    );
    println!(
        "(for reference: nginx upload + fdatasync of its file {nginx_up_synced:.2} s, \
         ours/that {:.2}; our server syncs the blob before the job completes, nginx never does)",
        ours_up / nginx_up_synced
    );
}

/// Our server on the S3 store beside our server on the local store.
pub(super) fn s3_beside_local(droplet: &Droplet, samples: &Samples, local_rss: u64, s3_rss: u64) {
    let local_up = median(&samples.ours_upload);
    let s3_up = median(&samples.s3_upload);
    let local_down = mib_per_s(droplet.tgz_len, median(&samples.ours_download));
    let s3_down = mib_per_s(droplet.tgz_len, median(&samples.s3_download));
    let (local_rss, s3_rss) = (local_rss as f64 / MIB, s3_rss as f64 / MIB);
    println!();
    println!("S3 store (s3s-fs on loopback, in the bench's process) beside the local store:");
    println!("{:<22}{:>10}{:>10}{:>12}", "", "local", "S3", "S3/local");
    println!("{:<22}{local_up:>10.2}{s3_up:>10.2}{:>12.2}", "upload (s)", s3_up / local_up);
    println!(
        "{:<22}{:>10.1}{:>10.1}",
        "upload (MiB/s)",
        mib_per_s(droplet.body_len, local_up),
        mib_per_s(droplet.body_len, s3_up)
    );
    println!(
        "{:<22}{local_down:>10.1}{s3_down:>10.1}{:>12.2}",
        "download (MiB/s)",
        s3_down / local_down
    );
    println!("{:<22}{local_rss:>10.1}{s3_rss:>10.1}", "peak RSS (MiB)");
}
