//! Who may list droplets, and who sees their secrets (`process_types`, `execution_metadata`): in
//! lists nobody, in a single read writers and admins.

use serde_json::json;

use crate::common::*;
use crate::listing::{create, list, uuid};

const HIDDEN_IN_LISTS: &str = "[PRIVATE DATA HIDDEN IN LISTS]";
const HIDDEN: &str = "[PRIVATE DATA HIDDEN]";

#[tokio::test]
async fn lists_need_a_read_scope() {
    let server = TestServer::start();
    let response = server.raw().get(server.url("/v3/droplets")).send().await.unwrap();
    assert_cf_error(response, 401, 10002, "CF-NotAuthenticated").await;
    let response = server
        .raw()
        .get(server.url("/v3/droplets"))
        .header("authorization", format!("bearer {}", server.token(&[WRITE])))
        .send()
        .await
        .unwrap();
    assert_cf_error(response, 403, 10003, "CF-NotAuthorized").await;
    for scope in [READ, ADMIN, ADMIN_READ_ONLY, GLOBAL_AUDITOR] {
        let result =
            server.client_with(&server.token(&[scope])).list_droplets(&Default::default()).await;
        assert!(result.is_ok(), "{scope}: {result:?}");
    }
}

#[tokio::test]
pub async fn secrets_are_redacted_in_lists_and_for_readers() {
    let server = TestServer::start();
    let droplet = create(&server, &uuid(), json!({})).await;
    let guid = droplet["guid"].as_str().unwrap();
    assert_eq!(droplet["process_types"], json!({ "web": "rackup" }));

    // Lists hide them from everyone, admins included.
    for scopes in [&[READ, WRITE][..], &[ADMIN], &[READ]] {
        let page = server
            .client_with(&server.token(scopes))
            .list_droplets(&Default::default())
            .await
            .unwrap();
        let listed = &page.resources[0];
        assert_eq!(listed.execution_metadata, HIDDEN_IN_LISTS);
        assert_eq!(
            listed.process_types,
            [("redacted_message".to_owned(), HIDDEN_IN_LISTS.to_owned())].into()
        );
    }
    let raw = list(&server, "").await;
    assert_eq!(
        raw["resources"][0]["process_types"],
        json!({ "redacted_message": HIDDEN_IN_LISTS })
    );
    assert_eq!(raw["resources"][0]["execution_metadata"], HIDDEN_IN_LISTS);

    // A single read shows them to writers and admins, and hides them from mere readers.
    for (scopes, shown) in [
        (&[READ, WRITE][..], true),
        (&[ADMIN], true),
        (&[ADMIN_READ_ONLY], true),
        (&[READ], false),
        (&[GLOBAL_AUDITOR], false),
    ] {
        let read = server.json_as(scopes, &server.url(&format!("/v3/droplets/{guid}"))).await;
        if shown {
            assert_eq!(read["process_types"], json!({ "web": "rackup" }), "{scopes:?}");
            assert_eq!(read["execution_metadata"], "", "{scopes:?}");
        } else {
            assert_eq!(read["process_types"], json!({ "redacted_message": HIDDEN }), "{scopes:?}");
            assert_eq!(read["execution_metadata"], HIDDEN, "{scopes:?}");
        }
    }
}
