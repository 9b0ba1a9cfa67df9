//! The API trait implemented: each endpoint authenticates, then hands over to the module that owns
//! the operation.

use std::sync::{Arc, LazyLock};

use droplet_api::{
    CfError, CfJson, DownloadHeaders, Droplet, DropletApi, DropletBits, DropletCreate, DropletPath,
    DropletState, Job, JobPath, LocationHeader, SignedUrlQuery, UploadForm,
};
use dropshot::{
    Header, HttpResponseAccepted, HttpResponseCreated, HttpResponseHeaders, HttpResponseOk, Path,
    Query, RequestContext,
};
use uuid::Uuid;

use crate::auth::Access;
use crate::context::ServerContext;
use crate::metadata::DropletRecord;
use crate::time::now_secs;
use crate::{download, present, upload};

pub enum DropletApiImpl {}

type Ctx = RequestContext<Arc<ServerContext>>;

impl DropletApi for DropletApiImpl {
    type Context = Arc<ServerContext>;

    async fn droplet_create(
        rqctx: Ctx,
        body: CfJson<DropletCreate>,
    ) -> Result<HttpResponseCreated<Droplet>, CfError> {
        let ctx = rqctx.context();
        ctx.authenticate(&rqctx)?.require(Access::Write)?;
        let body = body.into_inner();
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
            labels: Default::default(),
            annotations: Default::default(),
            created_at: now,
            updated_at: now,
        };
        ctx.store.insert_droplet(&record).await?;
        Ok(HttpResponseCreated(present::droplet(ctx, &record)))
    }

    async fn droplet_get(
        rqctx: Ctx,
        path: Path<DropletPath>,
    ) -> Result<HttpResponseOk<Droplet>, CfError> {
        let ctx = rqctx.context();
        ctx.authenticate(&rqctx)?.require(Access::Read)?;
        let droplet = ctx.droplet_by_path(&path.into_inner().guid).await?;
        Ok(HttpResponseOk(present::droplet(ctx, &droplet)))
    }

    async fn droplet_upload(
        rqctx: Ctx,
        path: Path<DropletPath>,
        form: UploadForm,
    ) -> Result<HttpResponseHeaders<HttpResponseAccepted<Droplet>, LocationHeader>, CfError> {
        let ctx = rqctx.context();
        let caller = ctx.authenticate(&rqctx)?;
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
        let caller = ctx.authenticate(&rqctx)?;
        let range = headers.into_inner().range;
        download::download(ctx, &path.into_inner().guid, &caller, range.as_deref()).await
    }

    async fn job_get(rqctx: Ctx, path: Path<JobPath>) -> Result<HttpResponseOk<Job>, CfError> {
        let ctx = rqctx.context();
        ctx.authenticate(&rqctx)?.require(Access::Read)?;
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

    async fn openapi_get(_rqctx: Ctx) -> Result<HttpResponseOk<serde_json::Value>, CfError> {
        static DOCUMENT: LazyLock<serde_json::Value> =
            LazyLock::new(droplet_api::spec::openapi_document);
        Ok(HttpResponseOk(DOCUMENT.clone()))
    }
}
