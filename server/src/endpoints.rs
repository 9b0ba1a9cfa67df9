//! The API trait implemented: each endpoint authenticates, then hands over to the module that owns
//! the operation.

use std::sync::{Arc, LazyLock};

use droplet_api::{
    CfError, CfJson, DownloadHeaders, Droplet, DropletApi, DropletBits, DropletCreate, DropletPath,
    DropletState, Job, JobPath, Link, LocationHeader, RootDocument, RootLinks, SignedUrlQuery,
    UploadForm, V3RootDocument, V3RootLinks,
};
use droplet_api::{DropletCreateQuery, HttpResponseAcceptedEmpty};
use droplet_api::{DropletList, DropletListParams, DropletUpdate, ListQuery};
use dropshot::{
    Header, HttpResponseAccepted, HttpResponseCreated, HttpResponseHeaders, HttpResponseOk, Path,
    Query, RequestContext,
};
use uuid::Uuid;

use crate::auth::Access;
use crate::context::ServerContext;
use crate::metadata::DropletRecord;
use crate::time::now_secs;
use crate::{copy, delete, download, present, upload};

pub enum DropletApiImpl {}

type Ctx = RequestContext<Arc<ServerContext>>;

impl DropletApi for DropletApiImpl {
    type Context = Arc<ServerContext>;

    async fn droplet_create(
        rqctx: Ctx,
        query: Query<DropletCreateQuery>,
        body: CfJson<DropletCreate>,
    ) -> Result<HttpResponseCreated<Droplet>, CfError> {
        let ctx = rqctx.context();
        if let Some(source) = query.into_inner().source_guid {
            let caller = ctx.authenticate(&rqctx).await?;
            let droplet = copy::start(ctx, &caller, &source, &body.into_inner()).await?;
            return Ok(HttpResponseCreated(present::droplet(ctx, &droplet)));
        }
        ctx.authenticate(&rqctx).await?.require(Access::Write)?;
        let body = body.into_inner();
        let (labels, annotations) = crate::metadata_rules::create_metadata(&body)?;
        let now = now_secs();
        let record = DropletRecord {
            guid: Uuid::new_v4(),
            app_guid: body.relationships.app.data.guid,
            state: DropletState::AwaitingUpload,
            error: None,
            checksum_sha256: None,
            blob_size: None,
            process_types: body
                .process_types
                .unwrap_or_else(|| [("web".to_owned(), String::new())].into()),
            labels,
            annotations,
            created_at: now,
            updated_at: now,
        };
        ctx.store.insert_droplet(&record).await?;
        Ok(HttpResponseCreated(present::droplet(ctx, &record)))
    }

    async fn droplet_delete(
        rqctx: Ctx,
        path: Path<DropletPath>,
    ) -> Result<HttpResponseHeaders<HttpResponseAcceptedEmpty, LocationHeader>, CfError> {
        let ctx = rqctx.context();
        let caller = ctx.authenticate(&rqctx).await?;
        let job = delete::start(ctx, &path.into_inner().guid, &caller).await?;
        let location = ctx.url(&format!("/v3/jobs/{}", job.guid));
        Ok(HttpResponseHeaders::new(HttpResponseAcceptedEmpty, LocationHeader { location }))
    }

    async fn droplet_get(
        rqctx: Ctx,
        path: Path<DropletPath>,
    ) -> Result<HttpResponseOk<Droplet>, CfError> {
        let ctx = rqctx.context();
        let caller = ctx.authenticate(&rqctx).await?;
        caller.require(Access::Read)?;
        let droplet = ctx.droplet_by_path(&path.into_inner().guid).await?;
        // The reference shows secrets to those who may read them in the droplet's space: admins,
        // read-only admins and space developers (here: the write scope).
        if [Access::Write, Access::ReadSecrets].iter().any(|access| caller.may(*access)) {
            Ok(HttpResponseOk(present::droplet(ctx, &droplet)))
        } else {
            let hidden = present::PRIVATE_DATA_HIDDEN;
            Ok(HttpResponseOk(present::droplet_redacted(ctx, &droplet, hidden)))
        }
    }

    async fn droplet_list(
        rqctx: Ctx,
        query: ListQuery<DropletListParams>,
    ) -> Result<HttpResponseOk<DropletList>, CfError> {
        let ctx = rqctx.context();
        ctx.authenticate(&rqctx).await?.require(Access::Read)?;
        let request = crate::listing::parse(&query.into_pairs())?;
        let (total, records) = ctx.store.list_droplets(&request).await?;
        let hidden = present::PRIVATE_DATA_HIDDEN_LIST;
        Ok(HttpResponseOk(DropletList {
            pagination: request.pagination(&|path: &str| ctx.url(path), total),
            resources: records
                .iter()
                .map(|record| present::droplet_redacted(ctx, record, hidden))
                .collect(),
        }))
    }

    async fn droplet_update(
        rqctx: Ctx,
        path: Path<DropletPath>,
        body: CfJson<DropletUpdate>,
    ) -> Result<HttpResponseOk<Droplet>, CfError> {
        let ctx = rqctx.context();
        let caller = ctx.authenticate(&rqctx).await?;
        caller.require(Access::Read)?;
        // The reference's order: 404, then 403, then 422.
        let droplet = ctx.droplet_by_path(&path.into_inner().guid).await?;
        caller.require(Access::Write)?;
        let metadata = body.into_inner().metadata.unwrap_or_default();
        crate::metadata_rules::check(crate::metadata_rules::metadata_errors(&metadata))?;
        let labels = crate::metadata_rules::apply(&droplet.labels, metadata.labels.as_ref());
        let annotations =
            crate::metadata_rules::apply(&droplet.annotations, metadata.annotations.as_ref());
        let updated = ctx
            .store
            .update_metadata(droplet.guid, &labels, &annotations, now_secs())
            .await?
            .ok_or_else(|| CfError::not_found("Droplet"))?;
        Ok(HttpResponseOk(present::droplet(ctx, &updated)))
    }

    async fn droplet_upload(
        rqctx: Ctx,
        path: Path<DropletPath>,
        form: UploadForm,
    ) -> Result<HttpResponseHeaders<HttpResponseAccepted<Droplet>, LocationHeader>, CfError> {
        let ctx = rqctx.context();
        let caller = ctx.authenticate(&rqctx).await?;
        let (droplet, job) = upload::receive(ctx, &path.into_inner().guid, &caller, form).await?;
        let location = ctx.url(&format!("/v3/jobs/{}", job.guid));
        Ok(HttpResponseHeaders::new(
            HttpResponseAccepted(present::droplet(ctx, &droplet)),
            LocationHeader { location },
        ))
    }

    async fn droplet_download(
        rqctx: Ctx,
        path: Path<DropletPath>,
        headers: Header<DownloadHeaders>,
    ) -> Result<DropletBits, CfError> {
        let ctx = rqctx.context();
        let caller = ctx.authenticate(&rqctx).await?;
        let range = headers.into_inner().range;
        download::download(ctx, &path.into_inner().guid, &caller, range.as_deref()).await
    }

    async fn job_get(rqctx: Ctx, path: Path<JobPath>) -> Result<HttpResponseOk<Job>, CfError> {
        let ctx = rqctx.context();
        ctx.authenticate(&rqctx).await?.require(Access::Read)?;
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
        let ctx = rqctx.context();
        let login = ctx.config.login_url().map(|href| Link { href, method: None });
        Ok(HttpResponseOk(RootDocument {
            links: RootLinks {
                self_: Link { href: ctx.url(""), method: None },
                cloud_controller_v2: None,
                cloud_controller_v3: Link { href: ctx.url("/v3"), method: None },
                login: login.clone(),
                uaa: login,
            },
        }))
    }

    async fn v3_root_get(rqctx: Ctx) -> Result<HttpResponseOk<V3RootDocument>, CfError> {
        let ctx = rqctx.context();
        let link = |path: &str| Link { href: ctx.url(path), method: None };
        Ok(HttpResponseOk(V3RootDocument {
            links: V3RootLinks {
                self_: link("/v3"),
                droplets: link("/v3/droplets"),
                jobs: link("/v3/jobs"),
            },
        }))
    }

    async fn openapi_get(_rqctx: Ctx) -> Result<HttpResponseOk<serde_json::Value>, CfError> {
        static DOCUMENT: LazyLock<serde_json::Value> =
            LazyLock::new(droplet_api::spec::openapi_document);
        Ok(HttpResponseOk(DOCUMENT.clone()))
    }

    async fn docs_get(_rqctx: Ctx) -> Result<http::Response<dropshot::Body>, CfError> {
        Ok(crate::docs::page())
    }

    async fn health_get(rqctx: Ctx) -> Result<HttpResponseOk<droplet_api::Health>, CfError> {
        crate::health::check(rqctx.context()).await.map(HttpResponseOk)
    }
}
