//! What every request handler and job shares: configuration, the two storage seams, the token
//! verifier, the job runner and the shutdown's grace period.

use std::sync::Arc;

use slog::Logger;

use crate::auth::signed_urls::UrlSigner;
use crate::auth::tokens::TokenVerifier;
use crate::blobstore::Blobstore;
use crate::config::Config;
use crate::handover::Handovers;
use crate::inspection::parked::ParkedChecks;
use crate::jobs::runner::JobRunner;
use crate::metrics::Metrics;
use crate::shutdown::GracePeriod;
use crate::store::MetadataStore;

pub struct ServerContext {
    pub config: Config,
    /// Base of absolute URLs: `external_url`, or the listener's address (its port chosen before
    /// any request is served).
    pub external_url: String,
    pub store: MetadataStore,
    pub blobs: Arc<dyn Blobstore>,
    pub tokens: TokenVerifier,
    pub url_signer: UrlSigner,
    pub jobs: JobRunner,
    pub metrics: Arc<Metrics>,
    /// One permit per upload whose body may stream at once (`max_concurrent_uploads`).
    pub upload_slots: tokio::sync::Semaphore,
    /// The checks of resumable uploads between their appends in this process.
    pub parked_checks: ParkedChecks,
    /// The appends to resumable uploads running in this process, which a newer one may stop.
    pub appends: Handovers,
    pub grace: GracePeriod,
    pub log: Logger,
}

impl ServerContext {
    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.external_url.trim_end_matches('/'))
    }
}
