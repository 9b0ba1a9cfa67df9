//! A client configured for large transfers, with its bearer token checked before anything is
//! sent.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use super::error::ClientError;
use crate::generated::Client;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the connection may sit idle mid-transfer before the request fails.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

impl Client {
    /// A client that sends `Authorization: bearer <token>` and never gives up on a transfer that is
    /// still moving: no total timeout (a 2 GiB droplet may take minutes), only connect and idle-read
    /// timeouts. Redirects (a download's 302 to a presigned URL) are followed; reqwest drops the
    /// `Authorization` header when the redirect leaves this host.
    ///
    /// `token` is the access token, alone or as `cf oauth-token` prints it (`bearer eyJ...`).
    /// A token that cannot be a bearer token (empty, or with characters RFC 6750 does not allow,
    /// such as spaces or a line break from a copy and paste) is refused with
    /// [`ClientError::InvalidToken`] here, rather than sent and answered with a 401 later.
    pub fn for_transfers(baseurl: &str, token: &str) -> Result<Client, ClientError> {
        let mut authorization = bearer_header(token)?;
        authorization.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, authorization);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(ClientError::Http)?;
        Ok(Client::new_with_client(baseurl, http))
    }
}

/// `bearer <token>`, for a token given with or without that prefix, if it is a `b64token` (RFC
/// 6750 section 2.1: letters, digits, `-._~+/`, then any `=`), as every JWT is.
fn bearer_header(token: &str) -> Result<HeaderValue, ClientError> {
    let token = token.trim();
    let token = match token.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        None if token.eq_ignore_ascii_case("bearer") => "",
        _ => token,
    };
    if token.is_empty() {
        return Err(ClientError::InvalidToken("it is empty"));
    }
    let body = token.trim_end_matches('=');
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
    if body.is_empty() || !body.bytes().all(allowed) {
        return Err(ClientError::InvalidToken(
            "a bearer token has only letters, digits and -._~+/ (then any =), and this one has \
             other characters (spaces, line breaks, quotes?)",
        ));
    }
    HeaderValue::from_str(&format!("bearer {token}"))
        .map_err(|_| ClientError::InvalidToken("it is not a valid header value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_taken_alone_or_as_cf_oauth_token_prints_them() {
        for given in ["eyJ.a-b_c.d~+/==", "bearer eyJ.a-b_c.d~+/==", " Bearer  eyJ.a-b_c.d~+/==\n"]
        {
            let header = bearer_header(given).expect(given);
            assert_eq!(header.to_str().unwrap(), "bearer eyJ.a-b_c.d~+/==", "{given:?}");
        }
    }

    #[test]
    fn tokens_that_cannot_be_sent_are_refused_up_front() {
        for given in ["", "  ", "bearer ", "eyJ a.b", "eyJ\na.b", "\"eyJ.a.b\"", "é", "==", "a=b"]
        {
            let error = Client::for_transfers("http://127.0.0.1:1", given).err();
            assert!(matches!(error, Some(ClientError::InvalidToken(_))), "{given:?}: {error:?}");
        }
    }
}
