//! What the tus endpoints answer. Every answer carries `Tus-Resumable: 1.0.0`, refusals
//! included, which are CF error bodies with the headers tus asks for: `Tus-Version` on a 412,
//! `Retry-After` where waiting helps (423, 503). dropshot documents one success per endpoint
//! and no headers on errors, so the success's headers are documented here and the refusals'
//! statuses in `spec.rs`.

use dropshot::{
    ApiEndpointResponse, HttpError, HttpResponse, HttpResponseHeaders, HttpResponseUpdatedNoContent,
};
use http::{StatusCode, header};
use schemars::JsonSchema;
use serde::Serialize;

use super::protocol::TUS_VERSION;
use crate::error::CfError;

/// The headers of a tus endpoint's success, and its status.
pub trait TusAnswer: Serialize + JsonSchema + Send + Sync + 'static {
    const STATUS: StatusCode;
    const DESCRIPTION: &'static str;
}

/// A tus endpoint's answer: its success, or a refusal in the CF envelope.
pub enum Tus<T> {
    Answer(T),
    /// `retry_after_secs`: how long to wait before asking again, when waiting helps.
    Refused {
        error: CfError,
        retry_after_secs: Option<u64>,
    },
}

impl<T> From<CfError> for Tus<T> {
    fn from(error: CfError) -> Self {
        Tus::Refused { error, retry_after_secs: None }
    }
}

/// `Tus-Resumable: 1.0.0`, which every answer carries.
#[derive(Clone, Copy, Debug, Default)]
pub struct TusResumable;

impl Serialize for TusResumable {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(TUS_VERSION)
    }
}

impl JsonSchema for TusResumable {
    fn schema_name() -> String {
        "TusResumable".to_owned()
    }

    fn is_referenceable() -> bool {
        false
    }

    fn json_schema(_: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            enum_values: Some(vec![TUS_VERSION.into()]),
            ..Default::default()
        }
        .into()
    }
}

/// Serializes a number as the text a header holds, documented as the number it is.
fn as_text<S: serde::Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// 201: the upload exists and takes its bytes at its URL.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct UploadCreated {
    /// The tus version of the answer: `1.0.0`.
    #[serde(rename = "Tus-Resumable")]
    pub tus_resumable: TusResumable,
    /// Absolute URL of the upload, `.../v3/droplets/{guid}/uploads/{id}`: where to `PATCH` its
    /// bytes, `HEAD` its offset, `DELETE` it.
    #[serde(rename = "Location")]
    pub location: String,
    /// When the upload expires unless it is completed or appended to first (an HTTP date).
    #[serde(rename = "Upload-Expires")]
    pub upload_expires: String,
}

impl TusAnswer for UploadCreated {
    const STATUS: StatusCode = StatusCode::CREATED;
    const DESCRIPTION: &'static str = "The upload was created; its URL is in `Location`.";
}

/// 200 to `HEAD`: where the upload stands.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct UploadStatus {
    /// The tus version of the answer: `1.0.0`.
    #[serde(rename = "Tus-Resumable")]
    pub tus_resumable: TusResumable,
    /// The bytes received and durable: where the next `PATCH` goes.
    #[serde(rename = "Upload-Offset", serialize_with = "as_text")]
    pub upload_offset: u64,
    /// The bytes the upload brings in all.
    #[serde(rename = "Upload-Length", serialize_with = "as_text")]
    pub upload_length: u64,
    /// When the upload expires unless completed or appended to first; absent once complete.
    #[serde(rename = "Upload-Expires", skip_serializing_if = "Option::is_none")]
    pub upload_expires: Option<String>,
    /// The metadata the creation carried, as it carried it.
    #[serde(rename = "Upload-Metadata", skip_serializing_if = "Option::is_none")]
    pub upload_metadata: Option<String>,
    /// `no-store`: an offset is never to be taken from a cache.
    #[serde(rename = "Cache-Control")]
    pub cache_control: String,
    /// Once complete: absolute URL of the `droplet.upload` job checking and storing the bits.
    #[serde(rename = "Job-Location", skip_serializing_if = "Option::is_none")]
    pub job_location: Option<String>,
}

impl TusAnswer for UploadStatus {
    const STATUS: StatusCode = StatusCode::OK;
    const DESCRIPTION: &'static str = "The upload's offset and length.";
}

/// 204 to `PATCH`: the body's bytes are durable.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct UploadAppended {
    /// The tus version of the answer: `1.0.0`.
    #[serde(rename = "Tus-Resumable")]
    pub tus_resumable: TusResumable,
    /// The bytes received and durable, this body's included: where the next `PATCH` goes.
    #[serde(rename = "Upload-Offset", serialize_with = "as_text")]
    pub upload_offset: u64,
    /// When the upload expires unless completed or appended to first; absent once complete.
    #[serde(rename = "Upload-Expires", skip_serializing_if = "Option::is_none")]
    pub upload_expires: Option<String>,
    /// Once complete: absolute URL of the `droplet.upload` job checking and storing the bits.
    #[serde(rename = "Job-Location", skip_serializing_if = "Option::is_none")]
    pub job_location: Option<String>,
}

impl TusAnswer for UploadAppended {
    const STATUS: StatusCode = StatusCode::NO_CONTENT;
    const DESCRIPTION: &'static str = "The body was appended, and is durable.";
}

/// 204 to `DELETE`: the upload is over and its bytes are freed.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct UploadEnded {
    /// The tus version of the answer: `1.0.0`.
    #[serde(rename = "Tus-Resumable")]
    pub tus_resumable: TusResumable,
}

impl TusAnswer for UploadEnded {
    const STATUS: StatusCode = StatusCode::NO_CONTENT;
    const DESCRIPTION: &'static str =
        "The upload is over: its bytes are freed, and the droplet takes another upload.";
}

/// 204 to `OPTIONS`: what this server's tus speaks.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct TusCapabilities {
    /// The tus version of the answer: `1.0.0`.
    #[serde(rename = "Tus-Resumable")]
    pub tus_resumable: TusResumable,
    /// The tus versions served: `1.0.0`.
    #[serde(rename = "Tus-Version")]
    pub tus_version: String,
    /// `creation,termination,expiration,checksum`.
    #[serde(rename = "Tus-Extension")]
    pub tus_extension: String,
    /// The largest `Upload-Length` taken: the server's `max_upload_bytes`.
    #[serde(rename = "Tus-Max-Size", serialize_with = "as_text")]
    pub tus_max_size: u64,
    /// The algorithms `Upload-Checksum` may name: `sha256`.
    #[serde(rename = "Tus-Checksum-Algorithm")]
    pub tus_checksum_algorithm: String,
}

impl TusAnswer for TusCapabilities {
    const STATUS: StatusCode = StatusCode::NO_CONTENT;
    const DESCRIPTION: &'static str = "What this server's tus speaks.";
}

const TUS_RESUMABLE: &str = "tus-resumable";

impl<T: TusAnswer> HttpResponse for Tus<T> {
    fn to_result(self) -> Result<hyper::Response<dropshot::Body>, HttpError> {
        match self {
            Tus::Answer(answer) => {
                let mut response =
                    HttpResponseHeaders::new(HttpResponseUpdatedNoContent(), answer).to_result()?;
                *response.status_mut() = T::STATUS;
                Ok(response)
            }
            Tus::Refused { error, retry_after_secs } => {
                let status = error.status().as_status();
                let body = serde_json::to_string(&error)
                    .map_err(|e| HttpError::for_internal_error(e.to_string()))?;
                let mut builder = hyper::Response::builder()
                    .status(status)
                    .header(header::CONTENT_TYPE, dropshot::CONTENT_TYPE_JSON);
                if status == StatusCode::PRECONDITION_FAILED {
                    builder = builder.header("tus-version", TUS_VERSION);
                }
                if let Some(seconds) = retry_after_secs {
                    builder = builder.header(header::RETRY_AFTER, seconds);
                }
                Ok(builder.header(TUS_RESUMABLE, TUS_VERSION).body(body.into())?)
            }
        }
    }

    fn response_metadata() -> ApiEndpointResponse {
        let mut metadata =
            HttpResponseHeaders::<HttpResponseUpdatedNoContent, T>::response_metadata();
        metadata.success = Some(T::STATUS);
        metadata.description = Some(T::DESCRIPTION.to_owned());
        metadata
    }

    fn status_code(&self) -> StatusCode {
        match self {
            Tus::Answer(_) => T::STATUS,
            Tus::Refused { error, .. } => error.status().as_status(),
        }
    }
}
