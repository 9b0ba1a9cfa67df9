//! The body of an append, handed to the handler unread so that it streams into the store. The
//! document names its media type, `application/offset+octet-stream`, which dropshot has no word
//! for: it describes a binary body and `spec.rs` gives it its media type.

use dropshot::{
    ApiEndpointBodyContentType, ExclusiveExtractor, ExtractorMetadata, HttpError, RequestContext,
    ServerContext, StreamingBody,
};

/// An unread append body.
#[derive(Debug)]
pub struct UploadChunk {
    /// The request's `Content-Type`: it must be `application/offset+octet-stream` (415 otherwise).
    pub content_type: Option<String>,
    /// The request's `Content-Length`, when the client sent one.
    pub content_length: Option<u64>,
    pub body: dropshot::Body,
}

#[async_trait::async_trait]
impl ExclusiveExtractor for UploadChunk {
    async fn from_request<Context: ServerContext>(
        _rqctx: &RequestContext<Context>,
        request: hyper::Request<dropshot::Body>,
    ) -> Result<Self, HttpError> {
        let (content_type, content_length, body) = crate::unread_body::unread(request);
        Ok(UploadChunk { content_type, content_length, body })
    }

    fn metadata(_: ApiEndpointBodyContentType) -> ExtractorMetadata {
        // A binary body, as a streamed one is described; `spec.rs` names its media type.
        StreamingBody::metadata(ApiEndpointBodyContentType::Bytes)
    }
}
