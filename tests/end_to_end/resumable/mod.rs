//! Resumable uploads (tus 1.0.0): the protocol and every refusal (`protocol`), what survives a
//! broken connection, a killed server, expiry and another replica (`durability`), and the
//! clients that drive it: ours, tuspy and tus-js-client (`clients`).

mod clients;
mod durability;
mod protocol;

use crate::common::*;

/// A droplet of `mib` MiB of random bytes, and a server's droplet awaiting it.
pub async fn droplet_and_bits(server: &TestServer, kib: usize) -> (String, Vec<u8>) {
    let bits = tarball(&[("./app/blob.bin", &random_bytes(kib * 1024))]);
    (server.create_droplet().await, bits)
}

/// Waits for the job the answer of an upload's last append names, and checks that the droplet
/// staged these bits.
pub async fn assert_staged(server: &TestServer, guid: &str, job_location: &str, bits: &[u8]) {
    let job = server.wait_for_job(job_location).await;
    assert_eq!(job.state, droplet_client::types::JobState::Complete, "{job:?}");
    let droplet = server.droplet(guid).await;
    assert_eq!(droplet.state, droplet_client::types::DropletState::Staged);
    assert_eq!(droplet.checksum.expect("a checksum").value, sha256_hex(bits));
}

/// Every file under `dir`, at any depth (an S3 server keeps objects as files).
pub fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match entry.path().is_dir() {
            true => files.extend(files_under(&entry.path())),
            false => files.push(entry.path().display().to_string()),
        }
    }
    files
}
