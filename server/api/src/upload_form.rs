//! The upload request body: a `multipart/form-data` form, handed to the handler unread so that the
//! bits can be streamed, and described in the spec with its real fields (dropshot's own
//! `MultipartBody` documents the form as one opaque binary string).

use dropshot::{
    ApiEndpointBodyContentType, ExclusiveExtractor, ExtractorMetadata, HttpError, RequestContext,
    ServerContext, TypedBody,
};
use schemars::JsonSchema;

/// Largest `resources` form field accepted; the bits part has its own, configurable limit.
pub const MAX_RESOURCES_FIELD_BYTES: usize = 1024 * 1024;

/// The fields of the upload form, for the spec only: the body is parsed by the server as it arrives.
#[derive(serde::Deserialize, JsonSchema)]
#[allow(dead_code)]
struct DropletUploadForm {
    /// The droplet: a gzip-compressed tarball, with a file name ending in `.tgz` or `.tar.gz`.
    #[schemars(with = "BinaryFile")]
    bits: (),
    /// Optional: files the tarball must contain with that size and SHA-1, sent as a JSON array
    /// (`[{"path", "size_in_bytes", "checksum": {"value"}}]`). The job fails the droplet otherwise.
    #[serde(default)]
    resources: Option<Vec<crate::types::UploadResource>>,
}

/// A file part.
struct BinaryFile;

impl JsonSchema for BinaryFile {
    fn schema_name() -> String {
        "BinaryFile".to_owned()
    }

    fn is_referenceable() -> bool {
        false
    }

    fn json_schema(_: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            format: Some("binary".to_owned()),
            ..Default::default()
        }
        .into()
    }
}

/// An unread `multipart/form-data` upload.
#[derive(Debug)]
pub struct UploadForm {
    /// The request's `Content-Type`, which carries the multipart boundary.
    pub content_type: Option<String>,
    /// The request's `Content-Length`, when the client sent one.
    pub content_length: Option<u64>,
    pub body: dropshot::Body,
}

#[async_trait::async_trait]
impl ExclusiveExtractor for UploadForm {
    async fn from_request<Context: ServerContext>(
        _rqctx: &RequestContext<Context>,
        request: hyper::Request<dropshot::Body>,
    ) -> Result<Self, HttpError> {
        let (content_type, content_length, body) = crate::unread_body::unread(request);
        Ok(UploadForm { content_type, content_length, body })
    }

    fn metadata(_: ApiEndpointBodyContentType) -> ExtractorMetadata {
        // The form's schema, under `multipart/form-data`, as a typed body would describe it.
        TypedBody::<DropletUploadForm>::metadata(ApiEndpointBodyContentType::MultipartFormData)
    }
}
