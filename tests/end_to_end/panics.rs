//! A panic in a job or in an upload's worker fails that job and its droplet with a reason and an
//! error line naming both, and the server goes on serving. The panics are faults the debug build
//! of the server injects when `DROPLET_TEST_PANIC_IN` names them (the server's `faults.rs`); a
//! release build ignores the variable, so these tests run only against a debug build.

use droplet_client::types;

use crate::common::*;

/// A server whose code panics at these fault points.
fn panicking_in(points: &str) -> TestServer {
    TestServer::start_with_env("", &[("DROPLET_TEST_PANIC_IN", points)])
}

/// The error lines of the server's log that name `guid`.
fn error_lines_naming(server: &TestServer, guid: &str) -> Vec<String> {
    let log = server.log();
    let lines = log.lines().filter(|line| line.contains(" ERRO ") && line.contains(guid));
    lines.map(str::to_owned).collect()
}

#[tokio::test]
#[cfg_attr(not(debug_assertions), ignore = "faults are injected only into debug builds")]
async fn a_panic_in_the_upload_check_fails_the_upload_and_the_server_goes_on() {
    let server = panicking_in("upload-inspection");
    let guid = server.create_droplet().await;
    let job = server.upload_and_wait(&guid, &small_droplet()).await;
    assert_eq!(job.state, types::JobState::Failed, "{job:?}");
    assert_eq!((job.errors[0].code, job.errors[0].title.as_str()), (10001, "UnknownError"));
    assert!(job.errors[0].detail.contains("failed unexpectedly"), "{job:?}");
    let droplet = server.droplet(&guid).await;
    assert_eq!(droplet.state, types::DropletState::Failed);
    assert_eq!(droplet.error.as_deref(), Some(job.errors[0].detail.as_str()));
    server.wait_for_empty_blobstore().await;
    let errors = error_lines_naming(&server, &guid);
    assert!(
        errors.iter().any(|line| line.contains("panicked") && line.contains(&job.guid.to_string())),
        "no error line names the droplet and its job: {errors:?}"
    );

    // The server goes on: the failed droplet is deleted, and a new one is created and read.
    let response = server.request(reqwest::Method::DELETE, &format!("/v3/droplets/{guid}"));
    let response = response.send().await.unwrap();
    assert_eq!(response.status(), 202);
    let job = server.wait_for_job(response.headers()["location"].to_str().unwrap()).await;
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    let other = server.create_droplet().await;
    assert_eq!(server.droplet(&other).await.state, types::DropletState::AwaitingUpload);
}

/// The runner catches a panic of any job: here a copy's, whose droplet ends `FAILED` instead of
/// `COPYING` for good.
#[tokio::test]
#[cfg_attr(not(debug_assertions), ignore = "faults are injected only into debug builds")]
async fn a_panic_in_a_job_fails_it_and_its_droplet_and_the_server_goes_on() {
    let server = panicking_in("copy-job");
    let (source, bits) = crate::copy::staged(&server).await;
    let app = uuid::Uuid::new_v4().to_string();
    let token = server.token(&[READ, WRITE]);
    let response = crate::copy::copy(&server, &source, &crate::copy::copy_body(&app), &token).await;
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    let copy = created["guid"].as_str().unwrap().to_owned();

    let droplet = crate::copy::settled(&server, &copy).await;
    assert_eq!(droplet["state"], "FAILED", "{droplet:#}");
    let error = droplet["error"].as_str().unwrap();
    assert!(error.contains("failed unexpectedly"), "{error}");
    let errors = error_lines_naming(&server, &copy);
    assert!(
        errors.iter().any(|line| line.contains("panicked")),
        "no error line names the droplet: {errors:?}"
    );

    // The server goes on: the source is whole, and another droplet is uploaded.
    assert_eq!(server.download_bits(&source).await, bits);
    let other = server.create_droplet().await;
    server.upload_succeeds(&other).await;
}
