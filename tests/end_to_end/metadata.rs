//! Labels and annotations: `PATCH /v3/droplets/{guid}`, metadata on creation, the Cloud
//! Controller's key and value rules with its messages, and creation's `process_types` rules.

use serde_json::{Value, json};

use crate::common::*;

pub async fn patch(server: &TestServer, guid: &str, body: Value) -> reqwest::Response {
    server
        .request(reqwest::Method::PATCH, &format!("/v3/droplets/{guid}"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn post(server: &TestServer, body: Value) -> reqwest::Response {
    server.request(reqwest::Method::POST, "/v3/droplets").json(&body).send().await.unwrap()
}

fn create_body() -> Value {
    json!({ "relationships": { "app": { "data": { "guid": uuid::Uuid::new_v4() } } } })
}

async fn selected(server: &TestServer, selector: &str) -> u64 {
    let query = droplet_client::DropletQuery {
        label_selector: Some(selector.to_owned()),
        ..Default::default()
    };
    let page = server.client().list_droplets(&query).await.unwrap();
    page.pagination.total_results
}

#[tokio::test]
pub async fn patch_adds_changes_and_deletes_keys() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let response = patch(
        &server,
        &guid,
        json!({ "metadata": {
            "labels": { "env": "prod", "example.com/tier": "web", "empty": "" },
            "annotations": { "note": "anything at all: / ! ?", "example.com/owner": "team a" },
        } }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let droplet: Value = response.json().await.unwrap();
    assert_eq!(
        droplet["metadata"],
        json!({
            "labels": { "env": "prod", "example.com/tier": "web", "empty": "" },
            "annotations": { "note": "anything at all: / ! ?", "example.com/owner": "team a" },
        })
    );
    assert_eq!(server.droplet_json(&guid).await["metadata"], droplet["metadata"]);
    assert_eq!(selected(&server, "env=prod").await, 1);

    // Change one, delete others with null, leave the rest alone: through the generated client.
    let update = droplet_client::types::DropletUpdate {
        metadata: Some(droplet_client::types::MetadataUpdate {
            labels: Some(
                [("env".to_owned(), Some("dev".to_owned())), ("empty".to_owned(), None)].into(),
            ),
            annotations: Some([("note".to_owned(), None)].into()),
        }),
    };
    let updated = server.client().droplet_update(&guid, &update).await.unwrap().into_inner();
    assert_eq!(updated.metadata.labels.get("env").map(String::as_str), Some("dev"));
    assert!(!updated.metadata.labels.contains_key("empty"));
    assert_eq!(updated.metadata.labels.len(), 2);
    assert_eq!(
        updated.metadata.annotations,
        [("example.com/owner".to_owned(), "team a".to_owned())].into()
    );
    // Label selectors follow the change.
    assert_eq!(selected(&server, "env=prod").await, 0);
    assert_eq!(selected(&server, "env=dev").await, 1);
    assert_eq!(selected(&server, "empty").await, 0);

    // Deleting a key that is not there, and an empty update, change nothing.
    let response =
        patch(&server, &guid, json!({ "metadata": { "labels": { "nope": null } } })).await;
    assert_eq!(response.status(), 200);
    let response = patch(&server, &guid, json!({})).await;
    assert_eq!(response.status(), 200);
    let after: Value = response.json().await.unwrap();
    assert_eq!(after["metadata"]["labels"], json!({ "env": "dev", "example.com/tier": "web" }));
}

#[tokio::test]
pub async fn rule_violations_are_422_and_change_nothing() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let response =
        patch(&server, &guid, json!({ "metadata": { "labels": { "keep": "me" } } })).await;
    assert_eq!(response.status(), 200);
    let before = server.droplet_json(&guid).await;

    let long_prefix = vec!["a".repeat(60); 5].join(".");
    let cases = [
        (json!({ "labels": { "": "v" } }), "Metadata label key error: key cannot be empty string"),
        (
            json!({ "labels": { "a/b/c": "v" } }),
            "Metadata label key error: key has more than one '/'",
        ),
        (
            json!({ "labels": { "-bad.com/k": "v" } }),
            "Metadata label key error: prefix '-bad.com' must be in valid dns format",
        ),
        (
            json!({ "labels": { format!("{long_prefix}/k"): "v" } }),
            "Metadata label key error: prefix 'aaaaaaaa...' is greater than 253 characters",
        ),
        (
            json!({ "labels": { "cloudfoundry.org/k": "v" } }),
            "Metadata label key error: prefix 'cloudfoundry.org' is reserved",
        ),
        (
            json!({ "labels": { "x.com/": "v" } }),
            "Metadata label key error: key cannot be empty string",
        ),
        (
            json!({ "labels": { "a b": "v" } }),
            "Metadata label key error: 'a b' contains invalid characters",
        ),
        (
            json!({ "labels": { "_k": "v" } }),
            "Metadata label key error: '_k' starts or ends with invalid characters",
        ),
        (
            json!({ "labels": { "k".repeat(64): "v" } }),
            "Metadata label key error: 'kkkkkkkk...' is greater than 63 characters",
        ),
        (
            json!({ "labels": { "k": "a b" } }),
            "Metadata label value error: 'a b' contains invalid characters",
        ),
        (
            json!({ "labels": { "k": "v-" } }),
            "Metadata label value error: 'v-' starts or ends with invalid characters",
        ),
        (
            json!({ "labels": { "k": "v".repeat(64) } }),
            "Metadata label value error: 'vvvvvvvv...' is greater than 63 characters",
        ),
        (
            json!({ "annotations": { "a b": "v" } }),
            "Metadata annotation key error: 'a b' contains invalid characters",
        ),
        (
            json!({ "annotations": { "cloudfoundry.org/a": "v" } }),
            "Metadata annotation key error: prefix 'cloudfoundry.org' is reserved",
        ),
        (
            json!({ "annotations": { "k": "x".repeat(5001) } }),
            "Metadata annotation value error: 'xxxxxxxx...' is greater than 5000 characters",
        ),
        (
            json!({ "labels": { "a b": "-v" }, "annotations": { "ok": "fine" } }),
            "Metadata label key error: 'a b' contains invalid characters, \
             Metadata label value error: '-v' starts or ends with invalid characters",
        ),
    ];
    for (metadata, expected) in cases {
        let response = patch(&server, &guid, json!({ "metadata": metadata })).await;
        let detail = assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
        assert_eq!(detail, expected, "{metadata}");
        // Creation applies the same rules.
        let mut body = create_body();
        body["metadata"] = metadata.clone();
        let detail =
            assert_cf_error(post(&server, body).await, 422, 10008, "CF-UnprocessableEntity").await;
        assert_eq!(detail, expected, "{metadata}");
    }
    // Values at the limits are fine; an annotation deleted under any key is fine.
    let response = patch(
        &server,
        &guid,
        json!({ "metadata": {
            "labels": { "k".repeat(63): "v".repeat(63) },
            "annotations": { "k": "x".repeat(5000), "a b": null },
        } }),
    )
    .await;
    assert_eq!(response.status(), 200);

    // Shapes the message cannot hold, and unknown fields.
    for (body, expected) in [
        (
            json!({ "metadata": { "labels": { "k": "v" } }, "image": "x" }),
            Some("Unknown field(s): 'image'"),
        ),
        (json!({ "metadata": { "labels": "x" } }), None),
        (json!({ "metadata": { "labels": { "k": 1 } } }), None),
    ] {
        let response = patch(&server, &guid, body.clone()).await;
        let detail = assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
        if let Some(expected) = expected {
            assert_eq!(detail, expected, "{body}");
        }
    }
    let mut after = server.droplet_json(&guid).await;
    assert_eq!(after["metadata"]["labels"]["keep"], "me");
    after["metadata"] = before["metadata"].clone();
    after["updated_at"] = before["updated_at"].clone();
    assert_eq!(after, before);
}

#[tokio::test]
async fn patch_checks_existence_then_scope() {
    let server = TestServer::start();
    let body = json!({ "metadata": { "labels": { "k": "v" } } });
    for guid in [uuid::Uuid::new_v4().to_string(), "not-a-guid".to_owned()] {
        let response = patch(&server, &guid, body.clone()).await;
        let detail = assert_cf_error(response, 404, 10010, "CF-ResourceNotFound").await;
        assert_eq!(detail, "Droplet not found");
    }
    let guid = server.create_droplet().await;
    let response = server
        .raw()
        .patch(server.url(&format!("/v3/droplets/{guid}")))
        .header("authorization", format!("bearer {}", server.token(&[READ])))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_cf_error(response, 403, 10003, "CF-NotAuthorized").await;
    let response = server
        .raw()
        .patch(server.url(&format!("/v3/droplets/{guid}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_cf_error(response, 401, 10002, "CF-NotAuthenticated").await;
    assert_eq!(server.droplet_json(&guid).await["metadata"]["labels"], json!({}));
    // Admins may.
    let updated = server
        .client_with(&server.token(&[ADMIN]))
        .droplet_update(
            &guid,
            &droplet_client::types::DropletUpdate {
                metadata: Some(droplet_client::types::MetadataUpdate {
                    labels: Some([("k".to_owned(), Some("v".to_owned()))].into()),
                    annotations: None,
                }),
            },
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.metadata.labels.get("k").map(String::as_str), Some("v"));
}

#[tokio::test]
pub async fn create_takes_metadata_and_checks_process_types() {
    let server = TestServer::start();
    let mut body = create_body();
    body["metadata"] = json!({
        "labels": { "env": "prod", "gone": null },
        "annotations": { "example.com/why": "because" },
    });
    let response = post(&server, body).await;
    assert_eq!(response.status(), 201);
    let droplet: Value = response.json().await.unwrap();
    assert_eq!(
        droplet["metadata"],
        json!({ "labels": { "env": "prod" }, "annotations": { "example.com/why": "because" } })
    );
    assert_eq!(selected(&server, "env=prod").await, 1);

    // Through the generated client.
    let created = server
        .client()
        .droplet_create(
            None,
            &droplet_client::types::DropletCreate {
                relationships: app_relationship(),
                process_types: Some([("worker".to_owned(), "run".to_owned())].into()),
                metadata: Some(droplet_client::types::MetadataUpdate {
                    labels: Some([("env".to_owned(), Some("prod".to_owned()))].into()),
                    annotations: None,
                }),
            },
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.metadata.labels.get("env").map(String::as_str), Some("prod"));
    assert_eq!(selected(&server, "env=prod").await, 2);

    for (extra, expected) in [
        (json!({ "process_types": { "": "run" } }), Some("Process types key must not be empty")),
        (
            json!({ "process_types": { "": "run" }, "metadata": { "labels": { "a b": "" } } }),
            Some(
                "Process types key must not be empty, \
                 Metadata label key error: 'a b' contains invalid characters",
            ),
        ),
        (json!({ "process_types": { "web": 1 } }), None),
        (json!({ "process_types": "web" }), None),
        (json!({ "lifecycle": {} }), Some("Unknown field(s): 'lifecycle'")),
        (json!({ "foo": 1, "bar": 2 }), Some("Unknown field(s): 'bar', 'foo'")),
    ] {
        let mut body = create_body();
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        let detail = assert_cf_error(
            post(&server, body.clone()).await,
            422,
            10008,
            "CF-UnprocessableEntity",
        )
        .await;
        if let Some(expected) = expected {
            assert_eq!(detail, expected, "{body}");
        }
    }
    // Nothing was created by the rejected requests.
    let page = server.client().list_droplets(&Default::default()).await.unwrap();
    assert_eq!(page.pagination.total_results, 2);
}
