//! A 100 MiB droplet through the generated client, both ways, with the server's memory bounded:
//! the bits are streamed, never held, whether they go up in one multipart request or as a
//! resumable upload in 16 MiB appends.

use std::io::{Read, Write};
use std::path::Path;

use droplet_client::{DropletUploadForm, FilePart, ResumeOptions, UploadOptions, types};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::common::*;

const DROPLET_BYTES: u64 = 100 * 1024 * 1024;
/// The server's peak resident memory over its whole life, start-up included.
const MAX_PEAK_RSS_KIB: u64 = 64 * 1024;

/// Random bytes, `remaining` of them, generated as they are read.
struct RandomReader {
    remaining: u64,
}

impl Read for RandomReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.remaining as usize);
        rand::fill(&mut buf[..n]);
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Passes bytes on and hashes them.
struct HashingWriter<W> {
    inner: W,
    sha256: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha256.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a droplet of one incompressible 100 MiB file to `path`, streaming; returns the
/// tarball's SHA-256 and size.
fn write_big_droplet(path: &Path) -> (String, u64) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let hashing = HashingWriter { inner: file, sha256: Sha256::new() };
    // Random data does not compress; stored deflate blocks keep the droplet at 100 MiB.
    let mut archive = tar::Builder::new(GzEncoder::new(hashing, Compression::none()));
    let mut header = tar::Header::new_ustar();
    header.set_path("app/blob.bin").unwrap();
    header.set_size(DROPLET_BYTES);
    header.set_mode(0o644);
    header.set_cksum();
    archive.append(&header, RandomReader { remaining: DROPLET_BYTES }).unwrap();
    let mut hashing = archive.into_inner().unwrap().finish().unwrap();
    hashing.flush().unwrap();
    let size = std::fs::metadata(path).unwrap().len();
    (hex::encode(hashing.sha256.finalize()), size)
}

#[tokio::test]
async fn hundred_mib_round_trip_keeps_the_server_small() {
    hundred_mib_round_trip(&TestServer::start(), Upload::Multipart).await;
}

#[tokio::test]
async fn hundred_mib_resumable_round_trip_keeps_the_server_small() {
    hundred_mib_round_trip(&TestServer::start(), Upload::Resumable).await;
}

/// How the bits go up: the generated multipart operation, or the client's resumable upload in
/// 16 MiB appends.
#[derive(Clone, Copy, Debug)]
pub enum Upload {
    Multipart,
    Resumable,
}

/// Uploads a 100 MiB droplet through the generated client and downloads it back (following a
/// redirect if the server answers with one); checks the server's peak RSS stayed small.
pub async fn hundred_mib_round_trip(server: &TestServer, upload: Upload) {
    let upload_path = server.scratch().join("big.tgz");
    let (sha256, size) = {
        let path = upload_path.clone();
        tokio::task::spawn_blocking(move || write_big_droplet(&path)).await.unwrap()
    };
    assert!(size > DROPLET_BYTES, "{size}");

    let client = server.client();
    let guid = server.create_droplet().await;
    match upload {
        Upload::Multipart => {
            let form = DropletUploadForm {
                bits: FilePart::from_path(&upload_path).await.unwrap(),
                resources: None,
            };
            let accepted = client.droplet_upload(&guid, form).await.unwrap();
            let job = client.wait_for_accepted_job(&accepted);
            let job = within_deadline("the job", job).await.unwrap();
            assert_eq!(job.state, types::JobState::Complete, "{job:?}");
        }
        Upload::Resumable => {
            let resume = ResumeOptions { chunk_bytes: Some(16 << 20), ..Default::default() };
            let options = UploadOptions { resume, ..Default::default() };
            let uploaded = client.upload_file_with(guid.parse().unwrap(), &upload_path, options);
            within_deadline("the upload", uploaded).await.unwrap();
        }
    }
    assert_eq!(server.droplet(&guid).await.checksum.unwrap().value, sha256);
    let after_upload = peak_rss_kib(server.pid());

    let download_path = server.scratch().join("copy.tgz");
    let report = client.download_to_file(guid.parse().unwrap(), &download_path).await.unwrap();
    assert_eq!((report.bytes, report.sha256.as_str()), (size, sha256.as_str()));
    assert_eq!(std::fs::metadata(&download_path).unwrap().len(), size);

    let peak = peak_rss_kib(server.pid());
    println!(
        "droplet-server peak RSS over a {size}-byte round trip ({upload:?}): {peak} KiB \
         ({after_upload} KiB after the upload)"
    );
    assert!(peak < MAX_PEAK_RSS_KIB, "peak RSS {peak} KiB, limit {MAX_PEAK_RSS_KIB} KiB");
}
