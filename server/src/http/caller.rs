//! Who is asking: the caller of a request, from its bearer token (by the rules of
//! `crate::auth::tokens`).

use std::sync::Arc;

use droplet_api::CfError;
use dropshot::RequestContext;

use crate::auth::Caller;
use crate::context::ServerContext;

/// The caller of this request, from its bearer token.
pub async fn caller(rqctx: &RequestContext<Arc<ServerContext>>) -> Result<Caller, CfError> {
    let header = rqctx.request.headers().get(http::header::AUTHORIZATION);
    let header = header.map(|value| value.to_str().map_err(|_| CfError::invalid_auth_token()));
    rqctx.context().tokens.authenticate(header.transpose()?).await
}
