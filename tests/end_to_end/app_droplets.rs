//! `GET /v3/apps/{guid}/droplets`: an app's droplets, with the list's filters and pagination,
//! through the generated client and plain HTTP.

use serde_json::{Value, json};

use crate::common::*;

/// A droplet of `app` with these labels; returns its guid.
async fn droplet_of(server: &TestServer, app: &str, labels: Value) -> String {
    let body = json!({
        "relationships": { "app": { "data": { "guid": app } } },
        "metadata": { "labels": labels },
    });
    let response = server.request(reqwest::Method::POST, "/v3/droplets").json(&body).send();
    let created: Value = response.await.unwrap().json().await.unwrap();
    created["guid"].as_str().unwrap().to_owned()
}

#[tokio::test]
pub async fn an_apps_droplets_are_listed_filtered_and_paged() {
    let server = TestServer::start();
    let app = uuid::Uuid::new_v4().to_string();
    let mut mine = Vec::new();
    for tier in ["web", "web", "worker"] {
        mine.push(droplet_of(&server, &app, json!({ "tier": tier })).await);
    }
    droplet_of(&server, &uuid::Uuid::new_v4().to_string(), json!({ "tier": "web" })).await;

    // Through the generated client: only this app's (ordered by creation time, then guid; made
    // within one second, their order is the guids').
    let page = server
        .client()
        .app_droplet_list(
            &app, None, None, None, None, None, None, None, None, None, None, None, None, None,
            None, None, None, None,
        )
        .await
        .unwrap()
        .into_inner();
    let listed: Vec<String> = page.resources.iter().map(|d| d.guid.to_string()).collect();
    let mut expected = mine.clone();
    expected.sort();
    if listed != expected {
        // Created across a second boundary: only the set is certain.
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(sorted, expected);
    }
    assert_eq!(page.pagination.total_results, 3);
    assert_eq!(page.resources[0].execution_metadata, "[PRIVATE DATA HIDDEN IN LISTS]");

    // Filters and pages, with links that stay on the app's path.
    let path = format!("/v3/apps/{app}/droplets?label_selector=tier%3Dweb&per_page=1");
    let first = server.json_as(&[READ], &server.url(&path)).await;
    assert_eq!(first["pagination"]["total_results"], 2, "{first:#}");
    let next = first["pagination"]["next"]["href"].as_str().expect("a next page").to_owned();
    assert!(next.starts_with(&server.url(&format!("/v3/apps/{app}/droplets?"))), "{next}");
    let second = server.json_as(&[READ], &next).await;
    assert_eq!(second["pagination"]["next"], Value::Null);
    let mut web: Vec<&str> = [&first, &second]
        .iter()
        .map(|page| page["resources"][0]["guid"].as_str().unwrap())
        .collect();
    web.sort();
    let mut expected_web = vec![mine[0].as_str(), mine[1].as_str()];
    expected_web.sort();
    assert_eq!(web, expected_web);

    // No droplet is an app's current one here; an app nothing names has none.
    let current = server
        .json_as(&[READ], &server.url(&format!("/v3/apps/{app}/droplets?current=true")))
        .await;
    assert_eq!(current["pagination"]["total_results"], 0, "{current:#}");
    let other = uuid::Uuid::new_v4();
    let none = server.json_as(&[READ], &server.url(&format!("/v3/apps/{other}/droplets"))).await;
    assert_eq!(none["pagination"]["total_results"], 0, "{none:#}");
}

#[tokio::test]
pub async fn an_apps_droplets_refuse_what_the_reference_refuses() {
    let server = TestServer::start();
    let app = uuid::Uuid::new_v4();
    for query in ["app_guids=x", "current=maybe", "per_page=0", "colour=blue"] {
        let response = server.get(&format!("/v3/apps/{app}/droplets?{query}")).send().await;
        assert_cf_error(response.unwrap(), 400, 10005, "CF-BadQueryParameter").await;
    }
    let response = server.raw().get(server.url(&format!("/v3/apps/{app}/droplets"))).send().await;
    assert_cf_error(response.unwrap(), 401, 10002, "CF-NotAuthenticated").await;
}
