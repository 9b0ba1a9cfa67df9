//! Checks that the bits are a gzip-compressed tarball, and that the files listed in the upload's
//! `resources` are in it with the listed size and SHA-1. Reads the stream once, to its end, so the
//! gzip trailer (CRC and length) is verified too.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use droplet_api::UploadResource;
use sha1::{Digest, Sha1};

use super::gunzip::gunzip;

/// The inflated bytes are read in blocks of this size: the tar reader's small reads (512-byte
/// headers, the 32 KiB of a skipped entry) are served from the block, and the inflater is called
/// on large buffers, where it is fastest.
const INFLATED_BLOCK_BYTES: usize = 64 * 1024;

/// Why the bits were refused; the text becomes the droplet's `error`.
pub type Rejection = String;

pub fn inspect(bits: impl BufRead, resources: &[UploadResource]) -> Result<(), Rejection> {
    crate::faults::panic_if_injected(crate::faults::UPLOAD_INSPECTION);
    let mut wanted: HashMap<&str, &UploadResource> =
        resources.iter().map(|r| (normalize(&r.path), r)).collect();
    let mut decoder = BufReader::with_capacity(INFLATED_BLOCK_BYTES, gunzip(bits));
    {
        let mut archive = tar::Archive::new(&mut decoder);
        let entries = archive.entries().map_err(not_a_tarball)?;
        for entry in entries {
            let mut entry = entry.map_err(not_a_tarball)?;
            if wanted.is_empty() {
                continue;
            }
            let path = entry.path().map_err(not_a_tarball)?.to_string_lossy().into_owned();
            if let Some(resource) = wanted.remove(normalize(&path)) {
                check_resource(&mut entry, resource)?;
            }
        }
    }
    // The tarball's end marker may be followed by padding; the gzip stream must still end cleanly.
    std::io::copy(&mut decoder, &mut std::io::sink()).map_err(not_a_tarball)?;
    if let Some(path) = wanted.keys().min() {
        return Err(format!("resource '{path}' is not in the droplet"));
    }
    Ok(())
}

fn check_resource(entry: &mut impl Read, resource: &UploadResource) -> Result<(), Rejection> {
    let mut sha1 = Sha1::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = entry.read(&mut buffer).map_err(not_a_tarball)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        sha1.update(&buffer[..n]);
    }
    let path = &resource.path;
    if size != resource.size_in_bytes {
        return Err(format!(
            "resource '{path}' has {size} bytes in the droplet, not {}",
            resource.size_in_bytes
        ));
    }
    let digest = hex::encode(sha1.finalize());
    if !digest.eq_ignore_ascii_case(&resource.checksum.value) {
        return Err(format!(
            "resource '{path}' has SHA-1 {digest} in the droplet, not {}",
            resource.checksum.value
        ));
    }
    Ok(())
}

fn normalize(path: &str) -> &str {
    path.trim_start_matches("./").trim_start_matches('/')
}

fn not_a_tarball(error: std::io::Error) -> Rejection {
    format!("the droplet is not a valid gzip-compressed tarball: {}", readable(&error.to_string()))
}

/// The longest a reason quoted from a reader may be.
const MAX_REASON_CHARS: usize = 160;

/// A reader's complaint as readable text: it may quote the input (a garbage file name or field),
/// so anything but printable ASCII becomes `?` (a run of them one `?`), and it is cut short.
fn readable(reason: &str) -> String {
    let mut text = String::new();
    for c in reason.chars() {
        let c = if c.is_ascii_graphic() || c == ' ' { c } else { '?' };
        if !(c == '?' && text.ends_with('?')) {
            text.push(c);
        }
    }
    if text.chars().count() > MAX_REASON_CHARS {
        text = text.chars().take(MAX_REASON_CHARS).collect::<String>() + "...";
    }
    text
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn reasons_are_readable() {
        assert_eq!(
            readable("bad field \u{1b}[\u{fffd}\u{fffd}( for \u{7}x"),
            "bad field ?[?( for ?x"
        );
        assert_eq!(readable(&"a".repeat(500)).len(), 163);
        assert_eq!(readable("checksum mismatch"), "checksum mismatch");
    }
}

/// The check over arbitrary and mutated droplets: it never panics, takes every valid droplet
/// with the resources it holds, and refuses what is not one. `cargo test` runs 256 cases of each;
/// `PROPTEST_CASES=100000 cargo test -p droplet-server --lib inspect` runs longer.
#[cfg(test)]
mod properties {
    use std::io::{BufReader, Write};

    use droplet_api::{ResourceChecksum, UploadResource};
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;
    use proptest::sample::Index;
    use sha1::{Digest, Sha1};

    use super::inspect;

    type Files = std::collections::BTreeMap<String, Vec<u8>>;

    /// A droplet: its files, how it is compressed, and how it arrives.
    #[derive(Debug, Clone)]
    struct Droplet {
        files: Files,
        /// Whether the tarball names its files `./path`, as droplets usually do.
        dot_slash: bool,
        level: u32,
        /// Where the tarball is split into two gzip members, if it is.
        split: Option<Index>,
        /// Bytes per read of the input, as the upload's chunks vary.
        chunk: usize,
    }

    fn droplets() -> impl Strategy<Value = Droplet> {
        let files = btree_map("[a-z]{1,6}(/[a-z]{1,6}){0,2}", vec(any::<u8>(), 0..3000), 0..6);
        (files, any::<bool>(), 0..=9u32, any::<Option<Index>>(), 1..5000usize).prop_map(
            |(files, dot_slash, level, split, chunk)| Droplet {
                files,
                dot_slash,
                level,
                split,
                chunk,
            },
        )
    }

    fn tar(files: &Files, prefix: &str) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, contents) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(0o644);
            let path = format!("{prefix}{path}");
            builder.append_data(&mut header, path, contents.as_slice()).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gzip(data: &[u8], level: u32) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::new(level));
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    impl Droplet {
        fn bits(&self) -> Vec<u8> {
            let tar = tar(&self.files, if self.dot_slash { "./" } else { "" });
            let Some(split) = self.split else { return gzip(&tar, self.level) };
            let (first, second) = tar.split_at(split.index(tar.len() + 1));
            [gzip(first, self.level), gzip(second, self.level)].concat()
        }

        /// Every file as a resource the droplet satisfies.
        fn resources(&self) -> Vec<UploadResource> {
            let resource = |(path, contents): (&String, &Vec<u8>)| UploadResource {
                path: path.clone(),
                size_in_bytes: contents.len() as u64,
                checksum: ResourceChecksum { value: hex::encode(Sha1::digest(contents)) },
            };
            self.files.iter().map(resource).collect()
        }
    }

    fn check(bits: &[u8], chunk: usize, resources: &[UploadResource]) -> Result<(), String> {
        let result = inspect(BufReader::with_capacity(chunk, bits), resources);
        if let Err(reason) = &result {
            assert!(reason.chars().all(|c| c.is_ascii_graphic() || c == ' '), "{reason:?}");
        }
        result
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Flip(Index, u8),
        Insert(Index, u8),
        Remove(Index),
        Truncate(Index),
    }

    fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
        let mutation = prop_oneof![
            (any::<Index>(), 1..=255u8).prop_map(|(at, bits)| Mutation::Flip(at, bits)),
            (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
            any::<Index>().prop_map(Mutation::Remove),
            any::<Index>().prop_map(Mutation::Truncate),
        ];
        vec(mutation, 1..4)
    }

    fn mutate(mut bits: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
        for mutation in mutations {
            let len = bits.len();
            match mutation {
                Mutation::Flip(at, mask) if len > 0 => bits[at.index(len)] ^= mask,
                Mutation::Insert(at, byte) => bits.insert(at.index(len + 1), *byte),
                Mutation::Remove(at) if len > 0 => drop(bits.remove(at.index(len))),
                Mutation::Truncate(at) => bits.truncate(at.index(len + 1)),
                _ => {}
            }
        }
        bits
    }

    proptest! {
        #[test]
        fn valid_droplets_are_taken_with_their_resources(droplet in droplets()) {
            let resources = droplet.resources();
            prop_assert_eq!(check(&droplet.bits(), droplet.chunk, &resources), Ok(()));
        }

        #[test]
        fn mutated_droplets_never_panic(droplet in droplets(), mutations in mutations()) {
            let bits = mutate(droplet.bits(), &mutations);
            let _ = check(&bits, droplet.chunk, &droplet.resources());
        }

        /// Of one gzip member: a droplet of two may be cut where its first member ends.
        #[test]
        fn truncated_droplets_are_refused(droplet in droplets(), cut in any::<Index>()) {
            let bits = Droplet { split: None, ..droplet.clone() }.bits();
            let cut = cut.index(bits.len());
            prop_assert!(check(&bits[..cut], droplet.chunk, &[]).is_err());
        }

        #[test]
        fn arbitrary_bytes_are_refused(bits in vec(any::<u8>(), 0..4000), chunk in 1..5000usize) {
            prop_assert!(check(&bits, chunk, &[]).is_err());
        }

        #[test]
        fn arbitrary_tarballs_never_panic(tar in vec(any::<u8>(), 0..8000), chunk in 1..5000usize) {
            let _ = check(&gzip(&tar, 1), chunk, &[]);
        }
    }
}
