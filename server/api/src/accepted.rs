//! A 202 with no body: what the reference answers to `DELETE /v3/droplets/{guid}`, whose
//! `Location` header names the job. dropshot's `HttpResponseAccepted<T>` always has a body, and its
//! empty-body type is private; this response reuses the empty body of `HttpResponseDeleted`, so
//! the spec documents a 202 without content, like dropshot's own 204s.

use dropshot::{HttpCodedResponse, HttpError, HttpResponseDeleted};
use http::StatusCode;

/// 202 Accepted with an empty body.
pub struct HttpResponseAcceptedEmpty;

impl HttpCodedResponse for HttpResponseAcceptedEmpty {
    type Body = <HttpResponseDeleted as HttpCodedResponse>::Body;
    const STATUS_CODE: StatusCode = StatusCode::ACCEPTED;
    const DESCRIPTION: &'static str = "accepted; the Location header names the job";
}

impl From<HttpResponseAcceptedEmpty> for Result<http::Response<dropshot::Body>, HttpError> {
    fn from(_: HttpResponseAcceptedEmpty) -> Self {
        let response: Result<http::Response<dropshot::Body>, HttpError> =
            HttpResponseDeleted().into();
        response.map(|mut response| {
            *response.status_mut() = StatusCode::ACCEPTED;
            response
        })
    }
}
