//! The tables printed after the rounds: medians, ratios and targets.

use super::droplet::Droplet;
use super::measure::{MIB, Samples, mib_per_s};

const UPLOAD_RATIO_TARGET: f64 = 1.3;
const DOWNLOAD_RATIO_TARGET: f64 = 0.9;
const PEAK_RSS_TARGET_MIB: f64 = 64.0;
/// Server CPU seconds an upload may cost per GiB of droplet. CPU time, unlike wall time, is
/// little disturbed by a shared machine's neighbours, so it is judged on its own.
const UPLOAD_CPU_PER_GIB_TARGET: f64 = 2.0;
/// The compressible droplet's upload throughput, against the build it is compared with.
const APP_SPEEDUP_TARGET: f64 = 2.0;
/// Our upload through to S3, against boto3 uploading the same file straight to the bucket.
const S3_RATIO_TARGET: f64 = 1.2;
/// A resumable upload's throughput in 16 MiB `PATCH`es, against the multipart upload's.
const RESUMABLE_RATIO_TARGET: f64 = 0.9;

/// A table whose columns are the servers measured, and whose rows end with a ratio, a target
/// and the verdict.
pub(super) struct Table {
    columns: usize,
}

impl Table {
    pub(super) fn new(title: &str, columns: &[&str], ratio: &str) -> Self {
        println!();
        println!("{title}");
        print!("{:<24}", "");
        for column in columns {
            print!("{column:>12}");
        }
        println!("{ratio:>14}  target");
        Table { columns: columns.len() }
    }

    /// A row: the values, then the ratio judged against the target, if there is one.
    pub(super) fn row(&self, name: &str, values: &[f64], judged: Option<Judged>) {
        assert_eq!(values.len(), self.columns, "one value per column");
        print!("{name:<24}");
        for value in values {
            // NaN: not measured for this column.
            match value.is_nan() {
                true => print!("{:>12}", "-"),
                false => print!("{value:>12.2}"),
            }
        }
        match judged {
            Some(judged) => {
                let verdict = if judged.pass { "PASS" } else { "MISS" };
                println!("{:>14.2}  {:<10}{verdict}", judged.ratio, judged.target);
            }
            None => println!(),
        }
    }
}

pub(super) struct Judged {
    ratio: f64,
    target: String,
    pass: bool,
}

/// `value` at most `limit`.
pub(super) fn at_most(value: f64, limit: f64) -> Option<Judged> {
    Some(Judged { ratio: value, target: format!("<= {limit}"), pass: value <= limit })
}

/// `value` at least `limit`.
pub(super) fn at_least(value: f64, limit: f64) -> Option<Judged> {
    Some(Judged { ratio: value, target: format!(">= {limit}"), pass: value >= limit })
}

pub(super) fn under(value: f64, limit: f64) -> Option<Judged> {
    Some(Judged { ratio: value, target: format!("< {limit}"), pass: value < limit })
}

/// The random droplet on the local store: our builds beside nginx.
pub(super) fn local_store(labels: &[&str], droplet: &Droplet, samples: &Samples, rss: &[u64]) {
    let mut columns = labels.to_vec();
    columns.push("nginx");
    let table = Table::new(
        &format!(
            "random droplet, {:.1} MiB tgz, on the local store (medians; ratio: {} / nginx)",
            droplet.tgz_len as f64 / MIB,
            labels[0]
        ),
        &columns,
        "ratio",
    );
    let per = |what: &str| -> Vec<f64> {
        columns.iter().map(|who| samples.median(&format!("{who} {what}"))).collect()
    };
    let uploads = per("upload");
    table.row(
        "upload (s)",
        &uploads,
        at_most(uploads[0] / uploads[labels.len()], UPLOAD_RATIO_TARGET),
    );
    let throughput: Vec<f64> = uploads.iter().map(|s| mib_per_s(droplet.body_len, *s)).collect();
    table.row("upload (MiB/s)", &throughput, None);
    resumable_row(&table, &columns, samples, "", uploads[0]);
    let gib = droplet.body_len as f64 / (1024.0 * MIB);
    let cpu: Vec<f64> = per("upload cpu").iter().map(|s| s / gib).collect();
    table.row("upload CPU (s/GiB)", &cpu, at_most(cpu[0], UPLOAD_CPU_PER_GIB_TARGET));
    let downloads: Vec<f64> =
        per("download").iter().map(|s| mib_per_s(droplet.tgz_len, *s)).collect();
    let ratio = downloads[0] / downloads[labels.len()];
    table.row("download (MiB/s)", &downloads, at_least(ratio, DOWNLOAD_RATIO_TARGET));
    let mut rss: Vec<f64> = rss.iter().map(|b| *b as f64 / MIB).collect();
    rss.push(f64::NAN);
    table.row("peak RSS (MiB)", &rss, under(rss[0], PEAK_RSS_TARGET_MIB));
    resumable_rss_row(&table, &columns, samples, "");
    println!(
        "(nginx upload + fdatasync of its file: {:.2} s; our server syncs the blob before the job \
         completes, nginx never does)",
        samples.median("nginx upload synced")
    );
    println!("{RESUMABLE_NOTE}");
}

/// The droplet like an application's, which the upload's check must inflate.
pub(super) fn compressible(labels: &[&str], droplet: &Droplet, samples: &Samples) {
    let mut columns = labels.to_vec();
    columns.push("nginx");
    let ratio = if labels.len() > 1 { format!("{}/{}", labels[0], labels[1]) } else { "".into() };
    let table = Table::new(
        &format!(
            "compressible droplet, {:.1} MiB tgz (generated like tar czf, or --app-tgz), \
             uploaded until STAGED (nginx only stores it)",
            droplet.tgz_len as f64 / MIB
        ),
        &columns,
        &ratio,
    );
    let per = |what: &str| -> Vec<f64> {
        columns.iter().map(|who| samples.median(&format!("{who} app {what}"))).collect()
    };
    let uploads = per("upload");
    table.row("upload (s)", &uploads, None);
    let throughput: Vec<f64> = uploads.iter().map(|s| mib_per_s(droplet.tgz_len, *s)).collect();
    let speedup = (labels.len() > 1).then(|| throughput[0] / throughput[1]);
    table.row("upload (MiB/s)", &throughput, speedup.and_then(|s| at_least(s, APP_SPEEDUP_TARGET)));
    let gib = droplet.tgz_len as f64 / (1024.0 * MIB);
    // Per GiB of the tgz: inflating makes it several times the random droplet's, by design.
    let cpu: Vec<f64> = per("upload cpu").iter().map(|s| s / gib).collect();
    table.row("upload CPU (s/GiB)", &cpu, None);
}

/// Our builds on the S3 store, against boto3 uploading straight to the same bucket.
pub(super) fn s3(labels: &[&str], droplet: &Droplet, samples: &Samples, rss: &[u64]) {
    let mut columns: Vec<String> = labels.iter().map(|l| format!("{l} S3")).collect();
    columns.push("boto3".to_owned());
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let table = Table::new(
        &format!(
            "random droplet, {:.1} MiB tgz, through our server to S3 (s3s-fs over TLS, a \
             process of its own) and straight to S3 with boto3's defaults (ratio: {} / boto3)",
            droplet.tgz_len as f64 / MIB,
            labels[0]
        ),
        &names,
        "ratio",
    );
    let mut uploads: Vec<f64> =
        labels.iter().map(|l| samples.median(&format!("{l} S3 upload"))).collect();
    uploads.push(samples.median("direct S3 upload"));
    let direct = uploads[labels.len()];
    table.row("upload (s)", &uploads, at_most(uploads[0] / direct, S3_RATIO_TARGET));
    // This tree's build with `sign_payload = true`: a SHA-256 pass more than boto3's default.
    let mut signed = vec![f64::NAN; columns.len()];
    signed[0] = samples.median(&format!("{} S3 signed upload", labels[0]));
    table.row("upload, signed (s)", &signed, at_most(signed[0] / direct, S3_RATIO_TARGET));
    let throughput: Vec<f64> = uploads.iter().map(|s| mib_per_s(droplet.tgz_len, *s)).collect();
    table.row("upload (MiB/s)", &throughput, None);
    let builds: Vec<&str> = labels.iter().copied().chain(["boto3"]).collect();
    resumable_row(&table, &builds, samples, " S3", uploads[0]);
    println!("{RESUMABLE_NOTE}");
    let mut downloads: Vec<f64> = labels
        .iter()
        .map(|l| mib_per_s(droplet.tgz_len, samples.median(&format!("{l} S3 download"))))
        .collect();
    downloads.push(f64::NAN);
    table.row("download (MiB/s)", &downloads, None);
    let mut rss: Vec<f64> = rss.iter().map(|b| *b as f64 / MIB).collect();
    rss.push(f64::NAN);
    table.row("server peak RSS (MiB)", &rss, under(rss[0], PEAK_RSS_TARGET_MIB));
    let mut rss_signed = vec![f64::NAN; columns.len()];
    rss_signed[0] = samples.median(&format!("{} S3 signed peak rss", labels[0])) / MIB;
    let judged = under(rss_signed[0], PEAK_RSS_TARGET_MIB);
    table.row("peak RSS, signed (MiB)", &rss_signed, judged);
    resumable_rss_row(&table, &builds, samples, " S3");
}

const RESUMABLE_NOTE: &str = "(resumable: the tgz in 16 MiB PATCHes, created to COMPLETE; its \
    ratio is the first build's multipart upload time over its resumable one's)";

/// The resumable upload in 16 MiB `PATCH`es, for each build that serves it (`{label}{store}
/// resumable upload`), judged by the first build's throughput against its multipart upload,
/// which took `multipart` seconds.
fn resumable_row(table: &Table, columns: &[&str], samples: &Samples, store: &str, multipart: f64) {
    let seconds: Vec<f64> = columns
        .iter()
        .map(|who| samples.median(&format!("{who}{store} resumable upload")))
        .collect();
    let ratio = multipart / seconds[0];
    let judged = (!ratio.is_nan()).then(|| at_least(ratio, RESUMABLE_RATIO_TARGET)).flatten();
    table.row("resumable, 16 MiB (s)", &seconds, judged);
}

/// The peak memory of the server that took the resumable uploads, for each build that serves
/// them.
fn resumable_rss_row(table: &Table, columns: &[&str], samples: &Samples, store: &str) {
    let rss: Vec<f64> = columns
        .iter()
        .map(|who| samples.median(&format!("{who}{store} resumable peak rss")) / MIB)
        .collect();
    let judged = (!rss[0].is_nan()).then(|| under(rss[0], PEAK_RSS_TARGET_MIB)).flatten();
    table.row("resumable peak RSS (MiB)", &rss, judged);
}
