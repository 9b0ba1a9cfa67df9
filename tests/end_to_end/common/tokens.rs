//! Tokens for the server under test: development tokens, and tokens signed with any key and
//! claims a test crafts.

use std::process::Command;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::server::TestServer;

pub const READ: &str = "cloud_controller.read";
pub const WRITE: &str = "cloud_controller.write";
pub const ADMIN: &str = "cloud_controller.admin";
pub const ADMIN_READ_ONLY: &str = "cloud_controller.admin_read_only";
pub const GLOBAL_AUDITOR: &str = "cloud_controller.global_auditor";
/// `iss` and `aud` the server expects when it runs on its development key.
pub const DEV_ISSUER: &str = "droplet-server-dev";
pub const AUDIENCE: &str = "cloud_controller";

impl TestServer {
    /// The development secret, exactly as stored (its hex text is the HMAC key).
    pub fn dev_secret(&self) -> Vec<u8> {
        std::fs::read(self.data_dir().join("dev-token-key")).expect("the development key")
    }

    /// A development token with these scopes.
    pub fn token(&self, scopes: &[&str]) -> String {
        self.sign_dev(&claims(scopes, DEV_ISSUER))
    }

    /// The development key signing arbitrary claims (HS256).
    pub fn sign_dev(&self, claims: &Value) -> String {
        sign(Algorithm::HS256, &EncodingKey::from_secret(&self.dev_secret()), None, claims)
    }

    /// A token minted by `droplet-server token` with these extra arguments.
    pub fn cli_token(&self, args: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_droplet-server"))
            .arg("token")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .output()
            .expect("running droplet-server token");
        assert!(output.status.success(), "droplet-server token failed: {output:?}");
        String::from_utf8(output.stdout).expect("UTF-8 token").trim().to_owned()
    }
}

/// Claims of a valid UAA user token for `issuer`, valid for an hour.
pub fn claims(scopes: &[&str], issuer: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "jti": uuid::Uuid::new_v4().simple().to_string(),
        "user_id": "5f7c2e3a-test-user",
        "client_id": "cf",
        "scope": scopes,
        "aud": [AUDIENCE, "openid"],
        "iss": issuer,
        "iat": now,
        "exp": now + 3600,
    })
}

pub fn sign(algorithm: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("signing a token")
}

/// Unpadded base64url, for tokens crafted by hand.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}
