//! The droplet the bench uploads and downloads, and the request body that uploads it.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, ensure};
use flate2::Compression;
use flate2::write::GzEncoder;

use super::contents;

/// Fixed, so that the cached request body can be sent to both servers byte for byte.
pub(super) const BOUNDARY: &str = "droplet-bench-3f9a1c7e5b2d4a60";

pub(super) struct Droplet {
    pub(super) tgz: PathBuf,
    pub(super) tgz_len: u64,
    /// The multipart/form-data request body: the tgz as the `bits` field.
    pub(super) body: PathBuf,
    pub(super) body_len: u64,
}

/// What the droplet holds, and how its tarball is compressed.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    /// Random bytes, gzipped by zlib-rs at this level: inflating costs next to nothing.
    Random { gzip_level: u32 },
    /// An application's mix of text, binaries and jars, gzipped by `gzip -6` as `tar czf` does:
    /// inflating is most of what the upload's check costs.
    Compressible,
}

impl Kind {
    pub(super) fn label(self) -> &'static str {
        match self {
            Kind::Random { .. } => "random",
            Kind::Compressible => "compressible",
        }
    }
}

impl Droplet {
    /// The droplet and request body of this kind and size, generated on first use and kept.
    pub(super) fn cached(dir: &Path, size_mib: u64, kind: Kind) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let name = match kind {
            Kind::Random { gzip_level: 1 } => format!("droplet-{size_mib}MiB"),
            Kind::Random { gzip_level } => format!("droplet-{size_mib}MiB-gzip{gzip_level}"),
            Kind::Compressible => format!("droplet-{size_mib}MiB-app-gzip6"),
        };
        let tgz = dir.join(format!("{name}.tgz"));
        let body = dir.join(format!("{name}.multipart"));
        if !tgz.exists() {
            println!(
                "generating a {size_mib} MiB {} droplet in {}...",
                kind.label(),
                tgz.display()
            );
            let started = Instant::now();
            let size = size_mib * 1024 * 1024;
            write_atomically(&tgz, |file| write_tgz(file, size, kind))?;
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

impl Droplet {
    /// A droplet of the user's (`--app-tgz`), with its request body made in `dir`.
    pub(super) fn from_file(dir: &Path, tgz: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let body = dir.join("given-droplet.multipart");
        write_atomically(&body, |file| write_multipart(file, tgz))?;
        let tgz_len = std::fs::metadata(tgz)?.len();
        let body_len = std::fs::metadata(&body)?.len();
        Ok(Droplet { tgz: tgz.to_owned(), tgz_len, body, body_len })
    }
}

impl Droplet {
    /// The tgz cut into files of `chunk_bytes` (the last one shorter), each with the offset it
    /// starts at: the bodies of a resumable upload's `PATCH`es. Cut on first use and kept
    /// beside the tgz.
    pub(super) fn chunks(&self, chunk_bytes: u64) -> anyhow::Result<Vec<(PathBuf, u64)>> {
        let dir = self.tgz.with_extension(format!("chunks-{chunk_bytes}"));
        let count = self.tgz_len.div_ceil(chunk_bytes);
        let chunk = |index: u64| (dir.join(format!("{index:05}")), index * chunk_bytes);
        if !dir.join("complete").exists() {
            std::fs::create_dir_all(&dir)?;
            let tgz = File::open(&self.tgz)?;
            for index in 0..count {
                let mut file = File::create(chunk(index).0)?;
                std::io::copy(&mut (&tgz).take(chunk_bytes), &mut file)?;
            }
            File::create(dir.join("complete"))?;
        }
        Ok((0..count).map(chunk).collect())
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

fn write_tgz(file: File, size: u64, kind: Kind) -> anyhow::Result<()> {
    match kind {
        Kind::Random { gzip_level } => {
            let out = BufWriter::with_capacity(1 << 20, file);
            let mut gzip = GzEncoder::new(out, Compression::new(gzip_level));
            contents::write_tar(&mut gzip, size, false)?;
            gzip.finish()?.flush()?;
        }
        Kind::Compressible => {
            // GNU gzip itself, so that the deflate stream is the one `tar czf` makes.
            let mut gzip = Command::new("gzip")
                .args(["-6", "-n", "-c"])
                .stdin(Stdio::piped())
                .stdout(file)
                .spawn()
                .context("running gzip")?;
            let stdin = BufWriter::with_capacity(1 << 20, gzip.stdin.take().expect("piped"));
            contents::write_tar(stdin, size, true)?;
            let status = gzip.wait()?;
            ensure!(status.success(), "gzip failed: {status}");
        }
    }
    Ok(())
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
