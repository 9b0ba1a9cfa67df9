//! Where a storage failure becomes what a client sees, in one place: the metadata database's
//! errors and the blobstore's, as the CF error of a response (the cause kept for the log) or as
//! the error a failed job records.

use droplet_api::{CfError, ErrorItem};

use crate::blobstore::BlobError;
use crate::store::StoreError;

impl From<StoreError> for CfError {
    fn from(error: StoreError) -> Self {
        let cf_error = if error.is_unavailable() {
            CfError::service_unavailable("The metadata database is unavailable.")
        } else if error.is_out_of_space() {
            CfError::service_unavailable(
                "The metadata database is out of space; nothing was changed. Try again once an \
                 operator has freed some.",
            )
        } else {
            CfError::unknown()
        };
        cf_error.with_cause(error)
    }
}

/// As the reference: a missing blob is `CF-BlobstoreUnavailable` (502), a store that fails, also
/// after its retries, `CF-BlobstoreError` (500).
impl From<BlobError> for CfError {
    fn from(error: BlobError) -> Self {
        let cf_error = match error {
            BlobError::NotFound => CfError::blobstore_unavailable(),
            BlobError::OutOfSpace(_) => CfError::blobstore_out_of_space(),
            BlobError::Unavailable(_) | BlobError::Failed(_) => CfError::blobstore_error(),
        };
        cf_error.with_cause(error)
    }
}

/// A failed job's error: `UnknownError` with this detail.
pub fn unknown_job_error(detail: impl Into<String>) -> ErrorItem {
    ErrorItem { detail: detail.into(), ..CfError::unknown().item().clone() }
}

/// A failed job's error when the blobstore failed it: `CF-BlobstoreError`, saying why.
pub fn blobstore_job_error(reason: impl std::fmt::Display) -> ErrorItem {
    let item = CfError::blobstore_error().item().clone();
    ErrorItem { detail: format!("{} ({reason})", item.detail), ..item }
}
