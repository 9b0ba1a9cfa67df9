//! A small UAA for the tests: OpenID configuration, `/token_keys` and `/oauth/token` (password and
//! client-credentials grants), issuing RS256 tokens with the fixture keys. Its signing key can be
//! rotated mid-test. It runs on a thread and runtime of its own, so that tests may block on the
//! droplet server while the UAA keeps answering.

use std::sync::{Arc, Mutex};

use dropshot::{
    ApiDescription, ConfigDropshot, HttpError, HttpResponseOk, RequestContext, ServerBuilder,
    UntypedBody, endpoint,
};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use crate::common::sign;

pub const USER: &str = "droplet-admin";
pub const PASSWORD: &str = "uaa-test-password";

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
    let published = rqctx.context().lock().unwrap().published.clone();
    let all: Value = serde_json::from_str(TOKEN_KEYS).unwrap();
    let keys: Vec<&Value> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|key| published.iter().any(|kid| key["kid"] == kid.as_str()))
        .collect();
    Ok(HttpResponseOk(json!({ "keys": keys })))
}

/// `POST /oauth/token`, form-encoded: `grant_type=password` with this UAA's one user, or
/// `client_credentials`. Returns an access token and, for users, a refresh token.
#[endpoint { method = POST, path = "/oauth/token", content_type = "application/x-www-form-urlencoded" }]
async fn token(rqctx: Ctx, body: UntypedBody) -> Result<HttpResponseOk<Value>, HttpError> {
    let form = parse_form(body.as_str().unwrap_or_default());
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let (user_id, client_id) = match field("grant_type") {
        Some("password")
            if field("username") == Some(USER) && field("password") == Some(PASSWORD) =>
        {
            (Some("7d4b1c0e-uaa-user"), "cf")
        }
        Some("client_credentials") => (None, field("client_id").unwrap_or("droplet-client")),
        _ => {
            return Err(HttpError::for_client_error(
                None,
                dropshot::ClientErrorStatusCode::UNAUTHORIZED,
                "bad credentials".into(),
            ));
        }
    };
    let (issuer, kid) = {
        let state = rqctx.context().lock().unwrap();
        (format!("{}/oauth/token", state.base_url), state.signing.clone())
    };
    let now = chrono::Utc::now().timestamp();
    let scope = ["cloud_controller.read", "cloud_controller.write", "openid"];
    let mut claims = json!({
        "jti": uuid::Uuid::new_v4().simple().to_string(),
        "client_id": client_id,
        "scope": scope,
        "aud": ["cloud_controller", "openid", client_id],
        "iss": issuer,
        "iat": now,
        "exp": now + 600,
        "grant_type": field("grant_type"),
    });
    if let Some(user_id) = user_id {
        claims["user_id"] = json!(user_id);
        claims["user_name"] = json!(USER);
    }
    let access_token = FakeUaa::sign_with(&kid, &claims);
    let mut refresh = claims.clone();
    refresh["jti"] = json!(format!("{}-r", claims["jti"].as_str().unwrap()));
    Ok(HttpResponseOk(json!({
        "access_token": access_token,
        "token_type": "bearer",
        "refresh_token": FakeUaa::sign_with(&kid, &refresh),
        "expires_in": 599,
        "scope": scope.join(" "),
        "jti": claims["jti"],
    })))
}

/// `application/x-www-form-urlencoded` pairs, decoded.
fn parse_form(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                (b'%', Some(byte)) => {
                    out.push(byte);
                    i += 3;
                }
                (byte, _) => {
                    out.push(byte);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}
