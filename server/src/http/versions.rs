//! API versions on the wire. A request names its version in the `api-version` header (the
//! generated clients send the version of their document); a request without it gets the latest,
//! as CF clients send none. dropshot then routes it to the endpoints whose `versions` include it.
//!
//! A version this server does not serve gets 400 in the CF envelope. dropshot settles a request's
//! version before routing it, and an error there would reach the client in dropshot's own body;
//! so an unknown version is no error to dropshot but `UNKNOWN`, a version below every supported
//! one, which only the hidden endpoints registered here serve, on every path and method: they
//! answer the 400. This is why an endpoint's `versions` start at a supported version
//! (`VERSION_A..` or `VERSION_A..VERSION_B`, never `..VERSION_B`): the ranges must not overlap.

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};

use droplet_api::CfError;
use droplet_api::versions::{self, VERSION_HEADER};
use dropshot::semver::Version;
use dropshot::{
    ApiDescription, ApiEndpointVersions, Body, DynamicVersionPolicy, HttpError, RequestInfo,
};
use http::HeaderMap;

use super::methods::{Context, METHODS, error_response, register_hidden};

/// The version unknown versions are routed as: below every supported one.
const UNKNOWN: Version = Version::new(0, 0, 0);

/// Every supported version, oldest first.
static SUPPORTED: LazyLock<Vec<Version>> = LazyLock::new(versions::all);

/// The version a request asks for: the one its `api-version` header names, the latest without
/// the header; `None` for a version this server does not serve.
pub fn requested(headers: &HeaderMap) -> Option<Version> {
    let Some(named) = headers.get(VERSION_HEADER) else {
        return Some(versions::latest_version());
    };
    let version = named.to_str().ok()?.trim().parse::<Version>().ok()?;
    SUPPORTED.contains(&version).then_some(version)
}

/// The document of the version a request asks for (the latest without `api-version`).
pub fn requested_document(headers: &HeaderMap) -> serde_json::Value {
    // A request for an unknown version is answered before any handler runs.
    let version = requested(headers).unwrap_or_else(versions::latest_version);
    super::docs::versioned_document(&version).clone()
}

/// The server's version policy: the requested version, or `UNKNOWN`.
#[derive(Debug)]
pub struct HeaderVersion;

impl DynamicVersionPolicy for HeaderVersion {
    fn request_extract_version(
        &self,
        request: &http::Request<Body>,
        _log: &slog::Logger,
    ) -> Result<Version, HttpError> {
        Ok(requested(request.headers()).unwrap_or(UNKNOWN))
    }
}

/// Registers, on every path of every version and every method in `METHODS`, the hidden endpoint
/// that answers a request for an unknown version.
pub fn answer_unknown_versions(api: &mut ApiDescription<Context>) -> anyhow::Result<()> {
    let paths: BTreeSet<String> = SUPPORTED
        .iter()
        .flat_map(|version| {
            let document = super::docs::versioned_document(version);
            let paths = document["paths"].as_object().expect("the document has paths");
            paths.keys().cloned().collect::<Vec<_>>()
        })
        .collect();
    let detail = Arc::new(format!(
        "it serves {}; a request without `{VERSION_HEADER}` gets the latest, {}.",
        SUPPORTED.iter().map(Version::to_string).collect::<Vec<_>>().join(", "),
        versions::latest_version(),
    ));
    for path in &paths {
        for method in &METHODS {
            let id = format!("{}_{path}_unknown_version", method.as_str().to_lowercase());
            let detail = detail.clone();
            let answer = move |request: &RequestInfo| {
                let named = request.headers().get(VERSION_HEADER);
                let named = named.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                error_response(&CfError::unknown_api_version(format!(
                    "This server does not serve API version {:?}: {detail}",
                    named.unwrap_or_default()
                )))
            };
            let versions = ApiEndpointVersions::until(versions::oldest_version());
            register_hidden(api, id, method, path, versions, answer)?;
        }
    }
    Ok(())
}
