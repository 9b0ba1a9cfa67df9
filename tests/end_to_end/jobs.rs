//! Upload jobs: their shape and links, and 404 for jobs that do not exist.

use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
pub async fn job_has_the_reference_shape() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let job = server.upload_and_wait(&guid, &small_droplet()).await;

    let response = server.get(&format!("/v3/jobs/{}", job.guid)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let order = KeyOrder::parse(&text);
    assert_eq!(
        order.names(),
        ["guid", "created_at", "updated_at", "operation", "state", "errors", "warnings", "links"]
    );
    assert_eq!(order.get("links").names(), ["self", "droplet"]);

    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["guid"], job.guid.to_string());
    assert_cf_timestamp(&body["created_at"]);
    assert_cf_timestamp(&body["updated_at"]);
    assert_eq!(body["operation"], "droplet.upload");
    assert_eq!(body["state"], "COMPLETE");
    assert_eq!(body["errors"], json!([]));
    assert_eq!(body["warnings"], json!([]));
    assert_eq!(
        body["links"],
        json!({
            "self": { "href": server.url(&format!("/v3/jobs/{}", job.guid)) },
            "droplet": { "href": server.url(&format!("/v3/droplets/{guid}")) },
        })
    );
}

#[tokio::test]
pub async fn failed_job_lists_its_error() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let job = server.upload_and_wait(&guid, b"definitely not gzip").await;
    let body: Value =
        server.get(&format!("/v3/jobs/{}", job.guid)).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["state"], "FAILED");
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body:#}");
    assert_eq!(keys(&errors[0]), ["code", "detail", "title"]);
    assert_eq!(errors[0]["code"], 10008);
    assert_eq!(errors[0]["title"], "CF-UnprocessableEntity");
}

#[tokio::test]
async fn unknown_job_is_404() {
    let server = TestServer::start();
    for guid in ["unknown".to_owned(), uuid::Uuid::new_v4().to_string()] {
        let response = server.get(&format!("/v3/jobs/{guid}")).send().await.unwrap();
        let detail = assert_cf_error(response, 404, 10010, "CF-ResourceNotFound").await;
        assert_eq!(detail, "Job not found");
    }
}
