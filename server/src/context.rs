//! What every request handler shares: configuration, the two storage seams, the token verifier.

use std::sync::{Arc, OnceLock};

use droplet_api::CfError;
use dropshot::RequestContext;
use slog::Logger;
use uuid::Uuid;

use crate::auth::{Caller, TokenVerifier};
use crate::blobstore::Blobstore;
use crate::config::Config;
use crate::metadata::{DropletRecord, MetadataStore};
use crate::signing::UrlSigner;

pub struct ServerContext {
    pub config: Config,
    /// Base of absolute URLs; known once the listener is bound (the port may have been 0).
    pub external_url: OnceLock<String>,
    pub store: MetadataStore,
    pub blobs: Arc<dyn Blobstore>,
    pub tokens: TokenVerifier,
    pub url_signer: UrlSigner,
    pub log: Logger,
    /// The grace period of a shutdown, and the jobs it waits for.
    pub shutdown: crate::shutdown::Shutdown,
}

impl ServerContext {
    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        let base = self.external_url.get().map(String::as_str).unwrap_or("");
        format!("{}{path}", base.trim_end_matches('/'))
    }

    /// The caller of this request, from its bearer token.
    pub async fn authenticate(
        &self,
        rqctx: &RequestContext<Arc<ServerContext>>,
    ) -> Result<Caller, CfError> {
        let header = rqctx.request.headers().get(http::header::AUTHORIZATION);
        let header = header.map(|value| value.to_str().map_err(|_| CfError::invalid_auth_token()));
        self.tokens.authenticate(header.transpose()?).await
    }

    /// The droplet named by a path guid; 404 if there is none (a malformed guid names none).
    pub async fn droplet_by_path(&self, guid: &str) -> Result<DropletRecord, CfError> {
        let not_found = || CfError::not_found("Droplet");
        let guid = Uuid::parse_str(guid).map_err(|_| not_found())?;
        self.store.droplet(guid).await?.ok_or_else(not_found)
    }
}
