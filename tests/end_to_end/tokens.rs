//! Bearer tokens, one rule per test, against `GET /v3/droplets/{guid}` (and creation for writes).

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use crate::common::*;

const UAA_ISSUER: &str = "https://uaa.example/oauth/token";
const SHARED_SECRET: &str = "uaa-shared-secret-for-the-end-to-end-tests";
// A test-only key pair: `openssl genrsa -out uaa-test-key.pem 2048` and
// `openssl rsa -in uaa-test-key.pem -pubout -out uaa-test-key.pub.pem`.
const RSA_PRIVATE_PEM: &str = include_str!("fixtures/uaa-test-key.pem");
const RSA_PUBLIC_PEM: &str = include_str!("fixtures/uaa-test-key.pub.pem");

/// A server on its development key, and one of its droplets.
async fn dev_server() -> (TestServer, String) {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    (server, guid)
}

/// A server trusting a UAA: a shared secret and an RSA public key, no development key.
fn uaa_server() -> TestServer {
    TestServer::start_with_config(&format!(
        "[auth]\nissuer = \"{UAA_ISSUER}\"\nhmac_keys = [{{ secret = \"{SHARED_SECRET}\" }}]\n\
         [[auth.rsa_public_keys]]\nkid = \"uaa-key-1\"\npem = \"\"\"\n{RSA_PUBLIC_PEM}\"\"\"\n"
    ))
}

fn uaa_token(algorithm: Algorithm, kid: Option<&str>, scopes: &[&str]) -> String {
    let key = match algorithm {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
            EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap()
        }
        _ => EncodingKey::from_secret(SHARED_SECRET.as_bytes()),
    };
    sign(algorithm, &key, kid, &claims(scopes, UAA_ISSUER))
}

/// `GET /v3/droplets/GUID` with this `Authorization` header, or none.
async fn get_droplet(
    server: &TestServer,
    guid: &str,
    authorization: Option<&str>,
) -> reqwest::Response {
    let mut request = server.raw().get(server.url(&format!("/v3/droplets/{guid}")));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.send().await.unwrap()
}

async fn create_droplet_with(server: &TestServer, token: &str) -> reqwest::Response {
    let body = json!({ "relationships": { "app": { "data": { "guid": uuid::Uuid::new_v4() } } } });
    let request = server.raw().post(server.url("/v3/droplets")).json(&body);
    request.header("authorization", format!("bearer {token}")).send().await.unwrap()
}

async fn assert_accepted(server: &TestServer, guid: &str, token: &str) {
    let response = get_droplet(server, guid, Some(&format!("bearer {token}"))).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// A bearer token that must be refused.
async fn assert_rejected(server: &TestServer, guid: &str, token: &str) {
    assert_invalid(server, guid, &format!("bearer {token}")).await;
}

/// An `Authorization` header that must be refused as an invalid token.
async fn assert_invalid(server: &TestServer, guid: &str, authorization: &str) {
    let response = get_droplet(server, guid, Some(authorization)).await;
    let detail = assert_cf_error(response, 401, 1000, "CF-InvalidAuthToken").await;
    assert_eq!(detail, "Invalid Auth Token");
}

/// The claims of a valid development token with one rule broken by `change`, signed with the
/// development key.
fn dev_token_with(server: &TestServer, change: impl FnOnce(&mut Value)) -> String {
    let mut claims = claims(&[READ, WRITE], DEV_ISSUER);
    change(&mut claims);
    server.sign_dev(&claims)
}

/// The control for the rule tests below: the claims they start from are accepted.
#[tokio::test]
async fn valid_development_claims_are_accepted() {
    let (server, guid) = dev_server().await;
    assert_accepted(&server, &guid, &dev_token_with(&server, |_| {})).await;
}

#[tokio::test]
async fn no_authorization_header_is_401_not_authenticated() {
    let (server, guid) = dev_server().await;
    let requests = [
        server.raw().get(server.url(&format!("/v3/droplets/{guid}"))),
        server.raw().get(server.url(&format!("/v3/droplets/{guid}/download"))),
        server.raw().get(server.url(&format!("/v3/jobs/{}", uuid::Uuid::new_v4()))),
        server.raw().post(server.url("/v3/droplets")).json(&json!({
            "relationships": { "app": { "data": { "guid": uuid::Uuid::new_v4() } } }
        })),
        server.raw().post(server.url(&format!("/v3/droplets/{guid}/upload"))).body("x"),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        let detail = assert_cf_error(response, 401, 10002, "CF-NotAuthenticated").await;
        assert_eq!(detail, "Authentication error");
    }
}

#[tokio::test]
async fn bearer_scheme_is_accepted_in_any_case() {
    let (server, guid) = dev_server().await;
    let token = server.token(&[READ]);
    for scheme in ["bearer", "Bearer", "BEARER", "bEaReR"] {
        let response = get_droplet(&server, &guid, Some(&format!("{scheme} {token}"))).await;
        assert_eq!(response.status(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn another_scheme_is_an_invalid_token() {
    let (server, guid) = dev_server().await;
    let token = server.token(&[READ]);
    for authorization in [format!("Basic {token}"), token] {
        assert_invalid(&server, &guid, &authorization).await;
    }
}

#[tokio::test]
async fn garbage_token_is_401() {
    let (server, guid) = dev_server().await;
    for garbage in ["bearer x", "bearer not.a.jwt", "bearer eyJhbGciOiJIUzI1NiJ9.e30."] {
        assert_invalid(&server, &guid, garbage).await;
    }
}

#[tokio::test]
async fn token_with_a_wrong_signature_is_401() {
    let (server, guid) = dev_server().await;
    let forged = EncodingKey::from_secret(b"not the development secret at all");
    let token = sign(Algorithm::HS256, &forged, None, &claims(&[READ], DEV_ISSUER));
    assert_rejected(&server, &guid, &token).await;
}

/// An unsigned token (`alg: none`), crafted by hand: header, claims and an empty signature.
#[tokio::test]
async fn unsigned_alg_none_token_is_401() {
    let (server, guid) = dev_server().await;
    let claims = serde_json::to_vec(&claims(&[READ, WRITE], DEV_ISSUER)).unwrap();
    for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"None"}"#] {
        let token = format!("{}.{}.", base64url(header.as_bytes()), base64url(&claims));
        assert_rejected(&server, &guid, &token).await;
    }
}

#[tokio::test]
async fn expired_token_is_401() {
    let (server, guid) = dev_server().await;
    let token = dev_token_with(&server, |c| c["exp"] = json!(chrono::Utc::now().timestamp() - 5));
    assert_rejected(&server, &guid, &token).await;
}

#[tokio::test]
async fn token_without_exp_is_401() {
    let (server, guid) = dev_server().await;
    let token = dev_token_with(&server, |c| drop(c.as_object_mut().unwrap().remove("exp")));
    assert_rejected(&server, &guid, &token).await;
}

#[tokio::test]
async fn token_whose_exp_is_not_a_number_is_401() {
    let (server, guid) = dev_server().await;
    let token = dev_token_with(&server, |c| c["exp"] = json!("4102444800"));
    assert_rejected(&server, &guid, &token).await;
}

#[tokio::test]
async fn token_for_another_audience_is_401() {
    let (server, guid) = dev_server().await;
    let token = dev_token_with(&server, |c| c["aud"] = json!(["openid", "uaa"]));
    assert_rejected(&server, &guid, &token).await;
}

#[tokio::test]
async fn token_from_another_issuer_is_401() {
    let (server, guid) = dev_server().await;
    let token = dev_token_with(&server, |c| c["iss"] = json!(UAA_ISSUER));
    assert_rejected(&server, &guid, &token).await;
}

/// `iss` is one string that equals the issuer; a list that merely contains it does not.
#[tokio::test]
async fn token_whose_iss_is_a_list_is_401() {
    let (server, guid) = dev_server().await;
    let token = dev_token_with(&server, |c| c["iss"] = json!([UAA_ISSUER, DEV_ISSUER]));
    assert_rejected(&server, &guid, &token).await;
}

#[tokio::test]
async fn token_without_jti_is_401() {
    let (server, guid) = dev_server().await;
    let token = dev_token_with(&server, |c| drop(c.as_object_mut().unwrap().remove("jti")));
    assert_rejected(&server, &guid, &token).await;
}

/// A token names whom it was issued to: a user (`user_id`) or a client (`client_id`, from the
/// client credentials grant); one of them is enough.
#[tokio::test]
async fn token_naming_neither_user_nor_client_is_401() {
    let (server, guid) = dev_server().await;
    let without =
        |claim: &'static str| move |c: &mut Value| drop(c.as_object_mut().unwrap().remove(claim));
    assert_accepted(&server, &guid, &dev_token_with(&server, without("user_id"))).await;
    assert_accepted(&server, &guid, &dev_token_with(&server, without("client_id"))).await;
    let token = dev_token_with(&server, |c| {
        without("user_id")(c);
        without("client_id")(c);
    });
    assert_rejected(&server, &guid, &token).await;
}

/// UAA marks refresh tokens with a `-r` suffix on `jti`; they are not access tokens.
#[tokio::test]
async fn refresh_token_is_401() {
    let (server, guid) = dev_server().await;
    let token = dev_token_with(&server, |c| c["jti"] = json!("0f3c2a1e9b8d4c7f-r"));
    assert_rejected(&server, &guid, &token).await;
}

#[tokio::test]
async fn tokens_from_droplet_server_token_work() {
    let (server, guid) = dev_server().await;
    assert_accepted(&server, &guid, &server.cli_token(&[])).await;
    assert_eq!(create_droplet_with(&server, &server.cli_token(&[])).await.status(), 201);

    let reader = server.cli_token(&["--scope", READ]);
    assert_accepted(&server, &guid, &reader).await;
    let response = create_droplet_with(&server, &reader).await;
    assert_cf_error(response, 403, 10003, "CF-NotAuthorized").await;

    let expired = server.cli_token(&["--ttl=-10"]);
    assert_rejected(&server, &guid, &expired).await;
}

#[tokio::test]
async fn read_scope_may_read_but_not_write() {
    let (server, guid) = dev_server().await;
    let reader = server.token(&[READ]);
    assert_accepted(&server, &guid, &reader).await;
    let response = create_droplet_with(&server, &reader).await;
    let detail = assert_cf_error(response, 403, 10003, "CF-NotAuthorized").await;
    assert_eq!(detail, "You are not authorized to perform the requested action");
}

#[tokio::test]
async fn write_scope_alone_may_not_read() {
    let (server, guid) = dev_server().await;
    let writer = server.token(&[WRITE]);
    assert_eq!(create_droplet_with(&server, &writer).await.status(), 201);
    let response = get_droplet(&server, &guid, Some(&format!("bearer {writer}"))).await;
    assert_cf_error(response, 403, 10003, "CF-NotAuthorized").await;
}

#[tokio::test]
async fn admin_may_read_and_write() {
    let (server, guid) = dev_server().await;
    let admin = server.token(&[ADMIN]);
    assert_accepted(&server, &guid, &admin).await;
    assert_eq!(create_droplet_with(&server, &admin).await.status(), 201);
}

#[tokio::test]
async fn read_only_scopes_may_not_write() {
    let (server, guid) = dev_server().await;
    for scope in [ADMIN_READ_ONLY, GLOBAL_AUDITOR] {
        let token = server.token(&[scope]);
        assert_accepted(&server, &guid, &token).await;
        let response = create_droplet_with(&server, &token).await;
        assert_cf_error(response, 403, 10003, "CF-NotAuthorized").await;
    }
}

// ---- keys from the configuration ------------------------------------------------------------

/// A UAA server and one of its droplets, created with a shared-secret token.
async fn uaa_server_and_droplet() -> (TestServer, String) {
    let server = uaa_server();
    let response = create_droplet_with(&server, &uaa_token(Algorithm::HS256, None, &[WRITE])).await;
    assert_eq!(response.status(), 201);
    let droplet: Value = response.json().await.unwrap();
    (server, droplet["guid"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn configured_shared_secret_verifies_hs256_hs384_hs512() {
    let (server, guid) = uaa_server_and_droplet().await;
    for algorithm in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        assert_accepted(&server, &guid, &uaa_token(algorithm, None, &[READ])).await;
    }
}

#[tokio::test]
async fn configured_rsa_public_key_verifies_rs256_rs384_rs512() {
    let (server, guid) = uaa_server_and_droplet().await;
    for algorithm in [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512] {
        for kid in [Some("uaa-key-1"), None] {
            assert_accepted(&server, &guid, &uaa_token(algorithm, kid, &[READ])).await;
        }
    }
    let writer = uaa_token(Algorithm::RS256, Some("uaa-key-1"), &[WRITE]);
    assert_eq!(create_droplet_with(&server, &writer).await.status(), 201);
}

#[tokio::test]
async fn rsa_token_naming_another_key_is_401() {
    let (server, guid) = uaa_server_and_droplet().await;
    let token = uaa_token(Algorithm::RS256, Some("uaa-key-2"), &[READ]);
    assert_rejected(&server, &guid, &token).await;
}

/// Algorithm confusion: an HS256 token whose "secret" is the RSA public key, which anyone has.
#[tokio::test]
async fn hs256_token_signed_with_the_rsa_public_key_is_401() {
    let (server, guid) = uaa_server_and_droplet().await;
    let public_key_as_secret = EncodingKey::from_secret(RSA_PUBLIC_PEM.as_bytes());
    for kid in [Some("uaa-key-1"), None] {
        let token =
            sign(Algorithm::HS256, &public_key_as_secret, kid, &claims(&[READ], UAA_ISSUER));
        assert_rejected(&server, &guid, &token).await;
    }
}

/// With keys configured, the development key is not trusted, whatever the token claims.
#[tokio::test]
async fn development_token_is_401_when_keys_are_configured() {
    let (server, guid) = uaa_server_and_droplet().await;
    assert_rejected(&server, &guid, &server.cli_token(&[])).await;
    let dev_key = EncodingKey::from_secret(&server.dev_secret());
    let token = sign(Algorithm::HS256, &dev_key, None, &claims(&[READ], UAA_ISSUER));
    assert_rejected(&server, &guid, &token).await;
}

#[tokio::test]
async fn kid_selects_the_shared_secret() {
    let server = TestServer::start_with_config(&format!(
        "[auth]\nissuer = \"{UAA_ISSUER}\"\nhmac_keys = [\n  {{ kid = \"old\", secret = \"old-secret-0123456789abcdef\" }},\n  \
         {{ kid = \"new\", secret = \"new-secret-0123456789abcdef\" }},\n]\n"
    ));
    let token = |kid: Option<&str>, secret: &str| {
        let key = EncodingKey::from_secret(secret.as_bytes());
        sign(Algorithm::HS256, &key, kid, &claims(&[READ, WRITE], UAA_ISSUER))
    };
    let response =
        create_droplet_with(&server, &token(Some("new"), "new-secret-0123456789abcdef")).await;
    assert_eq!(response.status(), 201);
    let guid = response.json::<Value>().await.unwrap()["guid"].as_str().unwrap().to_owned();

    assert_accepted(&server, &guid, &token(Some("old"), "old-secret-0123456789abcdef")).await;
    assert_accepted(&server, &guid, &token(None, "new-secret-0123456789abcdef")).await;
    let mismatched = token(Some("old"), "new-secret-0123456789abcdef");
    assert_rejected(&server, &guid, &mismatched).await;
}
