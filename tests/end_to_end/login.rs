//! `droplet login` against the test UAA: the UAA found through the server's root document, a
//! token from client credentials or a password, stored for later commands in a file only the
//! user can read, and renewed when it expires.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use droplet_client::cli;
use serde_json::Value;

use crate::common::*;
use crate::fake_uaa::{CLIENT_ID, CLIENT_SECRET, FakeUaa, PASSWORD, USER};

fn server_for(uaa: &FakeUaa) -> TestServer {
    TestServer::start_with_config(&format!("[auth]\nuaa_url = \"{}\"\n", uaa.base_url))
}

/// Runs `droplet --config-dir DIR ARGS...` with no --api or --token, as after a login.
async fn droplet_in(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let mut all = vec!["droplet", "--config-dir", dir.to_str().unwrap()];
    all.extend(args);
    let mut out = Vec::new();
    cli::run(all, &mut out).await?;
    Ok(String::from_utf8(out).expect("UTF-8 output"))
}

fn stored(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("token.json")).expect("a stored login")).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A pipeline logs in with client credentials; later commands need neither --api nor --token,
/// and the token file is the user's only.
#[tokio::test]
async fn login_with_client_credentials_stores_a_token_later_commands_use() {
    let uaa = FakeUaa::start();
    let server = server_for(&uaa);
    let dir = server.scratch().join("config");
    let out = droplet_in(
        &dir,
        &[
            "login",
            "--api",
            &server.base_url,
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
        ],
    )
    .await
    .unwrap();
    assert!(out.contains(&format!("logged in to {} as {CLIENT_ID}", server.base_url)), "{out}");
    assert_eq!(uaa.grants(), ["client_credentials"]);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("token.json")), 0o600);
    let login = stored(&dir);
    assert_eq!(login["token_endpoint"], format!("{}/oauth/token", uaa.base_url));
    assert_eq!(login["api"], server.base_url);

    let app = uuid::Uuid::new_v4().to_string();
    let created = droplet_in(&dir, &["--json", "create", "--app", &app]).await.unwrap();
    let created: Value = serde_json::from_str(&created).unwrap();
    assert_eq!(created["state"], "AWAITING_UPLOAD");
    let list = droplet_in(&dir, &["list"]).await.unwrap();
    assert!(list.contains("1 droplets"), "{list}");
    assert_eq!(uaa.grants().len(), 1, "a fresh token is not renewed");

    let out = droplet_in(&dir, &["logout"]).await.unwrap();
    assert!(out.contains("logged out"), "{out}");
    let error = droplet_in(&dir, &["list"]).await.expect_err("logged out");
    assert!(cli::describe(&error).contains("droplet login"), "{}", cli::describe(&error));
}

/// A person logs in with a password; once the token has expired, the next command renews it with
/// the refresh token, stores the new one, and works.
#[tokio::test]
async fn an_expired_password_login_is_renewed_with_its_refresh_token() {
    let uaa = FakeUaa::start();
    let server = server_for(&uaa);
    let dir = server.scratch().join("config");
    uaa.set_token_lifetime(1);
    let login = ["login", "--api", &server.base_url, "--username", USER, "--password", PASSWORD];
    let out = droplet_in(&dir, &login).await.unwrap();
    assert!(out.contains(&format!("as {USER}")), "{out}");
    let first = stored(&dir);
    assert!(first["refresh_token"].is_string(), "{first}");
    assert!(!first.to_string().contains(PASSWORD), "the password is never stored");

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert!(first["expires_at"].as_i64().unwrap() < chrono::Utc::now().timestamp());
    uaa.set_token_lifetime(600);
    let list = droplet_in(&dir, &["list"]).await.unwrap();
    assert!(list.contains("0 droplets"), "{list}");
    assert_eq!(uaa.grants(), ["password", "refresh_token"]);
    let renewed = stored(&dir);
    assert_ne!(renewed["access_token"], first["access_token"]);
    assert!(renewed["expires_at"].as_i64().unwrap() > chrono::Utc::now().timestamp() + 500);
    assert_eq!(mode(&dir.join("token.json")), 0o600);

    // Renewed once: the next command uses the stored token as it is.
    droplet_in(&dir, &["list"]).await.unwrap();
    assert_eq!(uaa.grants().len(), 2);
}

/// Client credentials come without a refresh token: once expired, the client asks again with its
/// stored credentials.
#[tokio::test]
async fn expired_client_credentials_are_asked_for_again() {
    let uaa = FakeUaa::start();
    let server = server_for(&uaa);
    let dir = server.scratch().join("config");
    uaa.set_token_lifetime(1);
    let login = [
        "login",
        "--api",
        &server.base_url,
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        CLIENT_SECRET,
    ];
    droplet_in(&dir, &login).await.unwrap();
    assert!(stored(&dir)["refresh_token"].is_null());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    uaa.set_token_lifetime(600);
    droplet_in(&dir, &["list"]).await.unwrap();
    assert_eq!(uaa.grants(), ["client_credentials", "client_credentials"]);
}

#[tokio::test]
async fn login_failures_say_why() {
    let uaa = FakeUaa::start();
    let server = server_for(&uaa);
    let dir = server.scratch().join("config");
    let wrong = ["login", "--api", &server.base_url, "--username", USER, "--password", "wrong"];
    let line = cli::describe(&droplet_in(&dir, &wrong).await.expect_err("a wrong password"));
    assert!(line.contains("the UAA refused the password grant") && line.contains("401"), "{line}");
    assert!(!dir.join("token.json").exists());

    // A development server names no UAA.
    let development = TestServer::start();
    let login = ["login", "--api", &development.base_url, "--username", USER, "--password", "x"];
    let line = cli::describe(&droplet_in(&dir, &login).await.expect_err("no UAA"));
    assert!(line.contains("names no UAA"), "{line}");

    // A stored login goes only to the API it is for.
    let right = ["login", "--api", &server.base_url, "--username", USER, "--password", PASSWORD];
    droplet_in(&dir, &right).await.unwrap();
    let other = ["--api", &development.base_url, "list"];
    let line = cli::describe(&droplet_in(&dir, &other).await.expect_err("another API"));
    assert!(line.contains(&format!("the stored login is for {}", server.base_url)), "{line}");
}

/// A token pasted as `cf oauth-token` prints it works; one that cannot be a header is refused
/// before anything is sent.
#[tokio::test]
async fn tokens_are_taken_as_cf_oauth_token_prints_them() {
    let server = TestServer::start();
    let dir = server.scratch().join("config");
    let pasted = format!("bearer {}", server.token(&[READ]));
    let list = droplet_in(&dir, &["--api", &server.base_url, "--token", &pasted, "list"]).await;
    assert!(list.unwrap().contains("0 droplets"));

    let broken = format!("bearer {}\nX", server.token(&[READ]));
    let error = droplet_in(&dir, &["--api", &server.base_url, "--token", &broken, "list"]).await;
    let line = cli::describe(&error.expect_err("a broken token"));
    assert!(line.contains("the token cannot be used"), "{line}");
}
