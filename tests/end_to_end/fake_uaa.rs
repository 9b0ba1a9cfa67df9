//! A small UAA for the tests: OpenID configuration, `/token_keys` and `/oauth/token` (password,
//! client-credentials and refresh-token grants), issuing RS256 tokens with the fixture keys. Its
//! signing key can be rotated and its tokens' lifetime shortened mid-test, its `/token_keys` slowed
//! down, and it records the grants it answered and counts its key fetches. It runs on a thread and runtime of its own, so that tests may block on the
//! droplet server while the UAA keeps answering.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dropshot::{
    ApiDescription, ConfigDropshot, HttpError, HttpResponseOk, RequestContext, ServerBuilder,
    UntypedBody, endpoint,
};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use crate::common::sign;

pub const USER: &str = "droplet-admin";
pub const PASSWORD: &str = "uaa-test-password";
/// The one client that may use the client credentials grant, and its secret.
pub const CLIENT_ID: &str = "droplet-pipeline";
pub const CLIENT_SECRET: &str = "pipeline-secret";

const TOKEN_KEYS: &str = include_str!("fixtures/uaa-token-keys.json");
const PRIVATE_KEYS: [(&str, &str); 2] = [
    ("key-1", include_str!("fixtures/uaa-test-key.pem")),
    ("key-2", include_str!("fixtures/uaa-test-key-2.pem")),
];

struct State {
    base_url: String,
    /// Key ids `/token_keys` publishes.
    published: Vec<String>,
    /// Key id new tokens are signed with.
    signing: String,
    /// Lifetime of new access tokens, in seconds.
    lifetime: i64,
    /// The grant types answered with a token, in order.
    grants: Vec<String>,
    /// Refresh tokens issued, with the claims of the access tokens they renew.
    refresh_tokens: Vec<(String, Value)>,
    /// `/token_keys` requests received.
    token_key_fetches: usize,
    /// How long `/token_keys` takes to answer.
    token_keys_delay: Duration,
}

pub struct FakeUaa {
    state: Arc<Mutex<State>>,
    pub base_url: String,
    _thread: std::thread::JoinHandle<()>,
}

impl FakeUaa {
    /// Starts a UAA publishing and signing with `key-1`.
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            base_url: String::new(),
            published: vec!["key-1".to_owned()],
            signing: "key-1".to_owned(),
            lifetime: 600,
            grants: Vec::new(),
            refresh_tokens: Vec::new(),
            token_key_fetches: 0,
            token_keys_delay: Duration::ZERO,
        }));
        let (started, addr) = std::sync::mpsc::channel();
        let server_state = state.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("UAA runtime");
            runtime.block_on(async move {
                let mut api = ApiDescription::new();
                api.register(openid_configuration).unwrap();
                api.register(token_keys).unwrap();
                api.register(token).unwrap();
                let log = dropshot::ConfigLogging::StderrTerminal {
                    level: dropshot::ConfigLoggingLevel::Warn,
                }
                .to_logger("fake-uaa")
                .unwrap();
                let config = ConfigDropshot {
                    bind_address: "127.0.0.1:0".parse().unwrap(),
                    ..Default::default()
                };
                let server = ServerBuilder::new(api, server_state, log)
                    .config(config)
                    .start()
                    .expect("starting the fake UAA");
                started.send(server.local_addr()).unwrap();
                let _ = server.await;
            });
        });
        let base_url = format!("http://{}", addr.recv().expect("the fake UAA started"));
        state.lock().unwrap().base_url = base_url.clone();
        FakeUaa { state, base_url, _thread: thread }
    }

    /// The `iss` of this UAA's tokens.
    pub fn issuer(&self) -> String {
        format!("{}/oauth/token", self.base_url)
    }

    /// Publishes `kid` beside the current keys and signs new tokens with it.
    pub fn rotate_to(&self, kid: &str) {
        let mut state = self.state.lock().unwrap();
        if !state.published.iter().any(|k| k == kid) {
            state.published.push(kid.to_owned());
        }
        state.signing = kid.to_owned();
    }

    /// New access tokens live `seconds` (600 by default).
    pub fn set_token_lifetime(&self, seconds: i64) {
        self.state.lock().unwrap().lifetime = seconds;
    }

    /// The grant types this UAA answered with a token so far, in order.
    pub fn grants(&self) -> Vec<String> {
        self.state.lock().unwrap().grants.clone()
    }

    /// How many times `/token_keys` was asked for so far.
    pub fn token_key_fetches(&self) -> usize {
        self.state.lock().unwrap().token_key_fetches
    }

    /// `/token_keys` answers `delay` late from now on, like a UAA under load.
    pub fn delay_token_keys(&self, delay: Duration) {
        self.state.lock().unwrap().token_keys_delay = delay;
    }

    /// A token for these claims naming a key id made up for it (a new one each time) and signed
    /// with a fixture key this UAA does not publish: what anyone can send.
    pub fn forge(claims: &Value) -> String {
        let kid = format!("forged-{}", uuid::Uuid::new_v4().simple());
        sign(Algorithm::RS256, &private_key("key-2"), Some(&kid), claims)
    }

    /// A token for these claims, signed with the fixture key `kid` and naming it.
    pub fn sign_with(kid: &str, claims: &Value) -> String {
        sign(Algorithm::RS256, &private_key(kid), Some(kid), claims)
    }
}

fn private_key(kid: &str) -> EncodingKey {
    let pem = PRIVATE_KEYS.iter().find(|(k, _)| *k == kid).expect("a fixture key").1;
    EncodingKey::from_rsa_pem(pem.as_bytes()).expect("a valid fixture key")
}

type Ctx = RequestContext<Arc<Mutex<State>>>;

#[endpoint { method = GET, path = "/.well-known/openid-configuration" }]
async fn openid_configuration(rqctx: Ctx) -> Result<HttpResponseOk<Value>, HttpError> {
    let base = rqctx.context().lock().unwrap().base_url.clone();
    Ok(HttpResponseOk(json!({
        "issuer": format!("{base}/oauth/token"),
        "token_endpoint": format!("{base}/oauth/token"),
        "jwks_uri": format!("{base}/token_keys"),
    })))
}

#[endpoint { method = GET, path = "/token_keys" }]
async fn token_keys(rqctx: Ctx) -> Result<HttpResponseOk<Value>, HttpError> {
    let (published, delay) = {
        let mut state = rqctx.context().lock().unwrap();
        state.token_key_fetches += 1;
        (state.published.clone(), state.token_keys_delay)
    };
    tokio::time::sleep(delay).await;
    let all: Value = serde_json::from_str(TOKEN_KEYS).unwrap();
    let keys: Vec<&Value> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|key| published.iter().any(|kid| key["kid"] == kid.as_str()))
        .collect();
    Ok(HttpResponseOk(json!({ "keys": keys })))
}

/// `POST /oauth/token`, form-encoded, with the client in Basic auth (or in the form):
/// `grant_type=password` with this UAA's one user (any client), `client_credentials` for
/// [`CLIENT_ID`] with [`CLIENT_SECRET`], or `refresh_token` with a refresh token it issued. Users
/// get a refresh token, clients do not (as from a real UAA).
#[endpoint { method = POST, path = "/oauth/token", content_type = "application/x-www-form-urlencoded" }]
async fn token(rqctx: Ctx, body: UntypedBody) -> Result<HttpResponseOk<Value>, HttpError> {
    let form = parse_form(body.as_str().unwrap_or_default());
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (basic_id, basic_secret) = basic_auth(rqctx.request.headers()).unzip();
    let client_id = basic_id.or_else(|| field("client_id"));
    let client_secret = basic_secret.or_else(|| field("client_secret"));
    let grant = field("grant_type").unwrap_or_default();
    let mut state = rqctx.context().lock().unwrap();
    let now = chrono::Utc::now().timestamp();
    let mut claims = match grant.as_str() {
        "password"
            if field("username").as_deref() == Some(USER)
                && field("password").as_deref() == Some(PASSWORD) =>
        {
            let client = client_id.unwrap_or_else(|| "cf".to_owned());
            let mut claims = base_claims(&state.base_url, &client);
            claims["user_id"] = json!("7d4b1c0e-uaa-user");
            claims["user_name"] = json!(USER);
            claims
        }
        "client_credentials"
            if client_id.as_deref() == Some(CLIENT_ID)
                && client_secret.as_deref() == Some(CLIENT_SECRET) =>
        {
            base_claims(&state.base_url, CLIENT_ID)
        }
        "refresh_token" => {
            let given = field("refresh_token").unwrap_or_default();
            let issued = state.refresh_tokens.iter().find(|(token, _)| *token == given);
            match issued {
                Some((_, claims)) => claims.clone(),
                None => return Err(unauthorized("invalid refresh token")),
            }
        }
        _ => return Err(unauthorized("bad credentials")),
    };
    claims["jti"] = json!(uuid::Uuid::new_v4().simple().to_string());
    claims["iat"] = json!(now);
    claims["exp"] = json!(now + state.lifetime);
    claims["grant_type"] = json!(grant);
    let access_token = FakeUaa::sign_with(&state.signing, &claims);
    let mut answer = json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": state.lifetime,
        "scope": claims["scope"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect::<Vec<_>>().join(" "),
        "jti": claims["jti"],
    });
    if claims.get("user_id").is_some() {
        let refresh_token = match grant.as_str() {
            "refresh_token" => field("refresh_token").unwrap_or_default(),
            _ => {
                let mut refresh = claims.clone();
                refresh["jti"] = json!(format!("{}-r", claims["jti"].as_str().unwrap()));
                FakeUaa::sign_with(&state.signing, &refresh)
            }
        };
        state.refresh_tokens.push((refresh_token.clone(), claims.clone()));
        answer["refresh_token"] = json!(refresh_token);
    }
    state.grants.push(grant);
    Ok(HttpResponseOk(answer))
}

/// The claims of this UAA's tokens for `client_id`, before `jti`, `iat` and `exp`.
fn base_claims(base_url: &str, client_id: &str) -> Value {
    json!({
        "client_id": client_id,
        "scope": ["cloud_controller.read", "cloud_controller.write", "openid"],
        "aud": ["cloud_controller", "openid", client_id],
        "iss": format!("{base_url}/oauth/token"),
    })
}

fn unauthorized(message: &str) -> HttpError {
    HttpError::for_client_error(
        None,
        dropshot::ClientErrorStatusCode::UNAUTHORIZED,
        message.to_owned(),
    )
}

/// The client id and secret of a `Basic` `Authorization` header.
fn basic_auth(headers: &http::HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (id, secret) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(i, s)| (i.to_owned(), s.to_owned()))?;
    Some((id, secret))
}

/// `application/x-www-form-urlencoded` pairs, decoded.
fn parse_form(body: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}
