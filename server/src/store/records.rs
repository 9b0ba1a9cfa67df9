//! The rows the store keeps, as the rest of the server sees them, and how they are read back.

use std::collections::BTreeMap;

use droplet_api::{DropletState, ErrorItem, JobState};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::StoreError;

/// Operation name of upload jobs.
pub const UPLOAD_OPERATION: &str = "droplet.upload";
/// Operation name of delete jobs.
pub const DELETE_OPERATION: &str = "droplet.delete";
/// Operation name of the internal jobs that copy a droplet's bits (no client is given them).
pub const COPY_OPERATION: &str = "droplet.copy";

#[derive(Clone, Debug)]
pub struct DropletRecord {
    pub guid: Uuid,
    pub app_guid: Uuid,
    pub state: DropletState,
    pub error: Option<String>,
    pub checksum_sha256: Option<String>,
    pub blob_size: Option<u64>,
    pub process_types: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug)]
pub struct JobRecord {
    pub guid: Uuid,
    pub operation: String,
    pub state: JobState,
    pub droplet_guid: Option<Uuid>,
    /// The droplet a `droplet.copy` job copies from.
    pub source_guid: Option<Uuid>,
    pub errors: Vec<ErrorItem>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl JobRecord {
    /// A new `PROCESSING` job of `operation` on `droplet`.
    pub fn new(operation: &str, droplet: Uuid, now: i64) -> JobRecord {
        JobRecord {
            guid: Uuid::new_v4(),
            operation: operation.to_owned(),
            state: JobState::Processing,
            droplet_guid: Some(droplet),
            source_guid: None,
            errors: vec![],
            created_at: now,
            updated_at: now,
        }
    }
}

/// An abandoned job whose row cannot be read back (a column holds what the server never writes).
#[derive(Debug)]
pub struct DamagedJob {
    /// The row's `guid`, as it is written.
    pub guid: String,
    pub error: StoreError,
}

/// What a finished upload stored.
pub struct StoredBits {
    pub sha256: String,
    pub size: u64,
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serializes")
}

pub(super) fn decode_err(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("bad {what} in database: {value:?}").into())
}

pub(super) fn uuid_column(row: &AnyRow, column: &str) -> Result<Uuid, sqlx::Error> {
    let text: String = row.try_get(column)?;
    Uuid::parse_str(&text).map_err(|_| decode_err(column, &text))
}

/// A guid column that may be NULL; anything else in it must be a guid.
fn optional_uuid_column(row: &AnyRow, column: &str) -> Result<Option<Uuid>, sqlx::Error> {
    let text: Option<String> = row.try_get(column)?;
    let parse = |text: String| Uuid::parse_str(&text).map_err(|_| decode_err(column, &text));
    text.map(parse).transpose()
}

fn json_column<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|_| decode_err(column, &text))
}

pub(super) fn droplet_state_column(row: &AnyRow) -> Result<DropletState, sqlx::Error> {
    let state: String = row.try_get("state")?;
    DropletState::parse(&state).ok_or_else(|| decode_err("state", &state))
}

pub(super) fn droplet_from_row(row: &AnyRow) -> Result<DropletRecord, sqlx::Error> {
    Ok(DropletRecord {
        guid: uuid_column(row, "guid")?,
        app_guid: uuid_column(row, "app_guid")?,
        state: droplet_state_column(row)?,
        error: row.try_get("error")?,
        checksum_sha256: row.try_get("checksum_sha256")?,
        blob_size: row.try_get::<Option<i64>, _>("blob_size")?.map(|s| s as u64),
        process_types: json_column(row, "process_types")?,
        labels: json_column(row, "labels")?,
        annotations: json_column(row, "annotations")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) fn job_from_row(row: &AnyRow) -> Result<JobRecord, sqlx::Error> {
    let state: String = row.try_get("state")?;
    Ok(JobRecord {
        guid: uuid_column(row, "guid")?,
        operation: row.try_get("operation")?,
        state: JobState::parse(&state).ok_or_else(|| decode_err("state", &state))?,
        droplet_guid: optional_uuid_column(row, "droplet_guid")?,
        source_guid: optional_uuid_column(row, "source_guid")?,
        errors: json_column(row, "errors")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
