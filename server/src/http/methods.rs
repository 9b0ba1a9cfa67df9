//! The methods a path does not serve. dropshot would answer them itself with a body of its own;
//! here each is a hidden endpoint answering 405 in the CF envelope, with `Allow` naming the methods
//! the path does serve (RFC 9110 asks for it), read from each version's published document so
//! that the two cannot disagree. The hidden endpoints of `versions` are made the same way.

use std::sync::Arc;

use droplet_api::CfError;
use dropshot::{
    ApiDescription, ApiEndpoint, ApiEndpointVersions, Body, CONTENT_TYPE_JSON, Path,
    RequestContext, RequestInfo,
};
use http::{Method, Response, header};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::context::ServerContext;

/// The methods answered with 405 where a path does not serve them; others (`CONNECT`, extension
/// methods) reach dropshot's router, whose 405 has dropshot's body.
pub const METHODS: [Method; 8] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
    Method::TRACE,
];

/// The path variables of the API's paths: a guid, and a resumable upload's id after it.
#[derive(Deserialize, JsonSchema)]
struct GuidPath {
    #[allow(dead_code)]
    guid: String,
}

#[derive(Deserialize, JsonSchema)]
struct GuidIdPath {
    #[allow(dead_code)]
    guid: String,
    #[allow(dead_code)]
    id: String,
}

pub type Context = Arc<ServerContext>;

/// Registers, for each version, a 405 endpoint for every method in `METHODS` that a path of
/// that version's document does not serve. (A path a version does not have is a 404 there.)
pub fn answer_other_methods(api: &mut ApiDescription<Context>) -> anyhow::Result<()> {
    let versions = droplet_api::versions::all();
    for (index, version) in versions.iter().enumerate() {
        // From this version to the next one.
        let range = || match versions.get(index + 1) {
            Some(next) => ApiEndpointVersions::from_until(version.clone(), next.clone())
                .expect("supported versions are in order"),
            None => ApiEndpointVersions::from(version.clone()),
        };
        let document = super::docs::versioned_document(version);
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
                let id = format!("{}_{path}_not_allowed_{version}", method.as_str().to_lowercase());
                let allow = allow.clone();
                let answer = move |request: &RequestInfo| not_allowed(request, &allow);
                register_hidden(api, id, method, path, range(), answer)?;
            }
        }
    }
    Ok(())
}

/// Registers a hidden endpoint answering `method` on `path`, for the versions in `versions`, with
/// what `answer` makes of the request.
pub fn register_hidden<F>(
    api: &mut ApiDescription<Context>,
    id: String,
    method: &Method,
    path: &str,
    versions: ApiEndpointVersions,
    answer: F,
) -> anyhow::Result<()>
where
    F: Fn(&RequestInfo) -> Response<Body> + Send + Sync + 'static,
{
    let answer = Arc::new(answer);
    // A path with variables needs an extractor that consumes them.
    let endpoint = if path.contains("{id}") {
        consuming::<GuidIdPath, F>(id, answer, method, path, versions)
    } else if path.contains("{guid}") {
        consuming::<GuidPath, F>(id, answer, method, path, versions)
    } else {
        ApiEndpoint::new(
            id,
            move |rqctx: RequestContext<Context>| {
                let answer = answer.clone();
                async move { Ok::<_, CfError>(answer(&rqctx.request)) }
            },
            method.clone(),
            CONTENT_TYPE_JSON,
            path,
            versions,
        )
    };
    api.register(endpoint.visible(false))
        .map_err(|e| anyhow::anyhow!("registering {method} {path}: {e}"))
}

/// A hidden endpoint whose path variables `V` takes, answering what `answer` makes of the request.
fn consuming<V, F>(
    id: String,
    answer: Arc<F>,
    method: &Method,
    path: &str,
    versions: ApiEndpointVersions,
) -> ApiEndpoint<Context>
where
    V: serde::de::DeserializeOwned + JsonSchema + Send + Sync + 'static,
    F: Fn(&RequestInfo) -> Response<Body> + Send + Sync + 'static,
{
    ApiEndpoint::new(
        id,
        move |rqctx: RequestContext<Context>, _: Path<V>| {
            let answer = answer.clone();
            async move { Ok::<_, CfError>(answer(&rqctx.request)) }
        },
        method.clone(),
        CONTENT_TYPE_JSON,
        path,
        versions,
    )
}

fn not_allowed(request: &RequestInfo, allow: &str) -> Response<Body> {
    let error = CfError::method_not_allowed(format!(
        "{} is not served on {}; it takes {allow}.",
        request.method(),
        request.uri().path()
    ));
    let mut response = error_response(&error);
    let allow = header::HeaderValue::from_str(allow).expect("method names are valid header values");
    response.headers_mut().insert(header::ALLOW, allow);
    response
}

/// `error` as a response, in the CF envelope.
pub fn error_response(error: &CfError) -> Response<Body> {
    let body = serde_json::to_vec(error).expect("an error serializes");
    Response::builder()
        .status(error.status().as_u16())
        .header(header::CONTENT_TYPE, CONTENT_TYPE_JSON)
        .body(Body::from(body))
        .expect("a valid response")
}
