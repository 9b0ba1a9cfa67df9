//! What a resumable upload keeps: the bytes of a broken or stalled append, every acknowledged
//! byte through `kill -9` (the server's, mid-append and mid-job), appends through another
//! replica; and what it frees: an expired upload leaves nothing in the store.

use std::time::Duration;

use reqwest::Method;

use super::{assert_staged, droplet_and_bits};
use crate::common::*;

#[tokio::test]
async fn a_broken_append_keeps_what_arrived_unless_it_had_a_checksum() {
    let server = TestServer::start_with_config("upload_idle_timeout_secs = 1\n");
    let (guid, bits) = droplet_and_bits(&server, 600).await;
    let url = server.tus_create(&guid, bits.len() as u64).await;
    let whole = bits.len() as u64;

    // The connection breaks after 200 KiB: those are kept.
    let connection = server.tus_partial_append(&url, 0, whole, &bits[..200 * 1024], "").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(connection);
    eventually("the broken append's bytes to be recorded", || async {
        server.tus_offset(&url).await == 200 * 1024
    })
    .await;
    // One that stalls is cut after upload_idle_timeout_secs, and keeps its bytes too.
    let stalled = server
        .tus_partial_append(&url, 200 * 1024, whole - 200 * 1024, &bits[200 * 1024..300 * 1024], "")
        .await;
    eventually("the stalled append's bytes to be recorded", || async {
        server.tus_offset(&url).await == 300 * 1024
    })
    .await;
    drop(stalled);
    // One with a checksum keeps nothing: its bytes cannot be checked.
    let checksum = "upload-checksum: sha256 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\r\n";
    let checked = server
        .tus_partial_append(&url, 300 * 1024, 1000, &bits[300 * 1024..300 * 1024 + 500], checksum)
        .await;
    drop(checked);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // (An append in progress holds the upload: HEAD still answers what was recorded.)
    assert_eq!(server.tus_offset(&url).await, 300 * 1024);

    let rest = &bits[300 * 1024..];
    let last = loop {
        // The dropped append may still hold the upload for a moment.
        let response = server.tus_patch(&url, 300 * 1024, rest.to_vec()).await;
        if response.status() != 423 {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(last.status(), 204);
    let job = header(&last, "job-location").expect("the job").to_owned();
    assert_staged(&server, &guid, &job, &bits).await;
}

/// A client whose connection hangs (the server still waits for its bytes) reconnects: its new
/// append makes the old one give way and record what it has, and the client goes on from there.
#[tokio::test]
async fn a_newer_append_takes_over_from_a_hanging_one() {
    let server = TestServer::start();
    let (guid, bits) = droplet_and_bits(&server, 600).await;
    let url = server.tus_create(&guid, bits.len() as u64).await;
    let hanging = server.tus_partial_append(&url, 0, bits.len() as u64, &bits[..100_000], "").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let offset = server.tus_offset(&url).await;
    assert_eq!(offset, 0, "an append in progress reports nothing yet");
    // The client reconnects and sends from what HEAD said: the old append gives way, and
    // its 100,000 bytes make this offset stale.
    let newer = server.tus_patch(&url, offset, bits.to_vec()).await;
    assert_cf_error(newer, 409, 10021, "CF-UploadOffsetMismatch").await;
    assert_eq!(server.tus_offset(&url).await, 100_000);
    let last = server.tus_append(&url, 100_000, &bits[100_000..]).await;
    assert_staged(&server, &guid, header(&last, "job-location").unwrap(), &bits).await;
    drop(hanging);
}

/// `kill -9` mid-append and mid-job: every byte acknowledged before is there after the
/// restart, the client resumes from HEAD's offset, and a job the process died in is done again.
fn acknowledged_bytes_survive_kill_9() {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let env = [("DROPLET_TEST_ABORT_IN", "resumable-job-published")];
        let mut server = TestServer::start_with_env("", &env);
        let (guid, bits) = droplet_and_bits(&server, 2048).await;
        let url = server.tus_create(&guid, bits.len() as u64).await;
        server.tus_append(&url, 0, &bits[..700_000]).await;
        let rest = (bits.len() - 700_000) as u64;
        let unacknowledged =
            server.tus_partial_append(&url, 700_000, rest, &bits[700_000..900_000], "").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.kill_and_restart_in_place(&env);
        drop(unacknowledged);
        let offset = server.tus_offset(&url).await;
        assert!(offset >= 700_000, "HEAD answers {offset}, less than was acknowledged");
        let last = loop {
            // On PostgreSQL the dead process's hold lapses with its lease.
            let response = server.tus_patch(&url, offset, bits[offset as usize..].to_vec()).await;
            if response.status() != 423 {
                break response;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(last.status(), 204, "{:?}", last.text().await);
        // The job published the bits, and the process died before recording them.
        assert!(server.wait_for_exit(Duration::from_secs(60)), "the fault did not end the process");
        server.kill_and_restart_in_place(&[]);
        let job =
            server.url(&format!("/v3/jobs/{}", job_guid(header(&last, "job-location").unwrap())));
        assert_staged(&server, &guid, &job, &bits).await;
        assert!(server.log().contains("redoing a resumable upload's job"));
    });
}

#[test]
fn sqlite_acknowledged_bytes_survive_kill_9() {
    acknowledged_bytes_survive_kill_9();
}

#[test]
fn postgres_acknowledged_bytes_survive_kill_9() {
    on_postgres(acknowledged_bytes_survive_kill_9);
}

#[tokio::test]
async fn appends_through_either_replica_are_one_upload() {
    let replicas = TestServer::start_replicas(2);
    let (a, b) = (&replicas[0], &replicas[1]);
    // Past S3's 5 MiB part minimum, in appends that leave tails below it.
    let (guid, bits) = droplet_and_bits(a, 13 * 1024).await;
    let url = a.tus_create(&guid, bits.len() as u64).await;
    let cuts = [0, 3 << 20, 9 << 20, 11 << 20, bits.len()];
    for (i, window) in cuts.windows(2).enumerate() {
        let replica = [a, b][i % 2];
        assert_eq!(replica.tus_offset(&url).await, window[0] as u64);
        let answer = replica.tus_append(&url, window[0] as u64, &bits[window[0]..window[1]]).await;
        if window[1] == bits.len() {
            let job = header(&answer, "job-location").expect("the job").to_owned();
            assert_staged(a, &guid, &job, &bits).await;
        }
    }
    assert_eq!(b.download_bits(&guid).await, bits);
    assert!(a.partial_blobs().is_empty(), "{:?}", a.partial_blobs());
}

/// An upload left alone expires: recovery frees its bytes, and the droplet takes another.
async fn an_expired_upload_leaves_nothing(
    server: &TestServer,
    leftovers: impl Fn() -> Vec<String>,
) {
    let (guid, bits) = droplet_and_bits(server, 7 * 1024).await;
    let url = server.tus_create(&guid, bits.len() as u64).await;
    server.tus_append(&url, 0, &bits[..6 << 20]).await;
    assert!(!leftovers().is_empty(), "the upload's bytes are in the store");
    eventually("the expired upload to leave nothing in the store", || async {
        leftovers().is_empty()
    })
    .await;
    let head = server.tus(Method::HEAD, &url).send().await.unwrap();
    assert_eq!(head.status(), 404);
    server.assert_untouched(&guid).await;
}

const EXPIRING: &str = "resumable_upload_expiry_secs = 2\nlease_secs = 2\n";

#[tokio::test]
async fn an_expired_upload_leaves_nothing_in_a_local_store() {
    let server = TestServer::start_with_config(EXPIRING);
    let resumable_files = || {
        let files = server.blob_files().into_iter().filter(|f| f.starts_with("resumable"));
        files.map(|f| f.display().to_string()).collect()
    };
    an_expired_upload_leaves_nothing(&server, resumable_files).await;
}

#[tokio::test]
async fn an_expired_upload_leaves_nothing_in_a_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = droplet_test_s3_server::S3Server::start(dir.path());
    let server = TestServer::start_with_config(&format!("{EXPIRING}{}", s3.blobstore_toml()));
    // Its multipart upload and the tail held beside it.
    let held = || {
        let mut held = s3.pending_uploads();
        let tails = s3.root.join(droplet_test_s3_server::BUCKET).join("resumable-tails");
        let tail_files = super::files_under(&tails);
        held.extend(tail_files);
        held
    };
    an_expired_upload_leaves_nothing(&server, held).await;
}
