//! The API's documentation: `GET /openapi.json`, the document of the version the request names
//! (the latest, `openapi.json`, without a version), and `GET /docs`, the latest document rendered
//! by `cargo xtask docs` into one self-contained HTML page (`openapi.html`, committed next to the
//! document and checked against it by `cargo xtask check`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use dropshot::Body;
use dropshot::semver::Version;
use http::{Response, StatusCode, header};

const PAGE: &str = include_str!("../../../openapi.html");

/// The document of a supported `version`, made once.
pub fn versioned_document(version: &Version) -> &'static serde_json::Value {
    static DOCUMENTS: LazyLock<BTreeMap<Version, serde_json::Value>> = LazyLock::new(|| {
        let versions = droplet_api::versions::all().into_iter();
        versions.map(|v| (v.clone(), droplet_api::spec::versioned_document(&v))).collect()
    });
    DOCUMENTS.get(version).expect("a supported version")
}

pub fn page() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(PAGE))
        .expect("a valid response")
}
