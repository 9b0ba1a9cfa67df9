//! The API trait implemented: each endpoint authenticates, then hands over to the droplet
//! operation that owns it, and presents what it answers.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use droplet_api::{
    AppDropletListParams, AppPath, CfError, CfJson, DownloadHeaders, Droplet, DropletApi,
    DropletBits, DropletCreate, DropletCreateQuery, DropletList, DropletListParams, DropletPath,
    DropletUpdate, Health, HttpResponseAcceptedEmpty, Job, JobPath, ListQuery, LocationHeader,
    ResumableUploadPath, RootDocument, SignedUrlQuery, Tus, TusCapabilities, TusHeaders,
    UploadAppendHeaders, UploadAppended, UploadChunk, UploadCreated, UploadCreationHeaders,
    UploadEnded, UploadForm, UploadResponse, UploadStatus, V3RootDocument,
};
use dropshot::{
    Header, HttpResponse, HttpResponseCreated, HttpResponseHeaders, HttpResponseOk, Path, Query,
    RequestContext,
};
use uuid::Uuid;

use super::caller::caller;
use super::present::{self, PRIVATE_DATA_HIDDEN, PRIVATE_DATA_HIDDEN_LIST};
use crate::auth::Access;
use crate::context::ServerContext;
use crate::droplets::listing::{self, ListScope};
use crate::droplets::{accel_redirect, copy, create, delete, download, update, upload};

pub enum DropletApiImpl {}

type Ctx = RequestContext<Arc<ServerContext>>;

/// One page of a list of droplets, their secrets redacted as in every list.
async fn list(
    ctx: &ServerContext,
    pairs: &[(String, String)],
    scope: ListScope<'_>,
) -> Result<DropletList, CfError> {
    let request = listing::parse(pairs, scope)?;
    let (total, records) = match request.current_only {
        true => (0, vec![]),
        false => ctx.store.list_droplets(&request.query).await?,
    };
    Ok(DropletList {
        pagination: request.pagination(&|path: &str| ctx.url(path), total),
        resources: records
            .iter()
            .map(|record| present::droplet_redacted(ctx, record, PRIVATE_DATA_HIDDEN_LIST))
            .collect(),
    })
}

/// Answers the request with `answer`, counting it by operation and status, with its latency.
async fn metered<T: HttpResponse>(
    rqctx: &Ctx,
    answer: impl Future<Output = Result<T, CfError>>,
) -> Result<T, CfError> {
    let started = Instant::now();
    let result = answer.await;
    let status = match &result {
        Ok(response) => response.status_code().as_u16(),
        Err(error) => error.status().as_u16(),
    };
    let labels = [rqctx.endpoint.operation_id.as_str(), &status.to_string()];
    let latency = rqctx.context().metrics.request_duration.with_label_values(&labels);
    latency.observe(started.elapsed().as_secs_f64());
    result
}

/// A download, with its body (`GET`) or only its headers (`HEAD`).
async fn download(
    rqctx: &Ctx,
    path: Path<DropletPath>,
    headers: Header<DownloadHeaders>,
    head: bool,
) -> Result<DropletBits, CfError> {
    let caller = caller(rqctx).await?;
    let guid = path.into_inner().guid;
    let nginx_offers = nginx_offers(rqctx, head);
    download::download(rqctx.context(), &guid, &caller, &headers.into_inner(), head, nginx_offers)
        .await
}

/// A download through a signed URL, with its body or only its headers.
async fn signed(
    rqctx: &Ctx,
    path: Path<DropletPath>,
    query: Query<SignedUrlQuery>,
    headers: Header<DownloadHeaders>,
    head: bool,
) -> Result<DropletBits, CfError> {
    let (guid, query, headers) = (path.into_inner().guid, query.into_inner(), headers.into_inner());
    let nginx_offers = nginx_offers(rqctx, head);
    download::signed(rqctx.context(), &guid, &query, &headers, head, nginx_offers).await
}

/// Whether the nginx in front offers to send a download's bits. Read from the request rather than
/// declared with the endpoint's headers: it is between nginx and this server, not part of the
/// contract. A HEAD has no bits to send; the server answers it.
fn nginx_offers(rqctx: &Ctx, head: bool) -> bool {
    !head && accel_redirect::offered(rqctx.request.headers())
}

impl DropletApi for DropletApiImpl {
    type Context = Arc<ServerContext>;

    async fn droplet_create(
        rqctx: Ctx,
        query: Query<DropletCreateQuery>,
        body: CfJson<DropletCreate>,
    ) -> Result<HttpResponseCreated<Droplet>, CfError> {
        metered(&rqctx, async {
            let ctx = rqctx.context();
            let caller = caller(&rqctx).await?;
            let droplet = match query.into_inner().source_guid {
                Some(source) => copy::start(ctx, &caller, &source, &body.into_inner()).await?,
                None => create::create(ctx, &caller, body.into_inner()).await?,
            };
            Ok(HttpResponseCreated(present::droplet(ctx, &droplet)))
        })
        .await
    }

    async fn droplet_delete(
        rqctx: Ctx,
        path: Path<DropletPath>,
    ) -> Result<HttpResponseHeaders<HttpResponseAcceptedEmpty, LocationHeader>, CfError> {
        metered(&rqctx, async {
            let ctx = rqctx.context();
            let caller = caller(&rqctx).await?;
            let job = delete::start(ctx, &path.into_inner().guid, &caller).await?;
            let location = ctx.url(&format!("/v3/jobs/{}", job.guid));
            Ok(HttpResponseHeaders::new(HttpResponseAcceptedEmpty, LocationHeader { location }))
        })
        .await
    }

    async fn droplet_get(
        rqctx: Ctx,
        path: Path<DropletPath>,
    ) -> Result<HttpResponseOk<Droplet>, CfError> {
        metered(&rqctx, async {
            let ctx = rqctx.context();
            let caller = caller(&rqctx).await?;
            caller.require(Access::Read)?;
            let droplet = crate::droplets::by_path(&ctx.store, &path.into_inner().guid).await?;
            Ok(HttpResponseOk(match caller.sees_secrets() {
                true => present::droplet(ctx, &droplet),
                false => present::droplet_redacted(ctx, &droplet, PRIVATE_DATA_HIDDEN),
            }))
        })
        .await
    }

    async fn droplet_list(
        rqctx: Ctx,
        query: ListQuery<DropletListParams>,
    ) -> Result<HttpResponseOk<DropletList>, CfError> {
        metered(&rqctx, async {
            caller(&rqctx).await?.require(Access::Read)?;
            list(rqctx.context(), &query.into_pairs(), ListScope::All).await.map(HttpResponseOk)
        })
        .await
    }

    async fn app_droplet_list(
        rqctx: Ctx,
        path: Path<AppPath>,
        query: ListQuery<AppDropletListParams>,
    ) -> Result<HttpResponseOk<DropletList>, CfError> {
        metered(&rqctx, async {
            caller(&rqctx).await?.require(Access::Read)?;
            let app = path.into_inner().guid;
            let scope = ListScope::App(&app);
            list(rqctx.context(), &query.into_pairs(), scope).await.map(HttpResponseOk)
        })
        .await
    }

    async fn droplet_update(
        rqctx: Ctx,
        path: Path<DropletPath>,
        body: CfJson<DropletUpdate>,
    ) -> Result<HttpResponseOk<Droplet>, CfError> {
        metered(&rqctx, async {
            let ctx = rqctx.context();
            let caller = caller(&rqctx).await?;
            let guid = path.into_inner().guid;
            let updated = update::update(ctx, &caller, &guid, body.into_inner()).await?;
            Ok(HttpResponseOk(present::droplet(ctx, &updated)))
        })
        .await
    }

    async fn droplet_upload(
        rqctx: Ctx,
        path: Path<DropletPath>,
        form: UploadForm,
    ) -> Result<UploadResponse, CfError> {
        metered(&rqctx, async {
            let ctx = rqctx.context();
            let caller = caller(&rqctx).await?;
            Ok(match upload::receive(ctx, &path.into_inner().guid, &caller, form).await? {
                upload::Received::Started { droplet, job } => UploadResponse::Accepted {
                    droplet: Box::new(present::droplet(ctx, &droplet)),
                    location: ctx.url(&format!("/v3/jobs/{}", job.guid)),
                },
                upload::Received::Busy { error, retry_after_secs } => {
                    UploadResponse::Busy { error, retry_after_secs }
                }
            })
        })
        .await
    }

    async fn resumable_upload_options(
        rqctx: Ctx,
        path: Path<DropletPath>,
    ) -> Result<Tus<TusCapabilities>, CfError> {
        metered(&rqctx, async { Ok(super::tus::options(&rqctx, path).await) }).await
    }

    async fn resumable_upload_create(
        rqctx: Ctx,
        path: Path<DropletPath>,
        headers: Header<UploadCreationHeaders>,
    ) -> Result<Tus<UploadCreated>, CfError> {
        metered(&rqctx, async { Ok(super::tus::create(&rqctx, path, headers).await) }).await
    }

    async fn resumable_upload_head(
        rqctx: Ctx,
        path: Path<ResumableUploadPath>,
        headers: Header<TusHeaders>,
    ) -> Result<Tus<UploadStatus>, CfError> {
        metered(&rqctx, async { Ok(super::tus::head(&rqctx, path, headers).await) }).await
    }

    async fn resumable_upload_append(
        rqctx: Ctx,
        path: Path<ResumableUploadPath>,
        headers: Header<UploadAppendHeaders>,
        chunk: UploadChunk,
    ) -> Result<Tus<UploadAppended>, CfError> {
        metered(&rqctx, async { Ok(super::tus::append(&rqctx, path, headers, chunk).await) }).await
    }

    async fn resumable_upload_delete(
        rqctx: Ctx,
        path: Path<ResumableUploadPath>,
        headers: Header<TusHeaders>,
    ) -> Result<Tus<UploadEnded>, CfError> {
        metered(&rqctx, async { Ok(super::tus::delete(&rqctx, path, headers).await) }).await
    }

    async fn droplet_download(
        rqctx: Ctx,
        path: Path<DropletPath>,
        headers: Header<DownloadHeaders>,
    ) -> Result<DropletBits, CfError> {
        metered(&rqctx, download(&rqctx, path, headers, false)).await
    }

    async fn droplet_download_head(
        rqctx: Ctx,
        path: Path<DropletPath>,
        headers: Header<DownloadHeaders>,
    ) -> Result<DropletBits, CfError> {
        metered(&rqctx, download(&rqctx, path, headers, true)).await
    }

    async fn job_get(rqctx: Ctx, path: Path<JobPath>) -> Result<HttpResponseOk<Job>, CfError> {
        metered(&rqctx, async {
            let ctx = rqctx.context();
            caller(&rqctx).await?.require(Access::Read)?;
            let not_found = || CfError::not_found("Job");
            let guid = Uuid::parse_str(&path.into_inner().guid).map_err(|_| not_found())?;
            let job = ctx.store.job(guid).await?.ok_or_else(not_found)?;
            let droplet_exists = match job.droplet_guid {
                Some(droplet) => ctx.store.droplet(droplet).await?.is_some(),
                None => false,
            };
            Ok(HttpResponseOk(present::job(ctx, &job, droplet_exists)))
        })
        .await
    }

    async fn droplet_bits_signed(
        rqctx: Ctx,
        path: Path<DropletPath>,
        query: Query<SignedUrlQuery>,
        headers: Header<DownloadHeaders>,
    ) -> Result<DropletBits, CfError> {
        metered(&rqctx, signed(&rqctx, path, query, headers, false)).await
    }

    async fn droplet_bits_signed_head(
        rqctx: Ctx,
        path: Path<DropletPath>,
        query: Query<SignedUrlQuery>,
        headers: Header<DownloadHeaders>,
    ) -> Result<DropletBits, CfError> {
        metered(&rqctx, signed(&rqctx, path, query, headers, true)).await
    }

    async fn root_get(rqctx: Ctx) -> Result<HttpResponseOk<RootDocument>, CfError> {
        metered(&rqctx, async { Ok(HttpResponseOk(super::root::root_document(rqctx.context()))) })
            .await
    }

    async fn v3_root_get(rqctx: Ctx) -> Result<HttpResponseOk<V3RootDocument>, CfError> {
        metered(&rqctx, async {
            Ok(HttpResponseOk(super::root::v3_root_document(rqctx.context())))
        })
        .await
    }

    async fn openapi_get(rqctx: Ctx) -> Result<HttpResponseOk<serde_json::Value>, CfError> {
        let document = super::versions::requested_document(rqctx.request.headers());
        metered(&rqctx, async { Ok(HttpResponseOk(document)) }).await
    }

    async fn docs_get(rqctx: Ctx) -> Result<http::Response<dropshot::Body>, CfError> {
        metered(&rqctx, async { Ok(super::docs::page()) }).await
    }

    async fn metrics_get(rqctx: Ctx) -> Result<http::Response<dropshot::Body>, CfError> {
        // Counted like any request, before the page is made: a scrape sees the one before it.
        metered(&rqctx, async {
            match rqctx.context().config.metrics.bind {
                Some(_) => Err(CfError::not_found("Metrics")),
                None => super::metrics::page(&rqctx).await,
            }
        })
        .await
    }

    async fn health_get(rqctx: Ctx) -> Result<HttpResponseOk<Health>, CfError> {
        metered(&rqctx, async { super::health::check(rqctx.context()).await.map(HttpResponseOk) })
            .await
    }
}
