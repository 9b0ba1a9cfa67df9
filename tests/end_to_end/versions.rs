//! API versions: each supported version, named in `api-version`, is served by that version's
//! endpoints, those of its document and no others; a request without the header is served as the
//! latest version; a version the server does not serve gets 400 in the CF envelope and changes
//! nothing. The tests go over the list of supported versions, so each version added is covered.

use std::collections::BTreeSet;

use droplet_api::versions;
use serde_json::{Value, json};

use crate::common::*;

const METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"];

/// Every path of every version's document.
fn all_paths() -> BTreeSet<String> {
    let documents = versions::all().into_iter().map(|v| droplet_api::spec::versioned_document(&v));
    documents
        .flat_map(|d| d["paths"].as_object().unwrap().keys().cloned().collect::<Vec<_>>())
        .collect()
}

/// The methods `document` serves on `path`, in upper case; `None` when it has no such path.
fn served(document: &Value, path: &str) -> Option<Vec<String>> {
    let item = document["paths"].get(path)?.as_object().unwrap();
    Some(item.keys().map(|m| m.to_uppercase()).collect())
}

/// `method path` without a token, naming `version` in `api-version` when given; the path's guid
/// is a droplet that does not exist, and a signed URL carries an expired signature, so that every
/// operation answers without changing anything. Status, `Allow` and body.
async fn send(
    server: &TestServer,
    method: &str,
    path: &str,
    version: Option<&str>,
) -> (u16, String, String) {
    let mut path = path.replace("{guid}", &uuid::Uuid::new_v4().to_string());
    if path.ends_with("/bits") {
        path += "?expires=1&signature=00";
    }
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = server.raw().request(method, server.url(&path));
    if let Some(version) = version {
        request = request.header("api-version", version);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let allow = response.headers().get("allow").map(|a| a.to_str().unwrap().to_owned());
    (status, allow.unwrap_or_default(), response.text().await.unwrap())
}

/// Requests naming `version` (or none) are served as `document` says: each operation by a handler,
/// each other method of its paths with 405 naming the operations' methods, other paths with 404.
async fn assert_served_as(server: &TestServer, document: &Value, version: Option<&str>) {
    let as_version = document["info"]["version"].as_str().unwrap();
    for path in all_paths() {
        let Some(methods) = served(document, &path) else {
            let (status, _, body) = send(server, "GET", &path, version).await;
            assert_eq!(status, 404, "{path} is not in {as_version}: {body}");
            continue;
        };
        for method in METHODS {
            let (status, allow, body) = send(server, method, &path, version).await;
            let what =
                format!("{method} {path} as {as_version} (header {version:?}): {status} {body}");
            if methods.iter().any(|m| m == method) {
                // A handler answered: not the router, and not the unknown version's 400.
                assert!(![404, 405].contains(&status), "{what}");
                assert!(status != 400 || body.contains("errors"), "{what}");
                assert!(!body.contains("does not serve API version"), "{what}");
            } else {
                assert_eq!(status, 405, "{what}");
                assert_eq!(allow, methods.join(", "), "{what}");
            }
        }
    }
}

#[tokio::test]
async fn each_version_named_in_the_header_is_served_by_its_own_endpoints() {
    let server = TestServer::start();
    for version in versions::all() {
        let document = droplet_api::spec::versioned_document(&version);
        let named = version.to_string();
        assert_served_as(&server, &document, Some(&named)).await;
        // The version's own document, too.
        let response = server.raw().get(server.url("/openapi.json")).header("api-version", &named);
        let served: Value = response.send().await.unwrap().json().await.unwrap();
        assert!(served == document, "GET /openapi.json as {version} is not its document");
    }
}

#[tokio::test]
async fn a_request_without_a_version_is_served_as_the_latest() {
    let server = TestServer::start();
    let latest = droplet_api::spec::versioned_document(&versions::latest_version());
    assert_served_as(&server, &latest, None).await;
    let served: Value =
        server.raw().get(server.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(served["info"]["version"], versions::latest_version().to_string());
    // The generated client names the version of its document, and is served.
    let client = server.client();
    let named = <droplet_client::Client as droplet_client::ClientInfo<()>>::api_version();
    assert!(versions::all().iter().any(|v| v.to_string() == named), "the client speaks {named}");
    client.v3_root_get().await.expect("the client's version is served");
}

#[tokio::test]
async fn a_version_the_server_does_not_serve_is_400_and_changes_nothing() {
    let server = TestServer::start();
    let latest = versions::latest_version();
    let unknown = [
        format!("{}.0.0", latest.major + 1),
        format!("{}.1.0", latest.major),
        "0.0.0".to_owned(),
        latest.major.to_string(),
        "latest".to_owned(),
        String::new(),
    ];
    let body = json!({ "relationships": { "app": { "data": { "guid": uuid::Uuid::new_v4() } } } });
    let supported = versions::all().iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ");
    for named in &unknown {
        // A write with a valid token and body, a public read, and a method the path does not serve.
        let create = server.request(reqwest::Method::POST, "/v3/droplets").json(&body);
        let public = server.raw().get(server.url("/openapi.json"));
        let other_method = server.request(reqwest::Method::PUT, "/v3/droplets");
        for request in [create, public, other_method] {
            let response = request.header("api-version", named).send().await.unwrap();
            let detail = assert_cf_error(response, 400, 10004, "CF-InvalidRequest").await;
            assert_eq!(
                detail,
                format!(
                    "This server does not serve API version {named:?}: it serves {supported}; a \
                     request without `api-version` gets the latest, {latest}."
                )
            );
        }
    }
    let list = server.get("/v3/droplets").send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(list["pagination"]["total_results"], 0, "no droplet was created");
}
