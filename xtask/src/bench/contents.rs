//! What the bench's droplets hold. Real droplets mix files that compress well (scripts,
//! `node_modules`, manifests, class files, binaries) with files that do not (jars, images); the
//! mix decides how much inflating the upload's gzip/tar check costs, so the bench has both kinds:
//! a droplet of random bytes, which gzip stores as is, and one like an application's.
//!
//! The contents are generated from a fixed seed, so that every machine benches the same droplet.

use std::io::{Read, Write};

use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};

const SEED: u64 = 0x0d20_71e7;

/// Writes a tar stream of `size` bytes of file contents (plus headers) to `out`.
pub(super) fn write_tar(out: impl Write, size: u64, compressible: bool) -> anyhow::Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut rng = SmallRng::seed_from_u64(SEED);
    let staging_info = b"detected_buildpack: bench\nstart_command: ./app\n";
    append(&mut tar, "staging_info.yml", staging_info.len() as u64, &staging_info[..])?;
    let mut generator = Generator::new(&mut rng, compressible);
    let mut left = size;
    let mut index = 0;
    while left > 0 {
        let kind = if compressible { FileKind::pick(generator.rng) } else { FileKind::Packed };
        let len = generator.rng.random_range(kind.sizes(compressible)).min(left);
        let path = kind.path(index);
        append(&mut tar, &path, len, FileContents { generator: &mut generator, kind })?;
        left -= len;
        index += 1;
    }
    tar.into_inner()?.flush()?;
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

/// The kinds of file in an application's droplet, by how they compress.
#[derive(Clone, Copy)]
enum FileKind {
    /// Source, scripts, JSON and YAML: words from a vocabulary, lines, indentation.
    Text,
    /// Executables, shared libraries, class files: a skewed byte alphabet with repeated runs.
    Binary,
    /// Jars, images, archives: already compressed, random to gzip.
    Packed,
}

impl FileKind {
    /// Shares by count (per mille), chosen with the sizes below so that about 45% of the bytes
    /// are text, 30% binaries and 20% jars, which compresses about 2:1 with `gzip -6`, as a
    /// typical Node.js or Java droplet does (768 MiB of files into a 374 MiB tgz, as tried when
    /// this was written).
    fn pick(rng: &mut SmallRng) -> Self {
        match rng.random_range(0..1000) {
            0..840 => FileKind::Text,
            840..962 => FileKind::Binary,
            _ => FileKind::Packed,
        }
    }

    /// The random droplet's files are larger, as they always were.
    fn sizes(self, compressible: bool) -> std::ops::RangeInclusive<u64> {
        match self {
            FileKind::Text => 1024..=256 * 1024,
            FileKind::Binary => 64 * 1024..=1024 * 1024,
            FileKind::Packed if compressible => 256 * 1024..=2 * 1024 * 1024,
            FileKind::Packed => 256 * 1024..=64 * 1024 * 1024,
        }
    }

    fn path(self, index: usize) -> String {
        match self {
            FileKind::Text => {
                format!("app/node_modules/pkg-{:03}/lib/file-{index:06}.js", index % 997)
            }
            FileKind::Binary => format!("app/bin/tool-{index:06}.so"),
            FileKind::Packed => format!("app/lib/part-{index:04}.jar"),
        }
    }
}

/// The seeded source of every file's bytes.
struct Generator<'a> {
    rng: &'a mut SmallRng,
    vocabulary: Vec<Vec<u8>>,
    /// The bytes a binary file repeats from: its recent past.
    recent: Vec<u8>,
}

impl<'a> Generator<'a> {
    /// Only a compressible droplet draws a vocabulary: the random one stays the droplet earlier
    /// versions of the bench generated.
    fn new(rng: &'a mut SmallRng, compressible: bool) -> Self {
        let letters = b"abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let words = if compressible { 4096 } else { 0 };
        let vocabulary = (0..words)
            .map(|_| {
                let len = rng.random_range(2..=12);
                (0..len).map(|_| letters[rng.random_range(0..letters.len())]).collect()
            })
            .collect();
        Generator { rng, vocabulary, recent: Vec::new() }
    }

    /// A line of text: indentation, then words of a Zipf-like frequency between punctuation; or,
    /// as code repeats itself, a stretch of the text before.
    fn text_line(&mut self, out: &mut Vec<u8>) {
        if self.repeat(out, 0.65, 20..160) {
            return;
        }
        let start = out.len();
        let indent = self.rng.random_range(0..6) * 2;
        out.extend(std::iter::repeat_n(b' ', indent));
        for word in 0..self.rng.random_range(2..10) {
            if word > 0 {
                let separators: [&[u8]; 6] = [b" ", b".", b"(", b", ", b" = ", b": "];
                out.extend_from_slice(separators[self.rng.random_range(0..separators.len())]);
            }
            // Cubing a uniform draw favours the first words of the vocabulary, as real text
            // favours `the`, `return` and `function`.
            let skew = self.rng.random::<f64>().powi(3);
            let index = (skew * self.vocabulary.len() as f64) as usize;
            out.extend_from_slice(&self.vocabulary[index]);
        }
        let endings: [&[u8]; 4] = [b";\n", b" {\n", b"\n", b");\n"];
        out.extend_from_slice(endings[self.rng.random_range(0..endings.len())]);
        self.remember(&out[start..]);
    }

    /// With probability `chance`, appends a run of `lengths` bytes from the recent past.
    fn repeat(&mut self, out: &mut Vec<u8>, chance: f64, lengths: std::ops::Range<usize>) -> bool {
        if self.recent.len() < 4096 || !self.rng.random_bool(chance) {
            return false;
        }
        let len = self.rng.random_range(lengths);
        let start = self.rng.random_range(0..self.recent.len() - len);
        out.extend_from_slice(&self.recent[start..start + len]);
        true
    }

    /// Keeps the last 32 to 64 KiB generated, deflate's window, for `repeat`.
    fn remember(&mut self, bytes: &[u8]) {
        self.recent.extend_from_slice(bytes);
        if self.recent.len() > 64 * 1024 {
            self.recent.drain(..32 * 1024);
        }
    }

    /// A stretch of machine code: mostly a few common bytes, some random ones, and runs
    /// repeated from earlier in the file.
    fn binary_run(&mut self, out: &mut Vec<u8>) {
        const COMMON: &[u8] = &[0x00, 0x48, 0x89, 0x8b, 0xff, 0xe8, 0x0f, 0x85, 0x24, 0x44];
        if self.repeat(out, 0.6, 8..64) {
            return;
        }
        for _ in 0..32 {
            let byte = if self.rng.random_bool(0.75) {
                COMMON[self.rng.random_range(0..COMMON.len())]
            } else {
                self.rng.random()
            };
            out.push(byte);
        }
        let run = out.len() - 32;
        self.remember(&out[run..]);
    }
}

/// An endless reader of one file's bytes; the tar builder takes as many as the file's size.
struct FileContents<'g, 'a> {
    generator: &'g mut Generator<'a>,
    kind: FileKind,
}

impl Read for FileContents<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let FileKind::Packed = self.kind {
            self.generator.rng.fill_bytes(buf);
            return Ok(buf.len());
        }
        let mut produced = Vec::with_capacity(buf.len() + 256);
        while produced.len() < buf.len() {
            match self.kind {
                FileKind::Text => self.generator.text_line(&mut produced),
                _ => self.generator.binary_run(&mut produced),
            }
        }
        // What does not fit is dropped: the file goes on with new lines, which is as good.
        buf.copy_from_slice(&produced[..buf.len()]);
        Ok(buf.len())
    }
}

#[cfg(test)]
mod tests {
    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::write_tar;

    /// The compressible droplet compresses about as a real one does, the random one not at all.
    #[test]
    fn droplets_compress_as_intended() {
        let size = 16 * 1024 * 1024;
        let ratio = |compressible| {
            let mut gzip = GzEncoder::new(Vec::new(), Compression::new(6));
            write_tar(&mut gzip, size, compressible).unwrap();
            size as f64 / gzip.finish().unwrap().len() as f64
        };
        let app = ratio(true);
        assert!((1.8..2.4).contains(&app), "the compressible droplet compresses {app:.2}:1");
        let random = ratio(false);
        assert!(random < 1.01, "the random droplet compresses {random:.2}:1");
    }
}
