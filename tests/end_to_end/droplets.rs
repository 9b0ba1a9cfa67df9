//! Creating and reading droplets: the resource's shape, links by state, 404s, body errors.

use serde_json::{Value, json};

use crate::common::*;

fn create_body(app: &str) -> Value {
    json!({ "relationships": { "app": { "data": { "guid": app } } } })
}

#[tokio::test]
pub async fn create_answers_201_with_the_reference_shape() {
    let server = TestServer::start();
    let app = uuid::Uuid::new_v4().to_string();
    let response = server
        .request(reqwest::Method::POST, "/v3/droplets")
        .json(&create_body(&app))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let text = response.text().await.unwrap();

    // Field order as the reference returns it.
    let order = KeyOrder::parse(&text);
    assert_eq!(
        order.names(),
        [
            "guid",
            "created_at",
            "updated_at",
            "state",
            "error",
            "lifecycle",
            "checksum",
            "buildpacks",
            "stack",
            "image",
            "execution_metadata",
            "process_types",
            "relationships",
            "metadata",
            "links",
        ]
    );
    assert_eq!(order.get("links").names(), ["self", "app", "assign_current_droplet", "upload"]);

    let droplet: Value = serde_json::from_str(&text).unwrap();
    let guid = droplet["guid"].as_str().unwrap();
    uuid::Uuid::parse_str(guid).expect("guid is a UUID");
    assert_cf_timestamp(&droplet["created_at"]);
    assert_cf_timestamp(&droplet["updated_at"]);
    assert_eq!(droplet["state"], "AWAITING_UPLOAD");
    assert_eq!(droplet["error"], Value::Null);
    assert_eq!(droplet["lifecycle"], json!({ "type": "buildpack", "data": {} }));
    assert_eq!(droplet["checksum"], Value::Null);
    assert_eq!(droplet["buildpacks"], json!([]));
    assert_eq!(droplet["stack"], Value::Null);
    assert_eq!(droplet["image"], Value::Null);
    assert_eq!(droplet["execution_metadata"], "");
    assert_eq!(droplet["process_types"], json!({ "web": "" }));
    assert_eq!(droplet["relationships"], create_body(&app)["relationships"]);
    assert_eq!(droplet["metadata"], json!({ "labels": {}, "annotations": {} }));
    let base = &server.base_url;
    assert_eq!(
        droplet["links"],
        json!({
            "self": { "href": format!("{base}/v3/droplets/{guid}") },
            "app": { "href": format!("{base}/v3/apps/{app}") },
            "assign_current_droplet": {
                "href": format!("{base}/v3/apps/{app}/relationships/current_droplet"),
                "method": "PATCH",
            },
            "upload": { "href": format!("{base}/v3/droplets/{guid}/upload"), "method": "POST" },
        })
    );

    // GET answers the same resource.
    assert_eq!(server.droplet_json(guid).await, droplet);
}

#[tokio::test]
pub async fn create_keeps_the_given_process_types() {
    let server = TestServer::start();
    let mut body = create_body(&uuid::Uuid::new_v4().to_string());
    let process_types = json!({ "web": "bundle exec rackup", "worker": "bundle exec sidekiq" });
    body["process_types"] = process_types.clone();
    let response =
        server.request(reqwest::Method::POST, "/v3/droplets").json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let droplet: Value = response.json().await.unwrap();
    assert_eq!(droplet["process_types"], process_types);
}

#[tokio::test]
pub async fn links_follow_the_state() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let bits = small_droplet();
    server.upload_and_wait(&guid, &bits).await;

    let staged = server.droplet_json(&guid).await;
    assert_eq!(staged["state"], "STAGED");
    assert_eq!(staged["checksum"], json!({ "type": "sha256", "value": sha256_hex(&bits) }));
    let links = &staged["links"];
    assert_eq!(keys(links), ["app", "assign_current_droplet", "download", "self"]);
    assert_eq!(
        links["download"],
        json!({ "href": server.url(&format!("/v3/droplets/{guid}/download")) })
    );

    // A failed droplet can neither take bits nor give them.
    let failed = server.create_droplet().await;
    server.upload_and_wait(&failed, b"not a gzip stream").await;
    let failed = server.droplet_json(&failed).await;
    assert_eq!(failed["state"], "FAILED");
    assert_eq!(keys(&failed["links"]), ["app", "assign_current_droplet", "self"]);
}

#[tokio::test]
async fn unknown_or_malformed_droplet_guid_is_404() {
    let server = TestServer::start();
    for guid in [uuid::Uuid::new_v4().to_string(), "not-a-guid".to_owned()] {
        let response = server.get(&format!("/v3/droplets/{guid}")).send().await.unwrap();
        let detail = assert_cf_error(response, 404, 10010, "CF-ResourceNotFound").await;
        assert_eq!(detail, "Droplet not found");
    }
}

#[tokio::test]
async fn create_with_invalid_json_is_400() {
    let server = TestServer::start();
    let response = server
        .request(reqwest::Method::POST, "/v3/droplets")
        .header("content-type", "application/json")
        .body(r#"{"relationships": {"app": "#)
        .send()
        .await
        .unwrap();
    let detail = assert_cf_error(response, 400, 1001, "CF-MessageParseError").await;
    assert!(detail.starts_with("Request invalid due to parse error"), "{detail}");
}

/// Valid JSON that is not a valid droplet request is a validation error (422), as in the
/// reference, not a parse error.
#[tokio::test]
async fn create_without_relationships_is_422() {
    let server = TestServer::start();
    let response = server
        .request(reqwest::Method::POST, "/v3/droplets")
        .json(&json!({ "process_types": { "web": "" } }))
        .send()
        .await
        .unwrap();
    assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
}
