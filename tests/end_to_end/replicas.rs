//! Many replicas acting as one: two server processes on one PostgreSQL database and one S3
//! bucket (s3s-fs, objects as files). What one accepts, the other serves; a replica that dies
//! mid-upload or mid-job loses nothing, leaves nothing stuck and no orphan object or pending
//! multipart upload once its leases run out, and the copies it was making are finished by the
//! other.

use std::collections::BTreeMap;

use droplet_client::types;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn replicas_serve_each_others_droplets_and_jobs() {
    let replicas = TestServer::start_replicas(2);
    let (a, b) = (&replicas[0], &replicas[1]);

    // Created and uploaded through one, the job followed and the bits downloaded through the other.
    let guid = a.create_droplet().await;
    let bits = small_droplet();
    let response = a.post_form(&guid, Multipart::new().file("bits", "droplet.tgz", &bits)).await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let job = b.wait_for_job(&location).await;
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    let droplet = b.droplet(&guid).await;
    assert_eq!(droplet.state, types::DropletState::Staged);
    // The bucket serves the bits, through a URL the other replica presigned.
    assert_eq!(b.download_bits(&guid).await, bits);

    // A droplet uploaded by one cannot be uploaded again through the other.
    let again = b.post_form(&guid, Multipart::new().file("bits", "droplet.tgz", &bits)).await;
    assert_eq!(assert_cf_error(again, 422, 10008, "CF-UnprocessableEntity").await, ONLY_ONCE);

    // Deleted through the other; the delete job read through the first.
    let response =
        b.request(reqwest::Method::DELETE, &format!("/v3/droplets/{guid}")).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let job = a.wait_for_job(&location).await;
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    let response = a.get(&format!("/v3/droplets/{guid}")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(!a.blob_path(&guid).exists());
}

/// A 1 MiB droplet as a form, of which a test sends only a part.
fn large_form() -> Multipart {
    let bits = tarball(&[("./app/blob.bin", &random_bytes(1024 * 1024))]);
    Multipart::new().file("bits", "droplet.tgz", &bits)
}

#[tokio::test]
async fn a_replica_killed_mid_upload_and_mid_job_leaves_nothing_stuck() {
    let mut replicas = TestServer::start_replicas(2);
    let mut uploaded = BTreeMap::new();

    // Droplets staged through the first replica, some of which it is deleting when it dies.
    let mut deleting = Vec::new();
    for _ in 0..3 {
        let guid = replicas[0].create_droplet().await;
        let bits = small_droplet();
        let job = replicas[0].upload_and_wait(&guid, &bits).await;
        assert_eq!(job.state, types::JobState::Complete, "{job:?}");
        uploaded.insert(guid.clone(), bits);
        deleting.push(guid);
    }
    let a = &replicas[0];
    // An upload still streaming into the first replica.
    let streaming = a.create_droplet().await;
    let _connection = a.start_partial_upload(&streaming, large_form(), 300 * 1024).await;
    // An upload whose job the first replica is running.
    let processing = a.create_droplet().await;
    let bits = tarball(&[("./app/blob.bin", &random_bytes(16 * 1024 * 1024))]);
    let response =
        a.post_form(&processing, Multipart::new().file("bits", "droplet.tgz", &bits)).await;
    assert_eq!(response.status(), 202);
    let mut locations = vec![response.headers()["location"].to_str().unwrap().to_owned()];
    uploaded.insert(processing.clone(), bits);
    // Deletes whose jobs the first replica is running.
    let deletes = deleting
        .iter()
        .map(|guid| a.request(reqwest::Method::DELETE, &format!("/v3/droplets/{guid}")).send());
    for response in futures::future::join_all(deletes).await {
        let response = response.unwrap();
        assert_eq!(response.status(), 202);
        locations.push(response.headers()["location"].to_str().unwrap().to_owned());
    }

    replicas[0].kill();
    let b = &replicas[1];

    // Every job of the dead replica ends, through the survivor, once its lease runs out.
    for location in &locations {
        let job = b.wait_for_job(location).await;
        assert_ne!(job.state, types::JobState::Processing);
    }
    eventually("no job PROCESSING", || async {
        b.query("SELECT COUNT(*) FROM jobs WHERE state = 'PROCESSING'") == "0"
    })
    .await;
    for guid in &deleting {
        let response = b.get(&format!("/v3/droplets/{guid}")).send().await.unwrap();
        assert_eq!(response.status(), 404);
    }

    // Every droplet is STAGED with its bits, or awaits them, or FAILED with an error; every
    // blob belongs to a STAGED droplet.
    let list: Value =
        b.get("/v3/droplets?per_page=100").send().await.unwrap().json().await.unwrap();
    let mut staged = Vec::new();
    for droplet in list["resources"].as_array().unwrap() {
        let guid = droplet["guid"].as_str().unwrap();
        match droplet["state"].as_str().unwrap() {
            "STAGED" => {
                let sha256 = droplet["checksum"]["value"].as_str().unwrap();
                assert_eq!(sha256, sha256_hex(&uploaded[guid]), "{droplet:#}");
                let stored =
                    std::fs::read(b.blob_path(guid)).expect("the blob of a STAGED droplet");
                assert_eq!(sha256_hex(&stored), sha256);
                staged.push(guid.to_owned());
            }
            "AWAITING_UPLOAD" => assert_eq!(guid, streaming, "{droplet:#}"),
            "FAILED" => {
                assert_eq!(guid, processing, "{droplet:#}");
                assert!(!droplet["error"].as_str().unwrap().is_empty(), "{droplet:#}");
            }
            other => panic!("a droplet is {other} after its replica died: {droplet:#}"),
        }
    }
    let blobs: Vec<String> = b
        .blob_files()
        .into_iter()
        .filter_map(|path| path.strip_prefix("droplets").ok().map(|p| p.display().to_string()))
        .collect();
    staged.sort();
    assert_eq!(blobs, staged, "objects and STAGED droplets differ");

    // The survivor took the interrupted upload's lapsed claim over and aborted its multipart
    // upload; the upload job's was aborted when the job was settled.
    eventually("no pending multipart upload", || async { b.partial_blobs().is_empty() }).await;
    eventually("no upload claimed or pending", || async {
        b.query("SELECT COUNT(*) FROM droplets WHERE upload_claim IS NOT NULL OR pending_blob IS NOT NULL")
            == "0"
    })
    .await;
    assert!(b.log().contains("discarding an upload whose server process is gone"));
    // The droplet takes bits through the survivor.
    b.upload_succeeds(&streaming).await;

    // The dead replica comes back and serves again.
    replicas[0].kill_and_restart();
    replicas[0].upload_succeeds(&replicas[0].create_droplet().await).await;
    assert!(replicas[0].partial_blobs().is_empty(), "{:?}", replicas[0].partial_blobs());
}

/// Jobs left by a replica that is gone (made by hand in the database: a dead owner, a lease about
/// to run out) are taken over by exactly one of the live replicas and settled: the upload failed
/// and its blob removed, the delete finished, the copy made, and the copy whose source went
/// failed.
#[tokio::test]
async fn abandoned_jobs_are_settled_once_by_one_replica() {
    let replicas = TestServer::start_replicas(2);
    let (a, b) = (&replicas[0], &replicas[1]);
    let (source, bits) = crate::copy::staged(a).await;
    let uploading = a.create_droplet().await;
    let deleted = uuid::Uuid::new_v4().to_string();
    for guid in [&uploading, &deleted] {
        std::fs::create_dir_all(a.blob_path(guid).parent().unwrap()).unwrap();
        std::fs::write(a.blob_path(guid), small_droplet()).unwrap();
    }
    let [upload_job, delete_job, copy_job, orphan_copy_job] =
        std::array::from_fn(|_| uuid::Uuid::new_v4());
    let [copying, orphan_copy, gone_source] = std::array::from_fn(|_| uuid::Uuid::new_v4());
    let app = uuid::Uuid::new_v4();
    let now = chrono::Utc::now();
    let (secs, expires) = (now.timestamp(), now.timestamp_millis() + 1000);
    a.query(&format!(
        "UPDATE droplets SET state = 'PROCESSING_UPLOAD' WHERE guid = '{uploading}';
         INSERT INTO droplets (guid, app_guid, state, process_types, labels, annotations,
             created_at, updated_at)
         VALUES ('{copying}', '{app}', 'COPYING', '{{}}', '{{}}', '{{}}', {secs}, {secs}),
                ('{orphan_copy}', '{app}', 'COPYING', '{{}}', '{{}}', '{{}}', {secs}, {secs});
         INSERT INTO jobs (guid, operation, state, droplet_guid, source_guid, errors, created_at,
             updated_at, owner, lease_expires_ms)
         VALUES ('{upload_job}', 'droplet.upload', 'PROCESSING', '{uploading}', NULL, '[]',
                 {secs}, {secs}, 'a-dead-replica', {expires}),
                ('{delete_job}', 'droplet.delete', 'PROCESSING', '{deleted}', NULL, '[]',
                 {secs}, {secs}, 'a-dead-replica', {expires}),
                ('{copy_job}', 'droplet.copy', 'PROCESSING', '{copying}', '{source}', '[]',
                 {secs}, {secs}, 'a-dead-replica', {expires}),
                ('{orphan_copy_job}', 'droplet.copy', 'PROCESSING', '{orphan_copy}',
                 '{gone_source}', '[]', {secs}, {secs}, 'a-dead-replica', {expires})"
    ));

    let job = b.wait_for_job(&format!("/v3/jobs/{upload_job}")).await;
    assert_eq!(job.state, types::JobState::Failed, "{job:?}");
    let droplet = a.droplet(&uploading).await;
    assert_eq!(droplet.state, types::DropletState::Failed);
    assert_eq!(droplet.error.as_deref(), Some(job.errors[0].detail.as_str()));
    assert!(!a.blob_path(&uploading).exists(), "a FAILED droplet kept its blob");
    let job = a.wait_for_job(&format!("/v3/jobs/{delete_job}")).await;
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    assert!(!a.blob_path(&deleted).exists(), "a deleted droplet kept its blob");

    // The copy is finished from the source its job names; the one whose source is gone fails
    // as a copy does.
    let copied = crate::copy::settled(b, &copying.to_string()).await;
    assert_eq!(copied["state"], "STAGED", "{copied:#}");
    assert_eq!(copied["checksum"]["value"], sha256_hex(&bits));
    assert_eq!(std::fs::read(a.blob_path(&copying.to_string())).unwrap(), bits);
    let orphan = crate::copy::settled(a, &orphan_copy.to_string()).await;
    assert_eq!(orphan["state"], "FAILED", "{orphan:#}");
    assert_eq!(orphan["error"], "failed to copy - source droplet does not exist or is not staged");
    assert!(!a.blob_path(&orphan_copy.to_string()).exists());
    for job in [copy_job, orphan_copy_job] {
        eventually("the copy job to end", || async {
            a.query(&format!("SELECT state FROM jobs WHERE guid = '{job}'")) != "PROCESSING"
        })
        .await;
    }

    // One replica settled each job; the other never touched it.
    for job in [upload_job, delete_job, copy_job, orphan_copy_job] {
        let settled = |server: &TestServer| {
            server
                .log()
                .lines()
                .filter(|line| line.contains("settling a job"))
                .filter(|line| line.contains(&job.to_string()))
                .count()
        };
        assert_eq!(settled(a) + settled(b), 1, "job {job} settled other than once");
    }
}

/// Copies requested from a replica that is killed as soon as it answered: whatever it had done,
/// the other replica finishes every one from its source, once the dead one's leases run out.
#[tokio::test]
async fn copies_of_a_killed_replica_are_finished_by_another() {
    let mut replicas = TestServer::start_replicas(2);
    // Big enough that the store takes a while over each copy.
    let source = replicas[0].create_droplet().await;
    let bits = tarball(&[("./app/blob.bin", &random_bytes(48 * 1024 * 1024))]);
    let job = replicas[0].upload_and_wait(&source, &bits).await;
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    let app = uuid::Uuid::new_v4().to_string();
    let token = replicas[0].token(&[READ, WRITE]);
    let body = crate::copy::copy_body(&app);
    let requests = (0..4).map(|_| crate::copy::copy(&replicas[0], &source, &body, &token));
    let mut copies = Vec::new();
    for response in futures::future::join_all(requests).await {
        assert_eq!(response.status(), 201);
        let created: Value = response.json().await.unwrap();
        copies.push(created["guid"].as_str().unwrap().to_owned());
    }
    replicas[0].kill();

    let b = &replicas[1];
    for guid in &copies {
        let droplet = crate::copy::settled(b, guid).await;
        assert_eq!(droplet["state"], "STAGED", "{droplet:#}");
        assert_eq!(droplet["checksum"]["value"], sha256_hex(&bits));
        assert_eq!(b.download_bits(guid).await, bits);
    }
    assert_eq!(b.query("SELECT COUNT(*) FROM jobs WHERE state = 'PROCESSING'"), "0");
}
