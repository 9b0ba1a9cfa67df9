//! The API trait implemented: each endpoint authenticates, then hands over to the droplet
//! operation that owns it, and presents what it answers.

use std::sync::Arc;

use droplet_api::{
    AppDropletListParams, AppPath, CfError, CfJson, DownloadHeaders, Droplet, DropletApi,
    DropletBits, DropletCreate, DropletCreateQuery, DropletList, DropletListParams, DropletPath,
    DropletUpdate, Health, HttpResponseAcceptedEmpty, Job, JobPath, ListQuery, LocationHeader,
    RootDocument, SignedUrlQuery, UploadForm, UploadResponse, V3RootDocument,
};
use dropshot::{
    Header, HttpResponseCreated, HttpResponseHeaders, HttpResponseOk, Path, Query, RequestContext,
};
use uuid::Uuid;

use super::present::{self, PRIVATE_DATA_HIDDEN, PRIVATE_DATA_HIDDEN_LIST};
use crate::auth::{Access, Caller};
use crate::context::ServerContext;
use crate::droplets::listing::{self, ListScope};
use crate::droplets::{copy, create, delete, download, update, upload};

pub enum DropletApiImpl {}

type Ctx = RequestContext<Arc<ServerContext>>;

/// The caller of this request, from its bearer token.
async fn caller(rqctx: &Ctx) -> Result<Caller, CfError> {
    let header = rqctx.request.headers().get(http::header::AUTHORIZATION);
    let header = header.map(|value| value.to_str().map_err(|_| CfError::invalid_auth_token()));
    rqctx.context().tokens.authenticate(header.transpose()?).await
}

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

impl DropletApi for DropletApiImpl {
    type Context = Arc<ServerContext>;

    async fn droplet_create(
        rqctx: Ctx,
        query: Query<DropletCreateQuery>,
        body: CfJson<DropletCreate>,
    ) -> Result<HttpResponseCreated<Droplet>, CfError> {
        let ctx = rqctx.context();
        let caller = caller(&rqctx).await?;
        let droplet = match query.into_inner().source_guid {
            Some(source) => copy::start(ctx, &caller, &source, &body.into_inner()).await?,
            None => create::create(ctx, &caller, body.into_inner()).await?,
        };
        Ok(HttpResponseCreated(present::droplet(ctx, &droplet)))
    }

    async fn droplet_delete(
        rqctx: Ctx,
        path: Path<DropletPath>,
    ) -> Result<HttpResponseHeaders<HttpResponseAcceptedEmpty, LocationHeader>, CfError> {
        let ctx = rqctx.context();
        let caller = caller(&rqctx).await?;
        let job = delete::start(ctx, &path.into_inner().guid, &caller).await?;
        let location = ctx.url(&format!("/v3/jobs/{}", job.guid));
        Ok(HttpResponseHeaders::new(HttpResponseAcceptedEmpty, LocationHeader { location }))
    }

    async fn droplet_get(
        rqctx: Ctx,
        path: Path<DropletPath>,
    ) -> Result<HttpResponseOk<Droplet>, CfError> {
        let ctx = rqctx.context();
        let caller = caller(&rqctx).await?;
        caller.require(Access::Read)?;
        let droplet = crate::droplets::by_path(&ctx.store, &path.into_inner().guid).await?;
        Ok(HttpResponseOk(match caller.sees_secrets() {
            true => present::droplet(ctx, &droplet),
            false => present::droplet_redacted(ctx, &droplet, PRIVATE_DATA_HIDDEN),
        }))
    }

    async fn droplet_list(
        rqctx: Ctx,
        query: ListQuery<DropletListParams>,
    ) -> Result<HttpResponseOk<DropletList>, CfError> {
        caller(&rqctx).await?.require(Access::Read)?;
        list(rqctx.context(), &query.into_pairs(), ListScope::All).await.map(HttpResponseOk)
    }

    async fn app_droplet_list(
        rqctx: Ctx,
        path: Path<AppPath>,
        query: ListQuery<AppDropletListParams>,
    ) -> Result<HttpResponseOk<DropletList>, CfError> {
        caller(&rqctx).await?.require(Access::Read)?;
        let app = path.into_inner().guid;
        let scope = ListScope::App(&app);
        list(rqctx.context(), &query.into_pairs(), scope).await.map(HttpResponseOk)
    }

    async fn droplet_update(
        rqctx: Ctx,
        path: Path<DropletPath>,
        body: CfJson<DropletUpdate>,
    ) -> Result<HttpResponseOk<Droplet>, CfError> {
        let ctx = rqctx.context();
        let caller = caller(&rqctx).await?;
        let guid = path.into_inner().guid;
        let updated = update::update(ctx, &caller, &guid, body.into_inner()).await?;
        Ok(HttpResponseOk(present::droplet(ctx, &updated)))
    }

    async fn droplet_upload(
        rqctx: Ctx,
        path: Path<DropletPath>,
        form: UploadForm,
    ) -> Result<UploadResponse, CfError> {
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
    }

    async fn droplet_download(
        rqctx: Ctx,
        path: Path<DropletPath>,
        headers: Header<DownloadHeaders>,
    ) -> Result<DropletBits, CfError> {
        let ctx = rqctx.context();
        let caller = caller(&rqctx).await?;
        let range = headers.into_inner().range;
        download::download(ctx, &path.into_inner().guid, &caller, range.as_deref()).await
    }

    async fn job_get(rqctx: Ctx, path: Path<JobPath>) -> Result<HttpResponseOk<Job>, CfError> {
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
    }

    async fn droplet_bits_signed(
        rqctx: Ctx,
        path: Path<DropletPath>,
        query: Query<SignedUrlQuery>,
        headers: Header<DownloadHeaders>,
    ) -> Result<DropletBits, CfError> {
        let range = headers.into_inner().range;
        let query = query.into_inner();
        download::signed(rqctx.context(), &path.into_inner().guid, &query, range.as_deref()).await
    }

    async fn root_get(rqctx: Ctx) -> Result<HttpResponseOk<RootDocument>, CfError> {
        Ok(HttpResponseOk(super::root::root_document(rqctx.context())))
    }

    async fn v3_root_get(rqctx: Ctx) -> Result<HttpResponseOk<V3RootDocument>, CfError> {
        Ok(HttpResponseOk(super::root::v3_root_document(rqctx.context())))
    }

    async fn openapi_get(_rqctx: Ctx) -> Result<HttpResponseOk<serde_json::Value>, CfError> {
        Ok(HttpResponseOk(super::docs::openapi_document()))
    }

    async fn docs_get(_rqctx: Ctx) -> Result<http::Response<dropshot::Body>, CfError> {
        Ok(super::docs::page())
    }

    async fn health_get(rqctx: Ctx) -> Result<HttpResponseOk<Health>, CfError> {
        super::health::check(rqctx.context()).await.map(HttpResponseOk)
    }
}
