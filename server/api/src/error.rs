//! The Cloud Foundry error envelope, `{"errors":[{"code","title","detail"}]}`, used by every
//! error response of the API. All CF error kinds the service produces are named here, once.

use dropshot::{ErrorStatusCode, HttpError, HttpResponseError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One error in a CF error body, and one entry of a failed job's `errors`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct ErrorItem {
    /// Numeric CF error code, for example 10010.
    pub code: i64,
    /// CF error name, for example `CF-ResourceNotFound`.
    pub title: String,
    /// Human-readable description.
    pub detail: String,
}

/// A CF error response: an HTTP status and the `errors` envelope.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "CfErrorEnvelope")]
pub struct CfError {
    #[serde(skip)]
    status: ErrorStatusCode,
    pub errors: Vec<ErrorItem>,
    /// What really went wrong, when the client is not told: logged with the request, never sent.
    #[serde(skip)]
    cause: Option<String>,
}

impl CfError {
    fn new(status: ErrorStatusCode, code: i64, title: &str, detail: impl Into<String>) -> Self {
        CfError {
            status,
            errors: vec![ErrorItem { code, title: title.to_owned(), detail: detail.into() }],
            cause: None,
        }
    }

    /// The same error, with the cause the server logs (dropshot logs an error's `Display` with
    /// its request) but does not send.
    pub fn with_cause(mut self, cause: impl std::fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    pub fn status(&self) -> ErrorStatusCode {
        self.status
    }

    pub fn item(&self) -> &ErrorItem {
        &self.errors[0]
    }

    pub fn not_authenticated() -> Self {
        Self::new(
            ErrorStatusCode::UNAUTHORIZED,
            10002,
            "CF-NotAuthenticated",
            "Authentication error",
        )
    }

    pub fn invalid_auth_token() -> Self {
        Self::new(ErrorStatusCode::UNAUTHORIZED, 1000, "CF-InvalidAuthToken", "Invalid Auth Token")
    }

    pub fn not_authorized() -> Self {
        Self::new(
            ErrorStatusCode::FORBIDDEN,
            10003,
            "CF-NotAuthorized",
            "You are not authorized to perform the requested action",
        )
    }

    /// 404 for a resource, with the reference's detail, e.g. `Droplet not found`.
    pub fn not_found(resource: &str) -> Self {
        Self::new(
            ErrorStatusCode::NOT_FOUND,
            10010,
            "CF-ResourceNotFound",
            format!("{resource} not found"),
        )
    }

    pub fn message_parse(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorStatusCode::BAD_REQUEST,
            1001,
            "CF-MessageParseError",
            format!("Request invalid due to parse error: {detail}"),
        )
    }

    pub fn bad_query_parameter(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorStatusCode::BAD_REQUEST,
            10005,
            "CF-BadQueryParameter",
            format!("The query parameter is invalid: {detail}"),
        )
    }

    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(ErrorStatusCode::UNPROCESSABLE_ENTITY, 10008, "CF-UnprocessableEntity", detail)
    }

    /// 413: the upload is larger than the server accepts. The reference's proxy answers a bare 413;
    /// we keep the status and give it a CF body.
    pub fn upload_too_large(max_bytes: u64) -> Self {
        Self::new(
            ErrorStatusCode::PAYLOAD_TOO_LARGE,
            10019,
            "CF-UploadTooLarge",
            format!("The upload exceeds the maximum size of {max_bytes} bytes."),
        )
    }

    /// 416 for a `Range` that does not overlap the blob.
    pub fn range_not_satisfiable(size: u64) -> Self {
        Self::new(
            ErrorStatusCode::RANGE_NOT_SATISFIABLE,
            10020,
            "CF-RangeNotSatisfiable",
            format!("The requested range is not satisfiable; the droplet has {size} bytes."),
        )
    }

    pub fn blobstore_unavailable() -> Self {
        Self::new(
            ErrorStatusCode::BAD_GATEWAY,
            150006,
            "CF-BlobstoreUnavailable",
            "Failed to perform operation due to blobstore unavailability.",
        )
    }

    pub fn blobstore_error() -> Self {
        Self::new(
            ErrorStatusCode::INTERNAL_SERVER_ERROR,
            150007,
            "CF-BlobstoreError",
            "Failed to perform blobstore operation after three retries.",
        )
    }

    /// `CF-BlobstoreError` for a store with no room left (a full disk).
    pub fn blobstore_out_of_space() -> Self {
        Self::new(
            ErrorStatusCode::INTERNAL_SERVER_ERROR,
            150007,
            "CF-BlobstoreError",
            "The blobstore is out of space; nothing was stored. Try again once an operator has \
             freed some.",
        )
    }

    /// 405: the path does not serve the method. The Cloud Controller has no such error (its
    /// router answers 404); this is its generic invalid-request error with the right status.
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(ErrorStatusCode::METHOD_NOT_ALLOWED, 10004, "CF-InvalidRequest", detail)
    }

    /// 400: the `api-version` header names a version the server does not serve. The Cloud
    /// Controller has no versions; this is its generic invalid-request error.
    pub fn unknown_api_version(detail: impl Into<String>) -> Self {
        Self::new(ErrorStatusCode::BAD_REQUEST, 10004, "CF-InvalidRequest", detail)
    }

    pub fn service_unavailable(detail: impl Into<String>) -> Self {
        Self::new(ErrorStatusCode::SERVICE_UNAVAILABLE, 10015, "CF-ServiceUnavailable", detail)
    }

    pub fn unknown() -> Self {
        Self::new(
            ErrorStatusCode::INTERNAL_SERVER_ERROR,
            10001,
            "UnknownError",
            "An unknown error occurred.",
        )
    }
}

impl std::fmt::Display for CfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let item = self.item();
        write!(f, "{} {}: {}", item.code, item.title, item.detail)?;
        match &self.cause {
            Some(cause) => write!(f, " (cause: {cause})"),
            None => Ok(()),
        }
    }
}

impl HttpResponseError for CfError {
    fn status_code(&self) -> ErrorStatusCode {
        self.status
    }
}

/// Errors raised by dropshot itself (extractors) reach clients in the CF envelope too.
impl From<HttpError> for CfError {
    fn from(error: HttpError) -> Self {
        let status = error.status_code;
        let message = error.external_message;
        match status.as_u16() {
            400 if message.contains("query") => CfError::bad_query_parameter(message),
            400 => CfError::message_parse(message),
            404 => Self::new(status, 10010, "CF-ResourceNotFound", message),
            413 => Self::new(status, 10019, "CF-UploadTooLarge", message),
            422 => CfError::unprocessable(message),
            s if s < 500 => Self::new(status, 10004, "CF-InvalidRequest", message),
            _ => CfError::unknown().with_cause(error.internal_message),
        }
    }
}
