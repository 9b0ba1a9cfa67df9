//! Starting the server (storage from configuration, recovery of a previous process's work, the
//! HTTP listener) and stopping it gracefully (see `crate::shutdown`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use dropshot::{ConfigDropshot, HandlerTaskMode, HttpServer, ServerBuilder, VersionPolicy};
use slog::Logger;

use crate::auth::key_file::load_or_create_secret;
use crate::auth::signed_urls::UrlSigner;
use crate::auth::tokens::TokenVerifier;
use crate::blobstore::Blobstore;
use crate::blobstore::metered::Metered;
use crate::config::Config;
use crate::context::ServerContext;
use crate::droplets::recovery::Recovery;
use crate::http::api::DropletApiImpl;
use crate::http::metrics::metrics_listener;
use crate::inspection::parked::ParkedChecks;
use crate::jobs::runner::JobRunner;
use crate::metrics::Metrics;
use crate::store::MetadataStore;

pub struct RunningServer {
    server: HttpServer<Arc<ServerContext>>,
    /// `/metrics` on its own address (`metrics.bind`).
    metrics: Option<HttpServer<Arc<ServerContext>>>,
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    fn context(&self) -> &Arc<ServerContext> {
        self.server.app_private()
    }

    /// Stops accepting connections and waits for the requests in flight.
    async fn close(self) -> anyhow::Result<()> {
        if let Some(metrics) = self.metrics {
            metrics.close().await.map_err(|e| anyhow::anyhow!(e))?;
        }
        self.server.close().await.map_err(|e| anyhow::anyhow!(e))
    }

    /// Stops accepting connections and lets the requests in flight, then the jobs, finish
    /// within `grace`; uploads still streaming then are cut, and jobs still running are left to
    /// recovery (their leases lapse, and the next process settles them).
    pub async fn shutdown(self, grace: Duration) -> anyhow::Result<()> {
        let ctx = self.context().clone();
        slog::info!(ctx.log, "shutting down: serving no new connections";
            "grace_secs" => grace.as_secs());
        let deadline = tokio::time::Instant::now() + grace;
        let cut = tokio::spawn({
            let ctx = ctx.clone();
            async move {
                tokio::time::sleep_until(deadline).await;
                slog::warn!(ctx.log, "shutdown grace period over: cutting uploads in flight");
                ctx.grace.end();
            }
        });
        let closed = self.close().await;
        cut.abort();
        if tokio::time::timeout_at(deadline, ctx.jobs.wait()).await.is_err() {
            slog::warn!(
                ctx.log,
                "shutdown grace period over: jobs still running are left to recovery"
            );
        }
        closed
    }
}

pub async fn start(config: Config, log: Logger) -> anyhow::Result<RunningServer> {
    config.validate()?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let development_secret = match config.uses_development_key() {
        true => Some(crate::auth::dev_key::load_or_create(&config.data_dir)?),
        false => None,
    };
    let tokens = TokenVerifier::new(&config.auth, development_secret.as_deref(), &log).await?;
    let url_signer =
        UrlSigner::new(load_or_create_secret(&config.data_dir.join("url-signing-key"))?);
    let store_log = log.new(slog::o!("component" => "metadata"));
    let lease = Duration::from_secs(config.lease_secs);
    let store = MetadataStore::connect(&config.database_url(), lease, &store_log).await?;
    // On SQLite the server is alone with its data, blob directory included.
    let blobs = crate::blobstore::configured::open(&config, store.single_process(), &log)?;
    let metrics = Arc::new(Metrics::new());
    let blobs: Arc<dyn Blobstore> = Arc::new(Metered::new(blobs, metrics.clone()));
    let jobs = JobRunner::new(store.clone(), log.clone(), metrics.clone());
    // Uploads and jobs whose server process is gone (a previous process of this server, or a
    // dead replica sharing the database) are settled now and, in the background, for as long as
    // this runs: their pending writes discarded, upload jobs failed, copies and deletes finished.
    let recovery = Recovery {
        store: store.clone(),
        blobs: blobs.clone(),
        jobs: jobs.clone(),
        metrics: metrics.clone(),
        stale_write_grace: Duration::from_secs(config.stale_write_grace_secs),
        log: log.clone(),
    };
    recovery.start().await?;
    let mut api = droplet_api::droplet_api_mod::api_description::<DropletApiImpl>()
        .map_err(|e| anyhow::anyhow!("building the API: {e}"))?;
    crate::http::methods::answer_other_methods(&mut api)?;
    crate::http::versions::answer_unknown_versions(&mut api)?;
    // The listener's address, and so the external URL, is known before the context is built: a
    // request never sees a context without it.
    let (bind_address, reservation) = reserve(config.bind)?;
    let external_url =
        config.external_url.clone().unwrap_or_else(|| format!("http://{bind_address}"));
    let dropshot_config = ConfigDropshot {
        bind_address,
        default_request_body_max_bytes: droplet_api::MAX_JSON_BODY_BYTES,
        // Handlers run to completion even when the client goes away, so that an abandoned upload
        // is always cleaned up by the code that knows how.
        default_handler_task_mode: HandlerTaskMode::Detached,
        ..Default::default()
    };
    let context = Arc::new(ServerContext {
        config: config.clone(),
        external_url,
        store,
        blobs,
        tokens,
        url_signer,
        jobs,
        metrics,
        upload_slots: tokio::sync::Semaphore::new(config.max_concurrent_uploads),
        parked_checks: ParkedChecks::new(config.max_concurrent_uploads),
        appends: Default::default(),
        grace: Default::default(),
        log: log.clone(),
    });
    let metrics = match config.metrics.bind {
        Some(bind_address) => {
            let listener = ConfigDropshot { bind_address, ..Default::default() };
            let metrics = ServerBuilder::new(metrics_listener(), context.clone(), log.clone())
                .config(listener)
                .start()
                .map_err(|e| anyhow::anyhow!("starting the metrics listener: {e}"))?;
            slog::info!(log, "metrics listener"; "local_addr" => %metrics.local_addr());
            Some(metrics)
        }
        None => None,
    };
    let server = ServerBuilder::new(api, context, log)
        .config(dropshot_config)
        .version_policy(VersionPolicy::Dynamic(Box::new(crate::http::versions::HeaderVersion)))
        .start()
        .map_err(|e| anyhow::anyhow!("starting the HTTP server: {e}"))?;
    drop(reservation);
    Ok(RunningServer { server, metrics })
}

/// Binds a socket to `address` without listening, which picks the port when it is 0 and holds it
/// until the listener binds the same address: both have `SO_REUSEADDR` (std's listeners set it),
/// with which Linux lets sockets share an address as long as at most one of them listens.
fn reserve(address: SocketAddr) -> anyhow::Result<(SocketAddr, tokio::net::TcpSocket)> {
    let socket = match address {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }?;
    socket.set_reuseaddr(true)?;
    socket.bind(address).with_context(|| format!("binding {address}"))?;
    Ok((socket.local_addr()?, socket))
}
