//! A client configured for large transfers.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

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
    pub fn for_transfers(baseurl: &str, token: &str) -> Result<Client, reqwest::Error> {
        let mut headers = HeaderMap::new();
        let mut authorization = HeaderValue::from_str(&format!("bearer {token}"))
            .unwrap_or_else(|_| HeaderValue::from_static("bearer invalid-token"));
        authorization.set_sensitive(true);
        headers.insert(AUTHORIZATION, authorization);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()?;
        Ok(Client::new_with_client(baseurl, http))
    }
}
