//! Token verification keys from a real UAA: the issuer from its OpenID configuration, the keys from
//! its `/token_keys`. What a token must satisfy stays in `tokens.rs`; this only fetches keys.

use std::time::Duration;

use anyhow::Context;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;

/// How long a request to the UAA may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Uaa {
    base_url: String,
    http: reqwest::Client,
}

/// A verification key the UAA published.
pub struct PublishedKey {
    pub kid: Option<String>,
    pub key: DecodingKey,
}

#[derive(Deserialize)]
struct OpenIdConfiguration {
    issuer: String,
}

#[derive(Deserialize)]
struct TokenKeys {
    keys: Vec<TokenKey>,
}

#[derive(Deserialize)]
struct TokenKey {
    kid: Option<String>,
    kty: Option<String>,
    n: Option<String>,
    e: Option<String>,
    /// The same key as PEM, which UAA also publishes.
    value: Option<String>,
}

impl Uaa {
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build()?;
        Ok(Uaa { base_url: base_url.trim_end_matches('/').to_owned(), http })
    }

    /// The `iss` the UAA puts in its tokens.
    pub async fn issuer(&self) -> anyhow::Result<String> {
        let url = format!("{}/.well-known/openid-configuration", self.base_url);
        let configuration: OpenIdConfiguration = self.get_json(&url).await?;
        Ok(configuration.issuer)
    }

    /// The RSA keys tokens are currently signed with.
    pub async fn token_keys(&self) -> anyhow::Result<Vec<PublishedKey>> {
        let url = format!("{}/token_keys", self.base_url);
        let keys: TokenKeys = self.get_json(&url).await?;
        keys.keys
            .into_iter()
            .filter(|key| key.kty.as_deref().is_none_or(|kty| kty == "RSA"))
            .map(|key| {
                let decoding = match (&key.n, &key.e, &key.value) {
                    (Some(n), Some(e), _) => DecodingKey::from_rsa_components(n, e),
                    (_, _, Some(pem)) => DecodingKey::from_rsa_pem(pem.as_bytes()),
                    _ => anyhow::bail!("UAA key {:?} has neither n/e nor a PEM value", key.kid),
                }
                .with_context(|| format!("UAA key {:?} is not a valid RSA key", key.kid))?;
                Ok(PublishedKey { kid: key.kid, key: decoding })
            })
            .collect()
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> anyhow::Result<T> {
        let response = self.http.get(url).send().await.with_context(|| format!("GET {url}"))?;
        let response = response.error_for_status().with_context(|| format!("GET {url}"))?;
        response.json().await.with_context(|| format!("GET {url}: unexpected body"))
    }
}
