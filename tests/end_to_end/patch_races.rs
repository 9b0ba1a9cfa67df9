//! PATCHes at the same time: concurrent changes of distinct keys all survive, and a PATCH racing
//! a DELETE ends in a 404 or a kept change, never a 500 or a droplet brought back.

use serde_json::{Value, json};

use crate::common::*;
use crate::metadata::patch;

/// Clients changing one droplet at once, each its own key.
const CLIENTS: usize = 8;
/// Rounds of each race, so that an interleaving that loses a change has its chances.
const ROUNDS: usize = 4;

#[tokio::test]
pub async fn concurrent_patches_of_distinct_keys_all_survive() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    for round in 0..ROUNDS {
        let patches = (0..CLIENTS).map(|client| {
            let key = format!("r{round}-c{client}");
            let body = json!({ "metadata": {
                "labels": { key.clone(): "yes" },
                "annotations": { key: "noted" },
            }});
            patch(&server, &guid, body)
        });
        for response in futures::future::join_all(patches).await {
            assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        }
    }
    let droplet = server.droplet_json(&guid).await;
    let labels = droplet["metadata"]["labels"].as_object().unwrap();
    let annotations = droplet["metadata"]["annotations"].as_object().unwrap();
    assert_eq!(labels.len(), CLIENTS * ROUNDS, "labels lost: {labels:?}");
    assert_eq!(annotations.len(), CLIENTS * ROUNDS, "annotations lost: {annotations:?}");
    // The rows label selectors read agree with the droplet.
    for key in labels.keys() {
        let page = server.get(&format!("/v3/droplets?label_selector={key}")).send().await;
        let page: Value = page.unwrap().json().await.unwrap();
        assert_eq!(page["pagination"]["total_results"], 1, "selector {key}");
    }
}

#[tokio::test]
pub async fn a_patch_racing_a_delete_is_404_or_kept_and_never_brings_it_back() {
    let server = TestServer::start();
    for _ in 0..ROUNDS * 4 {
        let guid = server.create_droplet().await;
        let body = json!({ "metadata": { "labels": { "raced": "yes" } } });
        let delete = server.request(reqwest::Method::DELETE, &format!("/v3/droplets/{guid}"));
        let (patched, deleted) = tokio::join!(patch(&server, &guid, body), delete.send());
        let status = patched.status().as_u16();
        assert!(matches!(status, 200 | 404), "PATCH: {status} {}", patched.text().await.unwrap());
        assert_eq!(deleted.unwrap().status(), 202);
        let after = server.get(&format!("/v3/droplets/{guid}")).send().await.unwrap();
        assert_eq!(after.status(), 404, "the deleted droplet is back");
    }
    let page = server.get("/v3/droplets?label_selector=raced").send().await.unwrap();
    let page: Value = page.json().await.unwrap();
    assert_eq!(page["pagination"]["total_results"], 0, "labels of deleted droplets: {page}");
}
