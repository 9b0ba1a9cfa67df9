//! The methods a path does not serve. dropshot would answer them itself with a body of its own;
//! here each is a hidden endpoint answering 405 in the CF envelope, with `Allow` naming the methods
//! the path does serve (RFC 9110 asks for it), read from the published document so that the two
//! cannot disagree.

use std::sync::Arc;

use droplet_api::CfError;
use dropshot::{
    ApiDescription, ApiEndpoint, ApiEndpointVersions, Body, CONTENT_TYPE_JSON, Path, RequestContext,
};
use http::{Method, Response, StatusCode, header};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::context::ServerContext;

/// The methods answered with 405 where a path does not serve them; others (`CONNECT`, extension
/// methods) reach dropshot's router, whose 405 has dropshot's body.
const METHODS: [Method; 8] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
    Method::TRACE,
];

/// The one path variable of the API's paths.
#[derive(Deserialize, JsonSchema)]
struct GuidPath {
    #[allow(dead_code)]
    guid: String,
}

type Context = Arc<ServerContext>;

/// Registers a 405 endpoint for every method in `METHODS` that a published path does not serve.
pub fn answer_other_methods(api: &mut ApiDescription<Context>) -> anyhow::Result<()> {
    let document = super::docs::openapi_document();
    let paths = document["paths"].as_object().expect("the document has paths");
    for (path, item) in paths {
        let served: Vec<String> = item
            .as_object()
            .into_iter()
            .flat_map(|ops| ops.keys())
            .map(|m| m.to_uppercase())
            .collect();
        let allow = Arc::<str>::from(served.join(", "));
        for method in METHODS.iter().filter(|m| !served.iter().any(|s| s == m.as_str())) {
            let id = format!("{}_{path}_not_allowed", method.as_str().to_lowercase());
            let allow = allow.clone();
            // A path with a variable needs an extractor that consumes it.
            let endpoint = if path.contains("{guid}") {
                ApiEndpoint::new(
                    id,
                    move |rqctx: RequestContext<Context>, _: Path<GuidPath>| {
                        let allow = allow.clone();
                        async move { not_allowed(&rqctx, &allow) }
                    },
                    method.clone(),
                    CONTENT_TYPE_JSON,
                    path,
                    ApiEndpointVersions::All,
                )
            } else {
                ApiEndpoint::new(
                    id,
                    move |rqctx: RequestContext<Context>| {
                        let allow = allow.clone();
                        async move { not_allowed(&rqctx, &allow) }
                    },
                    method.clone(),
                    CONTENT_TYPE_JSON,
                    path,
                    ApiEndpointVersions::All,
                )
            };
            api.register(endpoint.visible(false))
                .map_err(|e| anyhow::anyhow!("registering {method} {path}: {e}"))?;
        }
    }
    Ok(())
}

fn not_allowed(rqctx: &RequestContext<Context>, allow: &str) -> Result<Response<Body>, CfError> {
    let request = &rqctx.request;
    let error = CfError::method_not_allowed(format!(
        "{} is not served on {}; it takes {allow}.",
        request.method(),
        request.uri().path()
    ));
    let body = serde_json::to_vec(&error).expect("an error serializes");
    Ok(Response::builder()
        .status(StatusCode::METHOD_NOT_ALLOWED)
        .header(header::CONTENT_TYPE, CONTENT_TYPE_JSON)
        .header(header::ALLOW, allow)
        .body(Body::from(body))
        .expect("a valid response"))
}
