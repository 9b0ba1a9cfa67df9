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
