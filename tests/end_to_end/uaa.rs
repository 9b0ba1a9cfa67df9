//! Tokens from a UAA: the server fetches the issuer from its OpenID configuration and the keys
//! from its `/token_keys`, and fetches the keys again when a token names a key it does not hold,
//! at most once per `auth.uaa_key_refetch_interval_secs` whatever the key ids.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;

use crate::common::*;
use crate::fake_uaa::{FakeUaa, PASSWORD, USER};

fn server_for(uaa: &FakeUaa) -> TestServer {
    server_with(uaa, "")
}

/// A server trusting `uaa`, with these further `[auth]` keys.
fn server_with(uaa: &FakeUaa, auth: &str) -> TestServer {
    TestServer::start_with_config(&format!("[auth]\nuaa_url = \"{}\"\n{auth}", uaa.base_url))
}

/// Status of `GET /v3/droplets/{unknown}` with this token: 404 means the token was accepted.
async fn status_with(server: &TestServer, token: &str) -> u16 {
    let path = format!("/v3/droplets/{}", uuid::Uuid::new_v4());
    let response =
        server.raw().get(server.url(&path)).bearer_auth(token).send().await.expect("request");
    response.status().as_u16()
}

/// A token signed with a key the UAA published after the server's last fetch is refused until the
/// interval allows a refetch; the first token after it brings the new key, with one fetch.
#[tokio::test]
async fn rotated_uaa_keys_are_fetched_when_a_token_names_them() {
    let uaa = FakeUaa::start();
    let server = server_with(&uaa, "uaa_key_refetch_interval_secs = 1\n");
    let before = FakeUaa::sign_with("key-1", &claims(&[READ], &uaa.issuer()));
    assert_eq!(status_with(&server, &before).await, 404);

    uaa.rotate_to("key-2");
    let after = FakeUaa::sign_with("key-2", &claims(&[READ], &uaa.issuer()));
    eventually("the new key to be accepted", || async {
        status_with(&server, &after).await == 404
    })
    .await;
    assert_eq!(uaa.token_key_fetches(), 2, "the start-up fetch and one refetch");
    assert_eq!(status_with(&server, &before).await, 404, "the old key is still published");
}

/// Forged tokens, each naming a key id made up for it, from ten callers at a time: each is refused
/// with the CF envelope, and the UAA (slow to answer, as under load) is asked for its keys at most
/// once per refetch interval (30 s by default), not once per key id.
#[tokio::test]
async fn forged_key_ids_do_not_make_the_server_hammer_the_uaa() {
    let uaa = FakeUaa::start();
    let server = server_for(&uaa);
    uaa.delay_token_keys(Duration::from_millis(200));
    let client = server.raw();
    let tokens: Vec<String> =
        (0..300).map(|_| FakeUaa::forge(&claims(&[READ], &uaa.issuer()))).collect();
    let fetched_before = uaa.token_key_fetches();
    let started = Instant::now();
    let answers: Vec<reqwest::Response> = futures::stream::iter(tokens)
        .map(|token| {
            let path = format!("/v3/droplets/{}", uuid::Uuid::new_v4());
            client.get(server.url(&path)).bearer_auth(token).send()
        })
        .buffer_unordered(10)
        .map(|answer| answer.expect("an answer"))
        .collect()
        .await;
    let intervals = started.elapsed().as_secs() / 30 + 1;
    let fetched = (uaa.token_key_fetches() - fetched_before) as u64;
    assert!(fetched <= intervals, "{fetched} fetches of the UAA's keys in {intervals} intervals");
    for answer in answers {
        assert_cf_error(answer, 401, 1000, "CF-InvalidAuthToken").await;
    }
}

#[tokio::test]
async fn a_key_the_uaa_does_not_publish_is_refused() {
    let uaa = FakeUaa::start();
    let server = server_for(&uaa);
    // key-2 exists as a fixture but this UAA never published it.
    let token = FakeUaa::sign_with("key-2", &claims(&[READ], &uaa.issuer()));
    assert_eq!(status_with(&server, &token).await, 401);
    assert_eq!(status_with(&server, &token).await, 401);
}

#[tokio::test]
async fn the_issuer_comes_from_the_uaa() {
    let uaa = FakeUaa::start();
    let server = server_for(&uaa);
    let elsewhere =
        FakeUaa::sign_with("key-1", &claims(&[READ], "https://other.example/oauth/token"));
    assert_eq!(status_with(&server, &elsewhere).await, 401);
    let development = server_dev_style_token(&uaa);
    assert_eq!(status_with(&server, &development).await, 401, "no development key with a UAA");
}

fn server_dev_style_token(uaa: &FakeUaa) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(b"not-the-uaa");
    sign(jsonwebtoken::Algorithm::HS256, &key, None, &claims(&[READ], &uaa.issuer()))
}

#[tokio::test]
async fn password_grant_tokens_work_and_refresh_tokens_do_not() {
    let uaa = FakeUaa::start();
    let server = server_for(&uaa);
    let grant: Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", uaa.base_url))
        .basic_auth("cf", Some(""))
        .form(&[("grant_type", "password"), ("username", USER), ("password", PASSWORD)])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token response");
    let access = grant["access_token"].as_str().expect("an access token");
    let refresh = grant["refresh_token"].as_str().expect("a refresh token");
    assert_eq!(status_with(&server, access).await, 404);
    assert_eq!(status_with(&server, refresh).await, 401);
}

#[tokio::test]
async fn root_documents_point_clients_at_the_api_and_the_uaa() {
    let uaa = FakeUaa::start();
    let server = server_for(&uaa);
    let root: Value = server.raw().get(server.url("/")).send().await.unwrap().json().await.unwrap();
    assert_eq!(root["links"]["self"]["href"], server.base_url);
    assert_eq!(root["links"]["cloud_controller_v3"]["href"], server.url("/v3"));
    assert_eq!(root["links"]["cloud_controller_v2"], Value::Null);
    assert_eq!(root["links"]["login"]["href"], uaa.base_url);
    assert_eq!(root["links"]["uaa"]["href"], uaa.base_url);

    let v3: Value = server.raw().get(server.url("/v3")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v3["links"]["self"]["href"], server.url("/v3"));
    assert_eq!(v3["links"]["droplets"]["href"], server.url("/v3/droplets"));
    assert_eq!(v3["links"]["jobs"]["href"], server.url("/v3/jobs"));
}

#[tokio::test]
async fn root_document_of_a_development_server_names_no_uaa() {
    let server = TestServer::start();
    let root: Value = server.raw().get(server.url("/")).send().await.unwrap().json().await.unwrap();
    assert_eq!(root["links"]["cloud_controller_v3"]["href"], server.url("/v3"));
    assert_eq!(root["links"]["login"], Value::Null);
}
