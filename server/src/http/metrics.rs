//! `GET /metrics`: `crate::metrics` in the Prometheus text format, on the API's listener or, with
//! `metrics.bind`, on a listener of its own (`metrics_listener`).

use std::sync::Arc;

use droplet_api::CfError;
use dropshot::{ApiDescription, Body, RequestContext};
use http::{Response, StatusCode, header};

use super::caller::caller;
use crate::auth::Access;
use crate::context::ServerContext;

/// The page, to whoever may see it.
pub async fn page(rqctx: &RequestContext<Arc<ServerContext>>) -> Result<Response<Body>, CfError> {
    let ctx = rqctx.context();
    if ctx.config.metrics.require_token {
        caller(rqctx).await?.require(Access::Read)?;
    }
    let in_use = ctx.config.max_concurrent_uploads - ctx.upload_slots.available_permits();
    ctx.metrics.uploads_streaming.set(in_use as i64);
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)
        .body(Body::from(ctx.metrics.render()))
        .expect("a valid response"))
}

/// The API of the metrics listener: `/metrics` alone.
pub fn metrics_listener() -> ApiDescription<Arc<ServerContext>> {
    let mut api = ApiDescription::new();
    api.register(metrics_only).expect("one endpoint registers");
    api
}

/// `GET /metrics` on the metrics listener.
#[dropshot::endpoint { method = GET, path = "/metrics" }]
async fn metrics_only(
    rqctx: RequestContext<Arc<ServerContext>>,
) -> Result<Response<Body>, CfError> {
    page(&rqctx).await
}
