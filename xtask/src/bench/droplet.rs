//! The droplet the bench uploads and downloads, and the request body that uploads it.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};

/// Fixed, so that the cached request body can be sent to both servers byte for byte.
pub(super) const BOUNDARY: &str = "droplet-bench-3f9a1c7e5b2d4a60";

pub(super) struct Droplet {
    pub(super) tgz: PathBuf,
    pub(super) tgz_len: u64,
    /// The multipart/form-data request body: the tgz as the `bits` field.
    pub(super) body: PathBuf,
    pub(super) body_len: u64,
}

impl Droplet {
    /// The droplet and request body of this size, generated on first use and kept.
    pub(super) fn cached(dir: &Path, size_mib: u64, level: u32) -> anyhow::Result<Self> {
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
