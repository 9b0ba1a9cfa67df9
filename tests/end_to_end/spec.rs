//! The served OpenAPI document is the committed one: the contract and the server agree.

use serde_json::Value;

use crate::common::TestServer;

#[tokio::test]
async fn served_openapi_document_is_the_committed_one() {
    let server = TestServer::start();
    // The document is public: no token.
    let response = server.raw().get(server.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let served: Value = response.json().await.unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json");
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(served == committed, "GET /openapi.json differs from {path}; run `cargo xtask regen`");
}
