//! Responses the handlers do not write themselves are in the CF envelope too: a method a path
//! does not serve, and bodies that the schema the document publishes refuses.

use serde_json::json;

use crate::common::*;
use crate::metadata::patch;

#[tokio::test]
async fn a_method_a_path_does_not_serve_is_405_naming_those_it_does() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let cases = [
        (reqwest::Method::PUT, "/v3/droplets".to_owned(), "GET, POST"),
        (reqwest::Method::DELETE, "/v3".to_owned(), "GET"),
        (reqwest::Method::POST, format!("/v3/droplets/{guid}"), "DELETE, GET, PATCH"),
        (reqwest::Method::OPTIONS, format!("/v3/droplets/{guid}/download"), "GET, HEAD"),
        (reqwest::Method::GET, format!("/v3/droplets/{guid}/upload"), "POST"),
    ];
    for (method, path, allow) in cases {
        let response = server.request(method.clone(), &path).send().await.unwrap();
        let allowed = response.headers()["allow"].to_str().unwrap().to_owned();
        let detail = assert_cf_error(response, 405, 10004, "CF-InvalidRequest").await;
        assert_eq!(allowed, allow, "{method} {path}");
        assert_eq!(detail, format!("{method} is not served on {path}; it takes {allow}."));
    }
    server.assert_untouched(&guid).await;
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_is_422_and_changes_nothing() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    // serde alone would read an object's fields from an array.
    let cases = [
        (json!({ "metadata": [null, null] }), "metadata is invalid: "),
        (json!({ "metadata": { "labels": ["a"] } }), "metadata.labels is invalid: "),
        (json!([{ "labels": {} }]), "The body is invalid: "),
    ];
    for (body, expected) in cases {
        let response = patch(&server, &guid, body.clone()).await;
        let detail = assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
        assert!(detail.starts_with(expected), "{body}: {detail}");
    }
    server.assert_untouched(&guid).await;
}
