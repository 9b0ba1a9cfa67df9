//! The droplet bits API: the Cloud Foundry v3 droplet endpoints that move a droplet's bits.
//!
//! This crate is the contract. It declares the endpoints as a dropshot API trait, with the wire
//! types and the CF error envelope, and nothing about storage or runtime: `openapi.json` at the
//! repository root is produced from it (`cargo xtask regen`), the server implements it, and the
//! client is generated from the document.
//!
//! Every endpoint answers errors as `{"errors":[{"code","title","detail"}]}` ([`CfError`]).
//! Every `/v3` endpoint takes `Authorization: bearer <JWT>` issued by UAA; reads need a read or
//! admin scope, everything else `cloud_controller.write` or `cloud_controller.admin`.

mod bits_response;
mod error;
mod json_body;
pub mod spec;
mod types;
mod upload_form;

pub use bits_response::DropletBits;
pub use error::{CfError, ErrorItem};
pub use json_body::CfJson;
pub use types::*;
pub use upload_form::{MAX_RESOURCES_FIELD_BYTES, UploadForm};

use dropshot::{
    Header, HttpResponseAccepted, HttpResponseCreated, HttpResponseHeaders, HttpResponseOk, Path,
    Query, RequestContext,
};

/// The largest JSON request body accepted (droplet creation and updates).
pub const MAX_JSON_BODY_BYTES: usize = 64 * 1024;

#[dropshot::api_description]
pub trait DropletApi {
    type Context;

    /// Create a droplet
    ///
    /// Creates a droplet for an app, in state `AWAITING_UPLOAD` with the buildpack lifecycle,
    /// ready to receive its bits through the upload endpoint. `process_types` defaults to
    /// `{"web": ""}`.
    #[endpoint {
        method = POST,
        path = "/v3/droplets",
        tags = ["droplets"],
    }]
    async fn droplet_create(
        rqctx: RequestContext<Self::Context>,
        body: CfJson<DropletCreate>,
    ) -> Result<HttpResponseCreated<Droplet>, CfError>;

    /// Get a droplet
    #[endpoint {
        method = GET,
        path = "/v3/droplets/{guid}",
        tags = ["droplets"],
    }]
    async fn droplet_get(
        rqctx: RequestContext<Self::Context>,
        path: Path<DropletPath>,
    ) -> Result<HttpResponseOk<Droplet>, CfError>;

    /// Upload droplet bits
    ///
    /// Uploads a gzip-compressed tarball as the droplet's bits, as a `multipart/form-data` form
    /// whose file part is named `bits` (what `curl -F bits=@droplet.tgz` sends). The body is
    /// streamed: SHA-1 and SHA-256 are computed and the gzip tarball is checked as it arrives.
    ///
    /// Answers 202 with the droplet, now `PROCESSING_UPLOAD`, and a `Location` header naming the
    /// `droplet.upload` job, which ends `COMPLETE` with the droplet `STAGED` and its SHA-256
    /// checksum set, or `FAILED` with the droplet `FAILED` and an error saying why (not a gzip
    /// tarball, or a listed resource missing or different).
    ///
    /// A droplet takes bits once: a second upload, or the loser of two concurrent ones, gets 422.
    /// An upload over the server's maximum size gets 413 and stores nothing. An upload that never
    /// completes leaves the droplet `AWAITING_UPLOAD`.
    #[endpoint {
        method = POST,
        path = "/v3/droplets/{guid}/upload",
        tags = ["droplets"],
    }]
    async fn droplet_upload(
        rqctx: RequestContext<Self::Context>,
        path: Path<DropletPath>,
        form: UploadForm,
    ) -> Result<HttpResponseHeaders<HttpResponseAccepted<Droplet>, LocationHeader>, CfError>;

    /// Download droplet bits
    ///
    /// Streams a `STAGED` droplet's gzip tarball with `Content-Length`, `ETag` (the quoted SHA-256)
    /// and `Accept-Ranges: bytes`. A single `Range` gets 206 with exactly that slice; one that does
    /// not overlap the droplet gets 416.
    ///
    /// When the blobstore hands out URLs (S3, or a local blobstore configured to redirect), the
    /// answer is 302 to a short-lived URL instead. Follow it without the `Authorization` header.
    #[endpoint {
        method = GET,
        path = "/v3/droplets/{guid}/download",
        tags = ["droplets"],
    }]
    async fn droplet_download(
        rqctx: RequestContext<Self::Context>,
        path: Path<DropletPath>,
        headers: Header<DownloadHeaders>,
    ) -> Result<DropletBits, CfError>;

    /// Get a job
    ///
    /// Follows an asynchronous operation such as `droplet.upload`: `PROCESSING`, then `COMPLETE`
    /// or `FAILED` with its `errors`.
    #[endpoint {
        method = GET,
        path = "/v3/jobs/{guid}",
        tags = ["jobs"],
    }]
    async fn job_get(
        rqctx: RequestContext<Self::Context>,
        path: Path<JobPath>,
    ) -> Result<HttpResponseOk<Job>, CfError>;

    /// Download droplet bits through a signed URL
    ///
    /// The target of a download's 302 when the local blobstore is configured to redirect. The URL
    /// carries its own authorization, an HMAC over method, path and expiry, so it takes no bearer
    /// token; a bad signature is 403, an expired URL 403. Answers like the download itself,
    /// `Range` included.
    #[endpoint {
        method = GET,
        path = "/v3/droplets/{guid}/bits",
        tags = ["droplets"],
    }]
    async fn droplet_bits_signed(
        rqctx: RequestContext<Self::Context>,
        path: Path<DropletPath>,
        query: Query<SignedUrlQuery>,
        headers: Header<DownloadHeaders>,
    ) -> Result<DropletBits, CfError>;

    /// Get this API's OpenAPI document
    #[endpoint {
        method = GET,
        path = "/openapi.json",
        unpublished = true,
    }]
    async fn openapi_get(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<serde_json::Value>, CfError>;
}
