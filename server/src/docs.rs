//! `GET /docs`: the API documentation, `openapi.json` rendered by `cargo xtask docs` into one
//! self-contained HTML page (`openapi.html`, committed next to the document and checked against it
//! by `cargo xtask check`).

use dropshot::Body;
use http::{Response, StatusCode, header};

const PAGE: &str = include_str!("../../openapi.html");

pub fn page() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(PAGE))
        .expect("a valid response")
}
