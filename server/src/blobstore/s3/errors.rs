//! What an S3 request's failure means for the server: a missing object, a store out of reach, or
//! a refusal; and the log line that says why, which the CF error a client gets does not.

use object_store::client::HttpErrorKind;

use crate::blobstore::BlobError;

/// Logs why the store failed (the CF error the client gets does not say), except for a
/// missing object, which is an answer rather than a failure.
pub(super) fn logged(log: &slog::Logger, error: BlobError) -> BlobError {
    if !matches!(error, BlobError::NotFound) {
        slog::warn!(log, "S3 blobstore request failed"; "error" => %error);
    }
    error
}

/// `NotFound` for a missing object, `Unavailable` when the store could not be reached (after the
/// retries), `Failed` for anything else.
pub(super) fn blob_error(error: object_store::Error) -> BlobError {
    if let object_store::Error::NotFound { .. } = error {
        return BlobError::NotFound;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(cause) = source {
        if let Some(http) = cause.downcast_ref::<object_store::client::HttpError>() {
            if matches!(
                http.kind(),
                HttpErrorKind::Connect
                    | HttpErrorKind::Request
                    | HttpErrorKind::Timeout
                    | HttpErrorKind::Interrupted
            ) {
                return BlobError::Unavailable(error.to_string());
            }
            break;
        }
        source = cause.source();
    }
    BlobError::Failed(error.to_string())
}
