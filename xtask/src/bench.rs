//! `cargo xtask bench`: our server against nginx, side by side on this machine, uploading and
//! downloading the same droplet with the same curl commands. The machine is small and shared, so
//! absolute times mean little: what is reported is the ratio of our medians to nginx's.
//!
//! The same upload and download also go to a second instance of our server whose blobstore is an
//! S3 bucket, served by s3s-fs on a loopback port in this process; its download is the 302 to a
//! presigned URL followed by curl. Those figures are reported beside the local store's.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};

/// The S3 server of the end-to-end tests, shared as source (the tests use more of it).
#[path = "../../tests/end_to_end/s3_server.rs"]
#[allow(dead_code)]
mod s3_server;
use s3_server::S3Server;

/// Fixed, so that the cached request body can be sent to both servers byte for byte.
const BOUNDARY: &str = "droplet-bench-3f9a1c7e5b2d4a60";
const MIB: f64 = 1024.0 * 1024.0;
/// An upload job that has not finished by then is stuck, not slow.
const JOB_TIMEOUT: Duration = Duration::from_secs(600);

const UPLOAD_RATIO_TARGET: f64 = 1.3;
const DOWNLOAD_RATIO_TARGET: f64 = 0.9;
const PEAK_RSS_TARGET_MIB: f64 = 64.0;

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
    let Some(nginx_bin) = find_nginx() else {
        eprintln!("nginx is not installed: apt-get install -y nginx");
        return Ok(ExitCode::FAILURE);
    };
    let target = target_dir(root);
    let server_bin = build_server(root, &target)?;
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
    report(&droplet, args.rounds, &samples, peak_rss);
    report_s3(&droplet, &samples, peak_rss, ours_s3.peak_rss_bytes()?);
    Ok(ExitCode::SUCCESS)
}

/// nginx is usually in an sbin directory, which is not on every user's PATH.
fn find_nginx() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

fn build_server(root: &Path, target: &Path) -> anyhow::Result<PathBuf> {
    println!("building droplet-server (release)...");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "droplet-server"])
        .current_dir(root)
        .status()
        .context("running cargo")?;
    ensure!(status.success(), "cargo build --release -p droplet-server failed: {status}");
    Ok(target.join("release/droplet-server"))
}

// ---------------------------------------------------------------------------------------------
// The droplet and the request body

struct Droplet {
    tgz: PathBuf,
    tgz_len: u64,
    /// The multipart/form-data request body: the tgz as the `bits` field.
    body: PathBuf,
    body_len: u64,
}

impl Droplet {
    /// The droplet and request body of this size, generated on first use and kept.
    fn cached(dir: &Path, size_mib: u64, level: u32) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let name = match level {
            1 => format!("droplet-{size_mib}MiB"),
            _ => format!("droplet-{size_mib}MiB-gzip{level}"),
        };
        let tgz = dir.join(format!("{name}.tgz"));
        let body = dir.join(format!("{name}.multipart"));
        if !tgz.exists() {
            println!("generating a {size_mib} MiB droplet in {}...", tgz.display());
            let started = Instant::now();
            let size = size_mib * 1024 * 1024;
            write_atomically(&tgz, |file| write_tgz(file, size, Compression::new(level)))?;
            println!("  took {:.1} s", started.elapsed().as_secs_f64());
        }
        if !body.exists() {
            write_atomically(&body, |file| write_multipart(file, &tgz))?;
        }
        let tgz_len = std::fs::metadata(&tgz)?.len();
        let body_len = std::fs::metadata(&body)?.len();
        Ok(Droplet { tgz, tgz_len, body, body_len })
    }
}

/// Writes to a `.partial` file renamed into place, so an interrupted run leaves no bad cache.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(File) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    write(File::create(&partial)?).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path)?;
    Ok(())
}

/// A tarball of pseudo-random files, like a real droplet's already-compressed jars and binaries.
fn write_tgz(file: File, mut left: u64, level: Compression) -> anyhow::Result<()> {
    let gzip = GzEncoder::new(BufWriter::with_capacity(1 << 20, file), level);
    let mut tar = tar::Builder::new(gzip);
    // Seeded, so that every machine generates the same droplet.
    let mut rng = SmallRng::seed_from_u64(0x0d20_71e7);
    let staging_info = b"detected_buildpack: bench\nstart_command: ./app\n";
    append(&mut tar, "staging_info.yml", staging_info.len() as u64, &staging_info[..])?;
    let mut index = 0;
    while left > 0 {
        let len = rng.random_range(256 * 1024..=64 * 1024 * 1024).min(left);
        append(&mut tar, &format!("app/lib/part-{index:04}.jar"), len, RandomBytes(&mut rng))?;
        left -= len;
        index += 1;
    }
    let mut out = tar.into_inner()?.finish()?;
    out.flush()?;
    Ok(())
}

fn append(
    tar: &mut tar::Builder<impl Write>,
    path: &str,
    len: u64,
    data: impl Read,
) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(len);
    header.set_mode(0o644);
    header.set_mtime(1_700_000_000);
    tar.append_data(&mut header, path, data.take(len))?;
    Ok(())
}

/// An endless reader of pseudo-random bytes, much faster than a cryptographic source.
struct RandomBytes<'a>(&'a mut SmallRng);

impl Read for RandomBytes<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.fill_bytes(buf);
        Ok(buf.len())
    }
}

fn write_multipart(mut out: File, tgz: &Path) -> anyhow::Result<()> {
    write!(
        out,
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"bits\"; filename=\"droplet.tgz\"\r\n\
         Content-Type: application/gzip\r\n\r\n"
    )?;
    // File to file: std copies in the kernel (copy_file_range).
    std::io::copy(&mut File::open(tgz)?, &mut out)?;
    write!(out, "\r\n--{BOUNDARY}--\r\n")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Measurements

#[derive(Default)]
struct Samples {
    ours_upload: Vec<f64>,
    nginx_upload: Vec<f64>,
    /// CPU seconds the servers spent on an upload: less disturbed by neighbours than wall time.
    ours_upload_cpu: Vec<f64>,
    nginx_upload_cpu: Vec<f64>,
    /// nginx's upload plus an fdatasync of the file it wrote: informational, since our server
    /// makes the blob durable before the job completes and nginx never syncs.
    nginx_upload_synced: Vec<f64>,
    ours_download: Vec<f64>,
    nginx_download: Vec<f64>,
    /// Our server on the S3 store: the upload until its job completed, and the download through
    /// the redirect to the presigned URL.
    s3_upload: Vec<f64>,
    s3_download: Vec<f64>,
}

impl Samples {
    /// One round: an upload to each server, then a download from each, ours first.
    fn round(&mut self, round: u64, uploads: &mut Uploads<'_>) -> anyhow::Result<()> {
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
struct Uploads<'a> {
    ours: &'a Ours,
    nginx: &'a Nginx,
    ours_s3: &'a Ours,
    /// The S3 server's directory: objects are files under `BUCKET/`.
    s3_root: &'a Path,
    droplet: &'a Droplet,
    /// The files the previous uploads left: ours, nginx's, the S3 object.
    left: [Option<PathBuf>; 3],
}

impl Uploads<'_> {
    /// An upload into a new droplet: its guid, the upload, and the seconds until the 202.
    fn ours(&mut self) -> anyhow::Result<(String, Upload, f64)> {
        let guid = self.ours.create_droplet()?;
        settle();
        delete(&mut self.left[0])?;
        let (upload, accepted) = self.ours.upload(&guid, &self.droplet.body)?;
        self.left[0] = Some(self.ours.blob_path(&guid)?);
        Ok((guid, upload, accepted))
    }

    /// An upload into a new droplet of our server on the S3 store.
    fn ours_s3(&mut self) -> anyhow::Result<(String, Upload, f64)> {
        let guid = self.ours_s3.create_droplet()?;
        settle();
        delete(&mut self.left[2])?;
        let (upload, accepted) = self.ours_s3.upload(&guid, &self.droplet.body)?;
        let object = self.s3_root.join(s3_server::BUCKET).join("droplets").join(&guid);
        ensure!(object.is_file(), "no S3 object at {}", object.display());
        self.left[2] = Some(object);
        Ok((guid, upload, accepted))
    }

    /// An upload, and the seconds until its file was also fdatasynced.
    fn nginx(&mut self) -> anyhow::Result<(Upload, f64)> {
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

fn report(droplet: &Droplet, rounds: u64, samples: &Samples, peak_rss: u64) {
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
fn report_s3(droplet: &Droplet, samples: &Samples, local_rss: u64, s3_rss: u64) {
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

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[middle] } else { (sorted[middle - 1] + sorted[middle]) / 2.0 }
}

fn mib_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / MIB / seconds
}

/// One upload, as the server experienced it.
struct Upload {
    /// Wall time until the server had it all: our job COMPLETE, nginx's 201.
    seconds: f64,
    /// CPU time the server spent meanwhile, all threads and processes.
    cpu_seconds: f64,
}

/// User and system CPU time of a process, all its threads included.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields 14 and 15 (utime, stime) count after the command name, which may hold spaces.
    let (_, rest) = stat.rsplit_once(')').context("malformed /proc/PID/stat")?;
    let mut fields = rest.split_whitespace().skip(11);
    let mut next = || -> anyhow::Result<u64> {
        Ok(fields.next().context("malformed /proc/PID/stat")?.parse()?)
    };
    let ticks = next()? + next()?;
    // USER_HZ: 100 on every Linux architecture we run on.
    Ok(ticks as f64 / 100.0)
}

// ---------------------------------------------------------------------------------------------
// Our server

struct Ours {
    process: Process,
    url: String,
    token: String,
    data_dir: PathBuf,
}

impl Ours {
    fn start(bin: &Path, data_dir: &Path, config: Option<&Path>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let log = File::create(data_dir.with_extension("log"))?;
        let mut command = Command::new(bin);
        command.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"]).arg(data_dir);
        if let Some(config) = config {
            command.arg("--config").arg(config);
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
        Ok(Ours { process, url, token, data_dir: data_dir.to_owned() })
    }

    fn create_droplet(&self) -> anyhow::Result<String> {
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
    fn upload(&self, guid: &str, body: &Path) -> anyhow::Result<(Upload, f64)> {
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

    /// Where the local blobstore keeps the droplet's bits (`blobstore::droplet_key`).
    fn blob_path(&self, guid: &str) -> anyhow::Result<PathBuf> {
        let path = self.data_dir.join("blobs/droplets").join(guid);
        ensure!(path.is_file(), "no blob at {}: has the blobstore layout changed?", path.display());
        Ok(path)
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

    fn download(&self, guid: &str, expected_len: u64) -> anyhow::Result<f64> {
        let url = format!("{}/v3/droplets/{guid}/download", self.url);
        download(&url, &self.token, expected_len)
    }

    /// The server's peak resident set (VmHWM), in bytes.
    fn peak_rss_bytes(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.process.child.id()))?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM")?;
        let kib: u64 = line.split_whitespace().nth(1).context("malformed VmHWM")?.parse()?;
        Ok(kib * 1024)
    }
}

// ---------------------------------------------------------------------------------------------
// nginx

struct Nginx {
    process: Process,
    url: String,
}

impl Nginx {
    fn start(bin: &Path, prefix: &Path, tgz: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(prefix.join("body"))?;
        let port = free_port()?;
        let conf = prefix.join("nginx.conf");
        std::fs::write(&conf, nginx_conf(prefix, port, tgz))?;
        let error_log = prefix.join("error.log");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(prefix)
            .arg("-e")
            .arg(&error_log)
            .stdout(Stdio::null())
            .stderr(File::create(prefix.join("stderr.log"))?)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut process = Process { child, name: "nginx" };
        wait_until_listening(&mut process, port, &error_log)?;
        Ok(Nginx { process, url: format!("http://127.0.0.1:{port}") })
    }

    /// The upload until nginx has the whole body in a file, the seconds until that file is also
    /// fdatasynced, and the file.
    fn upload(&self, token: &str, droplet: &Droplet) -> anyhow::Result<(Upload, f64, PathBuf)> {
        let cpu = self.cpu_seconds()?;
        let started = Instant::now();
        let response = upload_request(&format!("{}/upload", self.url), token, &droplet.body)?;
        let seconds = started.elapsed().as_secs_f64();
        let upload = Upload { seconds, cpu_seconds: self.cpu_seconds()? - cpu };
        response.expect(201, "uploading to nginx")?;
        // The internal location answers with the path of the file nginx wrote the body to.
        let stored = PathBuf::from(response.body.trim());
        let file = File::open(&stored).with_context(|| format!("opening {}", stored.display()))?;
        let len = file.metadata()?.len();
        ensure!(len == droplet.body_len, "nginx stored {len} bytes, not {}", droplet.body_len);
        file.sync_data()?;
        Ok((upload, started.elapsed().as_secs_f64(), stored))
    }

    /// CPU seconds of the master and its workers, which do the work.
    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let master = self.process.child.id();
        let children = std::fs::read_to_string(format!("/proc/{master}/task/{master}/children"))
            .context("listing nginx's workers")?;
        let mut total = cpu_seconds(master)?;
        for worker in children.split_whitespace() {
            total += cpu_seconds(worker.parse()?)?;
        }
        Ok(total)
    }

    fn download(&self, token: &str, expected_len: u64) -> anyhow::Result<f64> {
        download(&format!("{}/droplet.tgz", self.url), token, expected_len)
    }
}

/// One worker: a single connection is served by a single worker whatever their number, and one
/// makes that deterministic. Debian's stock settings otherwise: sendfile and tcp_nopush on, and
/// the default body buffer size.
///
/// `/upload` makes nginx receive the body into a file and keep it (`client_body_in_file_only
/// on`): the proxy module reads the whole request body before contacting its upstream, and with
/// `proxy_pass_request_body off` it forwards only the headers, plus the file's path, to `/stored`
/// on the same server, which answers 201 with that path. This is the usual "nginx receives the
/// upload, the application gets the file" setup. nginx writes the file but never fsyncs it.
fn nginx_conf(prefix: &Path, port: u16, tgz: &Path) -> String {
    let prefix = prefix.display();
    let tgz = tgz.display();
    // nginx drops to an unprivileged user when started as root, who could not write here.
    let user = if running_as_root() { "user root;" } else { "" };
    format!(
        r#"# Generated by `cargo xtask bench`.
daemon off;
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /upload {{
            client_max_body_size 0;
            client_body_in_file_only on;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Body-File $request_body_file;
            proxy_pass http://127.0.0.1:{port}/stored;
        }}
        location = /stored {{
            allow 127.0.0.1;
            deny all;
            return 201 "$http_x_body_file\n";
        }}
        location = /droplet.tgz {{
            alias {tgz};
        }}
    }}
}}
"#
    )
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A port free now, for nginx to listen on; the race with other processes is harmless here.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

fn wait_until_listening(process: &mut Process, port: u16, log: &Path) -> anyhow::Result<()> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = process.child.try_wait()? {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            bail!("{} exited ({status}):\n{log}", process.name);
        }
        if TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("{} is not listening on {address}", process.name)
}

// ---------------------------------------------------------------------------------------------
// HTTP through curl

/// The upload, identical for both servers but for the URL: the body streamed from disk, and no
/// `Expect: 100-continue` round trip.
fn upload_request(url: &str, token: &str, body: &Path) -> anyhow::Result<Response> {
    let content_type = format!("Content-Type: multipart/form-data; boundary={BOUNDARY}");
    let body = body.to_str().context("the body's path is not UTF-8")?;
    curl(&[
        "-X",
        "POST",
        "-T",
        body,
        "-H",
        &content_type,
        "-H",
        "Expect:",
        "-H",
        &bearer(token),
        url,
    ])
}

/// Seconds to download `url` to nowhere, checking that all `expected_len` bytes came. A redirect
/// (our server on S3) is followed; curl does not send the token to another host or port.
fn download(url: &str, token: &str, expected_len: u64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let output = Command::new("curl")
        .args(["-sS", "-L", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-H"])
        .arg(bearer(token))
        .arg(url)
        .output()
        .context("running curl")?;
    let seconds = started.elapsed().as_secs_f64();
    ensure!(output.status.success(), "curl {url} failed: {}", stderr(&output));
    let written = String::from_utf8_lossy(&output.stdout).into_owned();
    ensure!(
        written == format!("200 {expected_len}"),
        "GET {url}: got {written}, not 200 and {expected_len} bytes"
    );
    Ok(seconds)
}

fn bearer(token: &str) -> String {
    format!("Authorization: bearer {token}")
}

struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    fn expect(&self, status: u16, what: &str) -> anyhow::Result<()> {
        ensure!(
            self.status == status,
            "{what}: HTTP {} (wanted {status}): {}",
            self.status,
            self.body
        );
        Ok(())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Runs `curl -sS -i` with `args`, which must not download anything large.
fn curl(args: &[&str]) -> anyhow::Result<Response> {
    let output =
        Command::new("curl").args(["-sS", "-i"]).args(args).output().context("running curl")?;
    ensure!(output.status.success(), "curl {args:?} failed: {}", stderr(&output));
    let mut text = String::from_utf8(output.stdout)?;
    // Skip interim responses (100 Continue), whose heads come before the final one.
    loop {
        let (head, body) = text.split_once("\r\n\r\n").context("no HTTP response head")?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .context("no HTTP status")?;
        if status >= 200 {
            return Ok(Response { status, head: head.to_owned(), body: body.to_owned() });
        }
        text = body.to_owned();
    }
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Child processes

/// A server we started, stopped with SIGTERM (nginx's fast shutdown, ours' graceful one) when
/// dropped; SIGKILL would leave nginx's worker running.
struct Process {
    child: Child,
    name: &'static str,
}

impl Drop for Process {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} (pid {pid}) did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
