//! Bits that are not a gzip tarball: the upload is accepted, its job fails the droplet with a
//! reason in readable text, and nothing is stored.

use droplet_client::types;

use crate::common::*;

/// Uploads `bits`, expects the 202 and a `FAILED` job and droplet whose error contains `reason`,
/// and no blob stored.
async fn assert_bits_rejected(bits: &[u8], reason: &str) {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let job = server.upload_and_wait(&guid, bits).await;
    assert_eq!(job.state, types::JobState::Failed, "{job:?}");
    assert_eq!(job.errors.len(), 1, "{job:?}");
    let error = &job.errors[0];
    assert_eq!((error.code, error.title.as_str()), (10008, "CF-UnprocessableEntity"));
    assert!(error.detail.contains(reason), "{error:?}");
    // Readable text: nothing of the input echoed as raw bytes.
    let readable = |c: char| (c.is_ascii_graphic() || c == ' ') && c != '\u{fffd}';
    assert!(error.detail.chars().all(readable), "unreadable detail: {:?}", error.detail);
    assert!(error.detail.len() <= 300, "a detail of {} bytes", error.detail.len());

    let droplet = server.droplet(&guid).await;
    assert_eq!(droplet.state, types::DropletState::Failed);
    assert_eq!(droplet.error.as_deref(), Some(error.detail.as_str()));
    assert!(droplet.checksum.is_none());
    server.wait_for_empty_blobstore().await;
}

#[tokio::test]
pub async fn random_bytes_fail_the_job() {
    assert_bits_rejected(&random_bytes(300 * 1024), "gzip").await;
}

#[tokio::test]
async fn gzip_of_something_else_fails_the_job() {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, &random_bytes(64 * 1024)).unwrap();
    assert_bits_rejected(&encoder.finish().unwrap(), "not a valid gzip-compressed tarball").await;
}

/// A tar header whose name and checksum are binary garbage: the tar reader's complaint quotes
/// both, and the droplet's error must still be readable text.
#[tokio::test]
async fn a_tar_header_of_garbage_fails_with_a_readable_error() {
    let mut archive = vec![0u8; 512 * 3];
    archive[..100].copy_from_slice(&[0xfe; 100]);
    archive[148..156].copy_from_slice(&[0xff, 0x1b, b'[', 0x80, 0x9f, 0xc3, 0x28, 0x07]);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, &archive).unwrap();
    assert_bits_rejected(&encoder.finish().unwrap(), "not a valid gzip-compressed tarball").await;
}

/// Every byte counts: a tarball missing the end of its gzip stream is refused.
#[tokio::test]
pub async fn truncated_tarball_fails_the_job() {
    let bits = small_droplet();
    assert_bits_rejected(&bits[..bits.len() - 16], "not a valid gzip-compressed tarball").await;
}
