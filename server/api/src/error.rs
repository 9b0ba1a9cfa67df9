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

    /// 413: a resumable upload's body that would take it past its announced length.
    pub fn past_upload_length(detail: impl Into<String>) -> Self {
        Self::new(ErrorStatusCode::PAYLOAD_TOO_LARGE, 10019, "CF-UploadTooLarge", detail)
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

    /// 400: a request the protocol's rules refuse (a malformed header, say). The Cloud
    /// Controller's generic invalid-request error.
    pub fn invalid_request(detail: impl Into<String>) -> Self {
        Self::new(ErrorStatusCode::BAD_REQUEST, 10004, "CF-InvalidRequest", detail)
    }

    /// 409: an append whose `Upload-Offset` is not where the resumable upload stands.
    pub fn offset_mismatch(detail: impl Into<String>) -> Self {
        Self::new(ErrorStatusCode::CONFLICT, 10021, "CF-UploadOffsetMismatch", detail)
    }

    /// 412: a tus request without `Tus-Resumable: 1.0.0`.
    pub fn tus_version_unsupported(detail: impl Into<String>) -> Self {
        Self::new(ErrorStatusCode::PRECONDITION_FAILED, 10022, "CF-TusVersionUnsupported", detail)
    }

    /// 415: a body of a media type the endpoint does not take.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(ErrorStatusCode::UNSUPPORTED_MEDIA_TYPE, 10023, "CF-UnsupportedMediaType", detail)
    }

    /// 423: another request is appending to the resumable upload.
    pub fn upload_locked(detail: impl Into<String>) -> Self {
        Self::new(ErrorStatusCode::LOCKED, 10024, "CF-UploadLocked", detail)
    }

    /// 460 (tus's checksum extension): an append whose body does not match its
    /// `Upload-Checksum`; none of it was kept.
    pub fn checksum_mismatch(detail: impl Into<String>) -> Self {
        let status = ErrorStatusCode::from_u16(460).expect("460 is a client error status");
        Self::new(status, 10025, "CF-ChecksumMismatch", detail)
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
