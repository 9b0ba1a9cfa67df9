//! The token rules, in one place: which bearer tokens are accepted and which scopes allow what.
//!
//! A token is accepted only if the header is `bearer <jwt>` (any case), its algorithm is one the
//! server holds a key for (HS256/384/512 with a shared secret, RS256/384/512 with a UAA public
//! key; never `none`), the signature verifies, `exp` is in the future, `aud` contains the
//! configured resource id, `iss` equals the configured issuer, and `jti` is present and does not
//! mark a refresh token (`-r` suffix).

use std::collections::HashSet;

use droplet_api::CfError;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::AuthConfig;

const HMAC_ALGORITHMS: &[Algorithm] = &[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];
const RSA_ALGORITHMS: &[Algorithm] = &[Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];

/// Scopes that allow reading.
const READ_SCOPES: &[&str] = &[
    "cloud_controller.read",
    "cloud_controller.admin",
    "cloud_controller.admin_read_only",
    "cloud_controller.global_auditor",
];
/// Scopes that allow downloading bits: reading, except as a global auditor.
const DOWNLOAD_SCOPES: &[&str] =
    &["cloud_controller.read", "cloud_controller.admin", "cloud_controller.admin_read_only"];
/// Scopes that allow writing.
const WRITE_SCOPES: &[&str] = &["cloud_controller.write", "cloud_controller.admin"];

/// What an operation needs of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Download,
    Write,
}

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    /// `user_id`, or `client_id` for client-credentials tokens.
    pub id: String,
    pub scopes: HashSet<String>,
}

impl Caller {
    pub fn may(&self, access: Access) -> bool {
        let allowed = match access {
            Access::Read => READ_SCOPES,
            Access::Download => DOWNLOAD_SCOPES,
            Access::Write => WRITE_SCOPES,
        };
        allowed.iter().any(|scope| self.scopes.contains(*scope))
    }

    /// 403 unless the caller's scopes allow `access`.
    pub fn require(&self, access: Access) -> Result<(), CfError> {
        if self.may(access) { Ok(()) } else { Err(CfError::not_authorized()) }
    }
}

struct VerificationKey {
    kid: Option<String>,
    algorithms: &'static [Algorithm],
    key: DecodingKey,
}

pub struct TokenVerifier {
    issuer: String,
    audience: String,
    keys: Vec<VerificationKey>,
}

#[derive(Deserialize)]
struct Claims {
    /// A single string: jsonwebtoken alone would also accept a list containing the issuer.
    #[allow(dead_code)]
    iss: String,
    jti: Option<String>,
    user_id: Option<String>,
    client_id: Option<String>,
    #[serde(default)]
    scope: Vec<String>,
}

impl TokenVerifier {
    /// Builds the verifier from configuration; `development_secret` is trusted (with the
    /// development issuer) only when the configuration names no keys.
    pub fn new(config: &AuthConfig, development_secret: Option<&[u8]>) -> anyhow::Result<Self> {
        let mut keys = Vec::new();
        for hmac in &config.hmac_keys {
            keys.push(VerificationKey {
                kid: hmac.kid.clone(),
                algorithms: HMAC_ALGORITHMS,
                key: DecodingKey::from_secret(hmac.secret.as_bytes()),
            });
        }
        for rsa in &config.rsa_public_keys {
            let pem = match (&rsa.pem, &rsa.pem_file) {
                (Some(pem), _) => pem.clone(),
                (None, Some(file)) => std::fs::read_to_string(file).map_err(|e| {
                    anyhow::anyhow!("reading RSA public key {}: {e}", file.display())
                })?,
                (None, None) => anyhow::bail!("an RSA public key needs pem or pem_file"),
            };
            keys.push(VerificationKey {
                kid: rsa.kid.clone(),
                algorithms: RSA_ALGORITHMS,
                key: DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|e| anyhow::anyhow!("invalid RSA public key: {e}"))?,
            });
        }
        if let Some(secret) = development_secret {
            keys.push(VerificationKey {
                kid: None,
                algorithms: HMAC_ALGORITHMS,
                key: DecodingKey::from_secret(secret),
            });
        }
        let issuer = match (&config.issuer, development_secret) {
            (Some(issuer), _) => issuer.clone(),
            (None, Some(_)) => crate::dev_key::DEVELOPMENT_ISSUER.to_owned(),
            (None, None) => anyhow::bail!("auth.issuer is required when token keys are configured"),
        };
        Ok(TokenVerifier { issuer, audience: config.audience.clone(), keys })
    }

    /// Checks the `Authorization` header value: 401 `CF-NotAuthenticated` when there is none,
    /// 401 `CF-InvalidAuthToken` when the token fails any rule.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, CfError> {
        let header = authorization.ok_or_else(CfError::not_authenticated)?;
        let (scheme, token) =
            header.trim().split_once(' ').ok_or_else(CfError::invalid_auth_token)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(CfError::invalid_auth_token());
        }
        self.verify(token.trim()).ok_or_else(CfError::invalid_auth_token)
    }

    fn verify(&self, token: &str) -> Option<Caller> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let claims = self
            .keys
            .iter()
            .filter(|key| key.algorithms.contains(&header.alg))
            .filter(|key| header.kid.is_none() || key.kid.is_none() || key.kid == header.kid)
            .find_map(|key| {
                jsonwebtoken::decode::<Claims>(token, &key.key, &self.validation(header.alg)).ok()
            })?
            .claims;
        let jti = claims.jti?;
        if jti.is_empty() || jti.ends_with("-r") {
            return None;
        }
        let id = claims.user_id.or(claims.client_id)?;
        Some(Caller { id, scopes: claims.scope.into_iter().collect() })
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&self.issuer]);
        validation
    }
}
