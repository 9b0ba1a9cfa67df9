//! The response of a download: the whole blob (200), a byte range of it (206), nothing new (304),
//! a range outside it (416, with the size to ask within), or a redirect to where the bits can be
//! fetched (302). dropshot can document only one success status per endpoint and no headers on
//! errors, so `spec.rs` completes the description.
//!
//! Behind nginx, a download may instead be handed to nginx (`X-Accel-Redirect`), which sends the
//! bits and answers the client as a whole blob or a byte range would: the published contract is
//! what the client gets from nginx, and the handover itself is not part of it.

use dropshot::{ApiEndpointResponse, HttpError, HttpResponse};
use http::{StatusCode, header};

use crate::error::CfError;

/// What every answer with the droplet's bits says about them, as file servers do.
pub struct Representation {
    /// The quoted SHA-256.
    pub etag: String,
    /// RFC 9530's `sha-256=:<base64>:`.
    pub repr_digest: String,
    /// The name a client saves the bits under.
    pub filename: String,
}

pub enum DropletBits {
    /// 200: all `size` bytes (an empty body answering a HEAD).
    Whole { body: dropshot::Body, size: u64, representation: Representation },
    /// 206: bytes `first..=last` of a blob of `size` bytes.
    Partial {
        body: dropshot::Body,
        first: u64,
        last: u64,
        size: u64,
        representation: Representation,
    },
    /// 304: the client's copy, named by `If-None-Match`, is current.
    NotModified { etag: String },
    /// 416: the `Range` does not overlap the `size` bytes.
    Unsatisfiable { size: u64, error: CfError },
    /// 302: fetch the bits from `location` (a presigned or signed URL), without the bearer token.
    Redirect { location: String },
    /// 200 with no body, to the nginx in front: send the file at its internal URI `accel_uri`
    /// (`X-Accel-Redirect`), with these headers, applying the request's `Range` and `If-Range`.
    NginxSends { accel_uri: String, representation: Representation },
}

impl HttpResponse for DropletBits {
    fn to_result(self) -> Result<hyper::Response<dropshot::Body>, HttpError> {
        let status = self.status_code();
        let builder = hyper::Response::builder().status(status);
        let describe = |builder: http::response::Builder, representation: Representation| {
            builder
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::ETAG, representation.etag)
                .header("repr-digest", representation.repr_digest)
                .header(
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", representation.filename),
                )
        };
        let response = match self {
            DropletBits::Whole { body, size, representation } => describe(builder, representation)
                .header(header::ACCEPT_RANGES, "bytes")
                .header(header::CONTENT_LENGTH, size)
                .body(body)?,
            DropletBits::Partial { body, first, last, size, representation } => {
                describe(builder, representation)
                    .header(header::ACCEPT_RANGES, "bytes")
                    .header(header::CONTENT_LENGTH, last - first + 1)
                    .header(header::CONTENT_RANGE, format!("bytes {first}-{last}/{size}"))
                    .body(body)?
            }
            DropletBits::NotModified { etag } => {
                builder.header(header::ETAG, etag).body(dropshot::Body::empty())?
            }
            DropletBits::Unsatisfiable { size, error } => {
                let json = serde_json::to_string(&error)
                    .map_err(|e| HttpError::for_internal_error(e.to_string()))?;
                builder
                    .header(header::CONTENT_TYPE, dropshot::CONTENT_TYPE_JSON)
                    .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                    .body(json.into())?
            }
            DropletBits::Redirect { location } => builder
                .header(header::LOCATION, location)
                .header(header::CACHE_CONTROL, "no-store")
                .body(dropshot::Body::empty())?,
            // nginx adds its own Accept-Ranges to the file it sends; ours would be a second one.
            DropletBits::NginxSends { accel_uri, representation } => {
                describe(builder, representation)
                    .header("x-accel-redirect", accel_uri)
                    .body(dropshot::Body::empty())?
            }
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
            DropletBits::Whole { .. } | DropletBits::NginxSends { .. } => StatusCode::OK,
            DropletBits::Partial { .. } => StatusCode::PARTIAL_CONTENT,
            DropletBits::NotModified { .. } => StatusCode::NOT_MODIFIED,
            DropletBits::Unsatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            DropletBits::Redirect { .. } => StatusCode::FOUND,
        }
    }
}
