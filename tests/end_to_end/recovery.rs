//! Uploads that never complete, and restarts: nothing stuck, nothing partial, nothing lost.

use droplet_client::types;
use serde_json::Value;

use crate::common::*;

/// A 1 MiB droplet as a form, of which a test sends only a part.
fn large_form() -> Multipart {
    let bits = tarball(&[("./app/blob.bin", &random_bytes(1024 * 1024))]);
    Multipart::new().file("bits", "droplet.tgz", &bits)
}

#[tokio::test]
pub async fn upload_dropped_by_the_client_leaves_the_droplet_awaiting_upload() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let connection = server.start_partial_upload(&guid, large_form(), 300 * 1024).await;
    // While the bits stream in, the droplet still awaits them as far as anyone can see.
    assert_eq!(server.droplet_json(&guid).await["state"], "AWAITING_UPLOAD");

    // The client goes away mid-body.
    drop(connection);
    eventually("the partial blob to be removed", || async { server.partial_blobs().is_empty() })
        .await;
    server.assert_untouched(&guid).await;
}

#[tokio::test]
async fn server_killed_mid_upload_recovers_on_restart() {
    let mut server = TestServer::start();
    let guid = server.create_droplet().await;
    let _connection = server.start_partial_upload(&guid, large_form(), 300 * 1024).await;

    server.kill_and_restart();
    assert!(server.partial_blobs().is_empty(), "{:?}", server.partial_blobs());
    server.assert_untouched(&guid).await;
}

/// Killed right after the 202, while the job stores the bits: after the restart the job and the
/// droplet agree, and the blobstore with them, whichever way the job went. Nothing stays
/// `PROCESSING`.
#[tokio::test]
pub async fn server_killed_while_the_job_runs_is_consistent_after_restart() {
    let mut server = TestServer::start();
    let guid = server.create_droplet().await;
    let bits = tarball(&[("./app/blob.bin", &random_bytes(16 * 1024 * 1024))]);
    let response =
        server.post_form(&guid, Multipart::new().file("bits", "droplet.tgz", &bits)).await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();

    server.kill_and_restart();
    // The job guid outlives the port: the Location named the old one.
    let job = server.wait_for_job(&location).await;
    let droplet = server.droplet(&guid).await;
    match job.state {
        types::JobState::Complete => {
            assert_eq!(droplet.state, types::DropletState::Staged);
            assert_eq!(droplet.checksum.unwrap().value, sha256_hex(&bits));
            let stored = std::fs::read(server.blob_path(&guid)).unwrap();
            assert_eq!(sha256_hex(&stored), sha256_hex(&bits));
        }
        _ => {
            assert_eq!(droplet.state, types::DropletState::Failed, "{job:?}");
            assert_eq!(droplet.error.as_deref(), Some(job.errors[0].detail.as_str()));
            assert!(!server.blob_path(&guid).exists(), "a FAILED droplet kept its blob");
        }
    }
    println!("killed mid-job: the job ended {:?}", job.state);
    assert!(server.partial_blobs().is_empty());
}

#[tokio::test]
pub async fn droplets_and_jobs_survive_a_restart() {
    let mut server = TestServer::start();
    let staged = server.create_droplet().await;
    let bits = small_droplet();
    let staged_job = server.upload_and_wait(&staged, &bits).await;
    let failed = server.create_droplet().await;
    let failed_job = server.upload_and_wait(&failed, b"not gzip").await;
    let awaiting = server.create_droplet().await;

    let paths = [
        format!("/v3/droplets/{staged}"),
        format!("/v3/droplets/{failed}"),
        format!("/v3/droplets/{awaiting}"),
        format!("/v3/jobs/{}", staged_job.guid),
        format!("/v3/jobs/{}", failed_job.guid),
    ];
    let before = documents(&server, &paths).await;
    let old_base = server.base_url.clone();

    server.kill_and_restart();
    // Links now name the new port; everything else is as it was.
    let before = before.replace(&old_base, &server.base_url);
    assert_eq!(documents(&server, &paths).await, before);

    let response = server.get(&format!("/v3/droplets/{staged}/download")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), bits);
    server.upload_succeeds(&awaiting).await;
}

/// The JSON documents at `paths`, as one string.
async fn documents(server: &TestServer, paths: &[String]) -> String {
    let mut all = Vec::new();
    for path in paths {
        let response = server.get(path).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        all.push(response.json::<Value>().await.unwrap());
    }
    serde_json::to_string_pretty(&all).unwrap()
}

/// Jobs whose rows name no droplet (the server never writes one) are failed alone when recovery
/// takes them over, whatever their operation: no droplet and no blob is touched, and the server
/// serves on.
#[tokio::test]
async fn jobs_naming_no_droplet_are_failed_alone() {
    let mut server = TestServer::start();
    let (staged, awaiting) = (server.create_droplet().await, server.create_droplet().await);
    let job = server.upload_and_wait(&staged, &small_droplet()).await;
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    let jobs: [uuid::Uuid; 3] = std::array::from_fn(|_| uuid::Uuid::new_v4());
    let rows: Vec<String> = ["droplet.upload", "droplet.delete", "droplet.copy"]
        .iter()
        .zip(&jobs)
        .map(|(operation, job)| {
            let source = match *operation {
                "droplet.copy" => format!("'{staged}'"),
                _ => "NULL".to_owned(),
            };
            abandoned_job(job, operation, "NULL", &source)
        })
        .collect();
    let droplets = [format!("/v3/droplets/{staged}"), format!("/v3/droplets/{awaiting}")];
    let (before, blobs, old_base) =
        (documents(&server, &droplets).await, server.blob_files(), server.base_url.clone());

    restart_with(&mut server, &format!("{INSERT_JOBS} {}", rows.join(", "))).await;
    for job in jobs {
        let job = server.client().job_get(&job.to_string()).await.expect("the job").into_inner();
        assert_eq!(job.state, types::JobState::Failed, "{job:?}");
        assert!(job.errors[0].detail.contains("its record names no droplet"), "{job:?}");
    }
    let log = server.log();
    assert_eq!(log.matches("an abandoned job names no droplet").count(), 3, "{log}");
    assert_eq!(documents(&server, &droplets).await, before.replace(&old_base, &server.base_url));
    assert_eq!(server.blob_files(), blobs);
    server.upload_succeeds(&awaiting).await;
}

/// A job row with a malformed guid in it cannot be read back: recovery logs it, naming the column
/// and the value, and leaves it as it is, since settling what cannot be read could only guess. The
/// other jobs are settled all the same, and the server starts and serves.
#[tokio::test]
async fn a_job_row_that_cannot_be_read_keeps_no_other_job_from_recovery() {
    let mut server = TestServer::start();
    let (uploading, copying) = (server.create_droplet().await, server.create_droplet().await);
    let [bad_droplet, bad_source, upload] = std::array::from_fn(|_| uuid::Uuid::new_v4());
    let rows = [
        abandoned_job(&bad_droplet, "droplet.delete", "'not-a-guid'", "NULL"),
        abandoned_job(&bad_source, "droplet.copy", &format!("'{copying}'"), "'a-lost-source'"),
        abandoned_job(&upload, "droplet.upload", &format!("'{uploading}'"), "NULL"),
    ];
    restart_with(
        &mut server,
        &format!(
            "UPDATE droplets SET state = 'PROCESSING_UPLOAD' WHERE guid = '{uploading}';
             UPDATE droplets SET state = 'COPYING' WHERE guid = '{copying}';
             {INSERT_JOBS} {}",
            rows.join(", ")
        ),
    )
    .await;

    let job = server.wait_for_job(&format!("/v3/jobs/{upload}")).await;
    assert_eq!(job.state, types::JobState::Failed, "{job:?}");
    assert_eq!(server.droplet(&uploading).await.state, types::DropletState::Failed);
    let log = server.log();
    for (job, column, value) in
        [(bad_droplet, "droplet_guid", "not-a-guid"), (bad_source, "source_guid", "a-lost-source")]
    {
        let line = log.lines().find(|line| line.contains(&job.to_string()));
        let line = line.unwrap_or_else(|| panic!("no line names {job}:\n{log}"));
        assert!(line.contains("an abandoned job's row cannot be read"), "{line}");
        assert!(line.contains(&format!("bad {column} in database")), "{line}");
        assert!(line.contains(value), "{line}");
        let state = sqlite(&server, &format!("SELECT state FROM jobs WHERE guid = '{job}'")).await;
        assert_eq!(state, "PROCESSING");
        // The job cannot be shown, but the server answers.
        let response = server.get(&format!("/v3/jobs/{job}")).send().await.unwrap();
        assert_eq!(response.status(), 500);
    }
    assert_eq!(server.droplet_json(&copying).await["state"], "COPYING");
    let listed = server.get("/v3/droplets").send().await.unwrap();
    assert_eq!(listed.status(), 200);
}

const INSERT_JOBS: &str = "INSERT INTO jobs (guid, operation, state, droplet_guid, source_guid, \
    errors, created_at, updated_at, owner, lease_expires_ms) VALUES";

/// The values of a `PROCESSING` job row of a process that is gone, `droplet` and `source` as SQL.
fn abandoned_job(job: &uuid::Uuid, operation: &str, droplet: &str, source: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    format!(
        "('{job}', '{operation}', 'PROCESSING', {droplet}, {source}, '[]', {now}, {now}, \
         'a-dead-process', NULL)"
    )
}

/// Writes `sql` into the server's SQLite database while the server is stopped, then starts it
/// again: the new process settles what the previous one left before it serves.
async fn restart_with(server: &mut TestServer, sql: &str) {
    use sqlx::Connection;
    server.kill();
    let mut database = sqlite_database(server).await;
    sqlx::raw_sql(sql).execute(&mut database).await.expect(sql);
    database.close().await.expect("closing the database");
    server.kill_and_restart();
}

/// The first column of the first row of a query on the server's SQLite database.
async fn sqlite(server: &TestServer, sql: &str) -> String {
    let mut database = sqlite_database(server).await;
    sqlx::query_scalar(sql).fetch_one(&mut database).await.expect(sql)
}

async fn sqlite_database(server: &TestServer) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    let path = server.data_dir().join("droplets.db");
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("the server's SQLite database")
}
