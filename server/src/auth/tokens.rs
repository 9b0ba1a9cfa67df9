//! Which bearer tokens are accepted.
//!
//! A token is accepted only if the header is `bearer <jwt>` (any case), its algorithm is one the
//! server holds a key for (HS256/384/512 with a shared secret, RS256/384/512 with a UAA public
//! key; never `none`), the signature verifies, `exp` is in the future, `aud` contains the
//! configured resource id, `iss` equals the configured issuer, `jti` is present and does not
//! mark a refresh token (`-r` suffix), and `user_id` or `client_id` names whom it was issued to.
//! A token naming a key id the server does not hold may make it refetch the UAA's keys, as
//! `uaa_keys` bounds.

use std::time::Duration;

use anyhow::Context;

use droplet_api::CfError;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::dev_key::DEVELOPMENT_ISSUER;
use super::scopes::Caller;
use super::uaa::Uaa;
use super::uaa_keys::UaaKeys;
use crate::config::AuthConfig;

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
    /// Keys published by the UAA (RSA), refetched when a token names a key id not held.
    uaa: Option<UaaKeys>,
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
    /// Builds the verifier from configuration: configured keys, the UAA's published keys when
    /// `auth.uaa_url` is set, and `development_secret` (trusted with the development issuer)
    /// only when the configuration names no keys at all.
    pub async fn new(
        config: &AuthConfig,
        development_secret: Option<&[u8]>,
        log: &slog::Logger,
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
                let interval = Duration::from_secs(config.uaa_key_refetch_interval_secs);
                let keys = UaaKeys::fetch(source, interval, log.clone()).await;
                Some(keys.context("fetching the UAA's token keys")?)
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
        // A key id the server does not hold: the UAA may have rotated its keys since.
        if let (Some(kid), Some(uaa)) = (&jwt_header.kid, &self.uaa)
            && !self.holds_key(kid)
            && uaa.refetch().await
            && let Some(caller) = self.verify(token, &jwt_header)
        {
            return Ok(caller);
        }
        Err(CfError::invalid_auth_token())
    }

    fn holds_key(&self, kid: &str) -> bool {
        let uaa_keys = self.uaa.as_ref().map(UaaKeys::current);
        let uaa_kids = uaa_keys.iter().flat_map(|keys| keys.iter()).map(|key| &key.kid);
        let mut kids = self.configured.iter().map(|key| &key.kid).chain(uaa_kids);
        kids.any(|key_kid| key_kid.as_deref() == Some(kid))
    }

    fn verify(&self, token: &str, header: &jsonwebtoken::Header) -> Option<Caller> {
        let uaa_keys = self.uaa.as_ref().map(UaaKeys::current);
        let configured = self.configured.iter().map(|k| (&k.kid, k.algorithms, &k.key));
        let published = uaa_keys.iter().flat_map(|keys| keys.iter());
        let published = published.map(|k| (&k.kid, RSA_ALGORITHMS, &k.key));
        let claims = configured
            .chain(published)
            .filter(|(_, algorithms, _)| algorithms.contains(&header.alg))
            .filter(|(kid, ..)| header.kid.is_none() || kid.is_none() || **kid == header.kid)
            .find_map(|(_, _, key)| {
                jsonwebtoken::decode::<Claims>(token, key, &self.validation(header.alg)).ok()
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
