//! The development signing key: a random HS256 secret kept in the data directory, created on first
//! use, so that a server on its embedded default can be used at once (`droplet-server token`).

use std::path::Path;

use anyhow::Context;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// `iss` of development tokens.
pub const DEVELOPMENT_ISSUER: &str = "droplet-server-dev";

const KEY_FILE: &str = "dev-token-key";

/// Reads the development secret, creating it (readable by the owner only) on first use.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    super::key_file::load_or_create_secret(&data_dir.join(KEY_FILE))
}

#[derive(Serialize)]
struct Claims<'a> {
    jti: String,
    sub: &'a str,
    user_id: &'a str,
    client_id: &'a str,
    scope: &'a [String],
    aud: [&'a str; 1],
    iss: &'a str,
    iat: i64,
    exp: i64,
}

/// Mints a development token for `audience` with `scopes`, valid for `ttl_secs`.
pub fn mint_token(
    secret: &[u8],
    audience: &str,
    scopes: &[String],
    ttl_secs: i64,
) -> anyhow::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        jti: uuid::Uuid::new_v4().simple().to_string(),
        sub: "developer",
        user_id: "developer",
        client_id: "droplet-server-dev",
        scope: scopes,
        aud: [audience],
        iss: DEVELOPMENT_ISSUER,
        iat: now,
        exp: now + ttl_secs,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret))
        .context("signing the development token")
}
