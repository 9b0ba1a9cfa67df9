//! Which bearer tokens are accepted.
//!
//! A token is accepted only if the header is `bearer <jwt>` (any case), its algorithm is one the
//! server holds a key for (HS256/384/512 with a shared secret, RS256/384/512 with a UAA public
//! key; never `none`), the signature verifies, `exp` is in the future, `aud` contains the
//! configured resource id, `iss` equals the configured issuer, `jti` is present and does not
//! mark a refresh token (`-r` suffix), and `user_id` or `client_id` names whom it was issued to.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;

use droplet_api::CfError;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::dev_key::DEVELOPMENT_ISSUER;
use super::scopes::Caller;
use super::uaa::{PublishedKey, Uaa};
use crate::config::AuthConfig;

impl From<PublishedKey> for VerificationKey {
    fn from(published: PublishedKey) -> Self {
        VerificationKey { kid: published.kid, algorithms: RSA_ALGORITHMS, key: published.key }
    }
}

const HMAC_ALGORITHMS: &[Algorithm] = &[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];
const RSA_ALGORITHMS: &[Algorithm] = &[Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];

struct VerificationKey {
    kid: Option<String>,
    algorithms: &'static [Algorithm],
    key: DecodingKey,
}

pub struct TokenVerifier {
    issuer: String,
    audience: String,
    /// Keys from the configuration (and the development key).
    configured: Vec<VerificationKey>,
    /// Keys published by the UAA, refetched when a token names a key id not seen yet.
    uaa: Option<UaaKeys>,
}

struct UaaKeys {
    source: Uaa,
    keys: RwLock<Arc<Vec<VerificationKey>>>,
    /// Serializes refetches, and remembers key ids a refetch did not find, so that tokens with
    /// made-up key ids cannot make the server hammer the UAA.
    refetches: tokio::sync::Mutex<HashMap<String, Instant>>,
}

/// How long a key id the UAA did not know stays unknown before it may cause another refetch.
const UNKNOWN_KEY_RETRY: Duration = Duration::from_secs(60);

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
    /// Builds the verifier from configuration: configured keys, the UAA's published keys when
    /// `auth.uaa_url` is set, and `development_secret` (trusted with the development issuer)
    /// only when the configuration names no keys at all.
    pub async fn new(
        config: &AuthConfig,
        development_secret: Option<&[u8]>,
    ) -> anyhow::Result<Self> {
        let mut configured = Vec::new();
        for hmac in &config.hmac_keys {
            configured.push(VerificationKey {
                kid: hmac.kid.clone(),
                algorithms: HMAC_ALGORITHMS,
                key: DecodingKey::from_secret(hmac.secret.as_bytes()),
            });
        }
        for rsa in &config.rsa_public_keys {
            let pem = match (&rsa.pem, &rsa.pem_file) {
                (Some(pem), _) => pem.clone(),
                (None, Some(file)) => std::fs::read_to_string(file)
                    .with_context(|| format!("reading RSA public key {}", file.display()))?,
                (None, None) => anyhow::bail!("an RSA public key needs pem or pem_file"),
            };
            configured.push(VerificationKey {
                kid: rsa.kid.clone(),
                algorithms: RSA_ALGORITHMS,
                key: DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|e| anyhow::anyhow!("invalid RSA public key: {e}"))?,
            });
        }
        if let Some(secret) = development_secret {
            configured.push(VerificationKey {
                kid: None,
                algorithms: HMAC_ALGORITHMS,
                key: DecodingKey::from_secret(secret),
            });
        }
        let mut issuer = config.issuer.clone();
        let uaa = match &config.uaa_url {
            Some(url) => {
                let source = Uaa::new(url)?;
                if issuer.is_none() {
                    issuer = Some(source.issuer().await.context("asking the UAA for its issuer")?);
                }
                let keys = source.token_keys().await.context("fetching the UAA's token keys")?;
                Some(UaaKeys {
                    keys: RwLock::new(Arc::new(
                        keys.into_iter().map(VerificationKey::from).collect(),
                    )),
                    source,
                    refetches: tokio::sync::Mutex::new(HashMap::new()),
                })
            }
            None => None,
        };
        let issuer = match (issuer, development_secret) {
            (Some(issuer), _) => issuer,
            (None, Some(_)) => DEVELOPMENT_ISSUER.to_owned(),
            (None, None) => anyhow::bail!("auth.issuer is required when token keys are configured"),
        };
        Ok(TokenVerifier { issuer, audience: config.audience.clone(), configured, uaa })
    }

    /// Checks the `Authorization` header value: 401 `CF-NotAuthenticated` when there is none,
    /// 401 `CF-InvalidAuthToken` when the token fails any rule.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, CfError> {
        let header = authorization.ok_or_else(CfError::not_authenticated)?;
        let (scheme, token) =
            header.trim().split_once(' ').ok_or_else(CfError::invalid_auth_token)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(CfError::invalid_auth_token());
        }
        let token = token.trim();
        let jwt_header =
            jsonwebtoken::decode_header(token).map_err(|_| CfError::invalid_auth_token())?;
        if let Some(caller) = self.verify(token, &jwt_header) {
            return Ok(caller);
        }
        // A key id nobody has seen: the UAA may have rotated its keys since we fetched them.
        if let Some(kid) = &jwt_header.kid
            && self.refetch_uaa_keys_for(kid).await
            && let Some(caller) = self.verify(token, &jwt_header)
        {
            return Ok(caller);
        }
        Err(CfError::invalid_auth_token())
    }

    fn verify(&self, token: &str, header: &jsonwebtoken::Header) -> Option<Caller> {
        let uaa_keys = self.uaa.as_ref().map(|uaa| uaa.keys.read().expect("not poisoned").clone());
        let claims = self
            .configured
            .iter()
            .chain(uaa_keys.iter().flat_map(|keys| keys.iter()))
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
        // A token names who it was issued to: a user, or a client (client credentials).
        claims.user_id.or(claims.client_id)?;
        Some(Caller { scopes: claims.scope.into_iter().collect() })
    }

    /// Refetches the UAA's keys because a token names `kid`; true if `kid` is known afterwards.
    async fn refetch_uaa_keys_for(&self, kid: &str) -> bool {
        let Some(uaa) = &self.uaa else { return false };
        let known =
            || uaa.keys.read().expect("not poisoned").iter().any(|k| k.kid.as_deref() == Some(kid));
        let mut refetches = uaa.refetches.lock().await;
        if known() {
            return true; // another request refetched meanwhile
        }
        if refetches.get(kid).is_some_and(|at| at.elapsed() < UNKNOWN_KEY_RETRY) {
            return false;
        }
        if let Ok(keys) = uaa.source.token_keys().await {
            *uaa.keys.write().expect("not poisoned") =
                Arc::new(keys.into_iter().map(VerificationKey::from).collect());
        }
        if known() {
            return true;
        }
        if refetches.len() > 1000 {
            refetches.clear();
        }
        refetches.insert(kid.to_owned(), Instant::now());
        false
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
