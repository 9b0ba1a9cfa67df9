//! The API's documentation: `GET /openapi.json`, the document itself, and `GET /docs`, the
//! document rendered by `cargo xtask docs` into one self-contained HTML page (`openapi.html`,
//! committed next to the document and checked against it by `cargo xtask check`).

use std::sync::LazyLock;

use dropshot::Body;
use http::{Response, StatusCode, header};

const PAGE: &str = include_str!("../../../openapi.html");

pub fn openapi_document() -> serde_json::Value {
    static DOCUMENT: LazyLock<serde_json::Value> =
        LazyLock::new(droplet_api::spec::openapi_document);
    DOCUMENT.clone()
}

pub fn page() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(PAGE))
        .expect("a valid response")
}
