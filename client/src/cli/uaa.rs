//! Getting a token from the UAA: found through the API's root document (`links.login`, else
//! `links.uaa`), asked at its `/oauth/token` with the client credentials or password grant, and
//! renewed with the refresh token (or, for client credentials without one, by asking again).

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use super::args::LoginArgs;
use super::session::{Grant, Session};
use crate::Client;

/// The cf CLI's public UAA client, which every UAA has for the password grant.
const PUBLIC_CLIENT: &str = "cf";
/// How long a UAA request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What `/oauth/token` answers.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    /// Seconds the access token lives.
    expires_in: i64,
}

/// Logs in to the UAA of the API at `api` as `args` say.
pub async fn login(api: &str, args: LoginArgs) -> anyhow::Result<Session> {
    let token_endpoint = token_endpoint(api).await?;
    let (grant, client_id, client_secret, user, form) = match args.username {
        Some(user) => {
            let password = match (args.password, args.password_stdin) {
                (Some(password), _) => password,
                (None, true) => read_password()?,
                (None, false) => bail!(
                    "no password for {user}: pass --password, set DROPLET_PASSWORD, or use \
                     --password-stdin"
                ),
            };
            let client_id = args.client_id.unwrap_or_else(|| PUBLIC_CLIENT.to_owned());
            let form = vec![
                ("grant_type", "password".to_owned()),
                ("username", user.clone()),
                ("password", password),
            ];
            (Grant::Password, client_id, args.client_secret.unwrap_or_default(), Some(user), form)
        }
        None => {
            let (Some(client_id), Some(secret)) = (args.client_id, args.client_secret) else {
                bail!(
                    "say how to log in: --username (a user's password grant), or --client-id \
                     and --client-secret (client credentials)"
                );
            };
            let form = vec![("grant_type", "client_credentials".to_owned())];
            (Grant::ClientCredentials, client_id, secret, None, form)
        }
    };
    let mut session = Session {
        api: api.to_owned(),
        token_endpoint,
        grant,
        client_id,
        client_secret,
        user,
        access_token: String::new(),
        refresh_token: None,
        expires_at: 0,
    };
    let response = ask(&session, &form).await?;
    update(&mut session, response);
    Ok(session)
}

/// A session with a fresh access token: renewed with its refresh token, or for client
/// credentials without one, asked for again.
pub async fn renew(mut session: Session) -> anyhow::Result<Session> {
    let refreshed = match &session.refresh_token {
        Some(refresh) => {
            let form =
                [("grant_type", "refresh_token".to_owned()), ("refresh_token", refresh.clone())];
            Some(ask(&session, &form).await)
        }
        None => None,
    };
    let response = match (refreshed, session.grant) {
        (Some(Ok(response)), _) => response,
        // No refresh token, or the UAA no longer takes it: the client's own credentials do.
        (_, Grant::ClientCredentials) => {
            ask(&session, &[("grant_type", "client_credentials".to_owned())]).await?
        }
        (Some(Err(error)), Grant::Password) => {
            return Err(error.context(
                "the stored login has expired and could not be renewed: run `droplet login` again",
            ));
        }
        (None, Grant::Password) => {
            bail!(
                "the stored login has expired and has no refresh token: run `droplet login` again"
            )
        }
    };
    update(&mut session, response);
    Ok(session)
}

fn update(session: &mut Session, response: TokenResponse) {
    session.access_token = response.access_token;
    // A UAA that does not rotate refresh tokens may leave it out of a refresh's answer.
    if response.refresh_token.is_some() {
        session.refresh_token = response.refresh_token;
    }
    session.expires_at = chrono::Utc::now().timestamp() + response.expires_in;
}

/// The UAA's token endpoint, from the API's root document.
async fn token_endpoint(api: &str) -> anyhow::Result<String> {
    let root = Client::new(api).root_get().await.map_err(crate::ClientError::from);
    let root = root.with_context(|| format!("reading the root document of {api}"))?.into_inner();
    let uaa = root.links.login.or(root.links.uaa).with_context(|| {
        format!(
            "{api} names no UAA to log in to (no links.login in its root document); a server on \
             its development key takes a token from `droplet-server token` with --token"
        )
    })?;
    Ok(format!("{}/oauth/token", uaa.href.trim_end_matches('/')))
}

/// Posts a grant to the token endpoint, authenticated as the session's client.
async fn ask(session: &Session, form: &[(&str, String)]) -> anyhow::Result<TokenResponse> {
    let http = reqwest::Client::builder().timeout(TIMEOUT).build()?;
    let grant = form.first().map(|(_, value)| value.as_str()).unwrap_or_default();
    let response = http
        .post(&session.token_endpoint)
        .basic_auth(&session.client_id, Some(&session.client_secret))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(form)
        .send()
        .await
        .map_err(|e| crate::ClientError::Http(e.without_url()))
        .with_context(|| format!("asking {} for a token", session.token_endpoint))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        let reason = serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| {
            let text = v.get("error_description").or(v.get("message")).or(v.get("error"));
            text.and_then(|t| t.as_str()).map(str::to_owned)
        });
        bail!(
            "the UAA refused the {grant} grant: {} ({status})",
            reason.unwrap_or_else(|| "no reason given".to_owned())
        );
    }
    serde_json::from_str(&body).with_context(|| format!("the UAA's answer to the {grant} grant"))
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
