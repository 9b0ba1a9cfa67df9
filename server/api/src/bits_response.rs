//! The response of a download: the whole blob (200), a byte range of it (206), or a redirect to
//! where the bits can be fetched (302). dropshot can document only one success status per
//! endpoint, so `spec.rs` completes the description of the other two.

use dropshot::{ApiEndpointResponse, HttpError, HttpResponse};
use http::{StatusCode, header};

pub enum DropletBits {
    /// 200: all `size` bytes.
    Whole { body: dropshot::Body, size: u64, etag: String },
    /// 206: bytes `first..=last` of a blob of `size` bytes.
    Partial { body: dropshot::Body, first: u64, last: u64, size: u64, etag: String },
    /// 302: fetch the bits from `location` (a presigned or signed URL), without the bearer token.
    Redirect { location: String },
}

impl HttpResponse for DropletBits {
    fn to_result(self) -> Result<hyper::Response<dropshot::Body>, HttpError> {
        let status = self.status_code();
        let builder = hyper::Response::builder().status(status);
        let response = match self {
            DropletBits::Whole { body, size, etag } => builder
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_LENGTH, size)
                .header(header::ACCEPT_RANGES, "bytes")
                .header(header::ETAG, etag)
                .body(body)?,
            DropletBits::Partial { body, first, last, size, etag } => builder
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_LENGTH, last - first + 1)
                .header(header::CONTENT_RANGE, format!("bytes {first}-{last}/{size}"))
                .header(header::ACCEPT_RANGES, "bytes")
                .header(header::ETAG, etag)
                .body(body)?,
            DropletBits::Redirect { location } => builder
                .header(header::LOCATION, location)
                .header(header::CACHE_CONTROL, "no-store")
                .body(dropshot::Body::empty())?,
        };
        Ok(response)
    }

    fn response_metadata() -> ApiEndpointResponse {
        ApiEndpointResponse {
            schema: None,
            headers: vec![],
            success: Some(StatusCode::OK),
            description: Some("The droplet's gzip tarball".to_owned()),
        }
    }

    fn status_code(&self) -> StatusCode {
        match self {
            DropletBits::Whole { .. } => StatusCode::OK,
            DropletBits::Partial { .. } => StatusCode::PARTIAL_CONTENT,
            DropletBits::Redirect { .. } => StatusCode::FOUND,
        }
    }
}
