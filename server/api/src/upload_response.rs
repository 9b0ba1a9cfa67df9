//! The response of an upload: 202 with the droplet and its job's `Location`, or 503 with
//! `Retry-After` when the server is already receiving as many uploads as it takes at once.
//! dropshot documents one success status and no headers on errors, so `spec.rs` describes both.

use dropshot::{ApiEndpointResponse, HttpError, HttpResponse};
use http::{StatusCode, header};

use crate::error::CfError;
use crate::types::Droplet;

pub enum UploadResponse {
    /// 202: the bits arrived; `location` is the job storing and checking them.
    Accepted { droplet: Box<Droplet>, location: String },
    /// 503: no upload slot is free; the client may try again after `retry_after_secs`.
    Busy { error: CfError, retry_after_secs: u64 },
}

impl HttpResponse for UploadResponse {
    fn to_result(self) -> Result<hyper::Response<dropshot::Body>, HttpError> {
        let status = self.status_code();
        let builder = hyper::Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, dropshot::CONTENT_TYPE_JSON);
        let json = |value: serde_json::Result<String>| {
            value.map_err(|e| HttpError::for_internal_error(e.to_string()))
        };
        Ok(match self {
            UploadResponse::Accepted { droplet, location } => builder
                .header(header::LOCATION, location)
                .body(json(serde_json::to_string(&droplet))?.into())?,
            UploadResponse::Busy { error, retry_after_secs } => builder
                .header(header::RETRY_AFTER, retry_after_secs)
                .body(json(serde_json::to_string(&error))?.into())?,
        })
    }

    fn response_metadata() -> ApiEndpointResponse {
        ApiEndpointResponse {
            schema: None,
            headers: vec![],
            success: Some(StatusCode::ACCEPTED),
            description: Some("successfully enqueued operation".to_owned()),
        }
    }

    fn status_code(&self) -> StatusCode {
        match self {
            UploadResponse::Accepted { .. } => StatusCode::ACCEPTED,
            UploadResponse::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}
