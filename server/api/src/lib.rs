//! The droplet bits API: the Cloud Foundry v3 droplet endpoints that move a droplet's bits.
//!
//! This crate is the contract. It declares the endpoints as a dropshot API trait, with the wire
//! types and the CF error envelope, and nothing about storage or runtime: `openapi.json` at the
//! repository root is produced from it (`cargo xtask regen`), the server implements it, and the
//! client is generated from the document.
//!
//! The API is versioned ([`versions`]): each version has its document under `openapi/droplets/`,
//! `openapi.json` is the latest, and every endpoint says in `versions = ...` which versions serve
//! it. A version main has published never changes incompatibly.
//!
//! Every endpoint answers errors as `{"errors":[{"code","title","detail"}]}` ([`CfError`]).
//! Every `/v3` endpoint takes `Authorization: bearer <JWT>` issued by UAA; reads need a read or
//! admin scope, everything else `cloud_controller.write` or `cloud_controller.admin`.

mod accepted;
mod bits_response;
mod error;
mod health;
mod json_body;
mod list_query;
pub mod resumable;
pub mod spec;
mod types;
mod unread_body;
mod upload_form;
mod upload_response;
pub mod versions;

pub use accepted::HttpResponseAcceptedEmpty;
pub use bits_response::{DropletBits, Representation};
pub use error::{CfError, ErrorItem};
pub use health::Health;
pub use json_body::{CfJson, MAX_JSON_BODY_BYTES};
pub use list_query::{ListQuery, parse_query_string};
pub use resumable::{
    ResumableUploadPath, Tus, TusCapabilities, TusHeaders, TusResumable, UploadAppendHeaders,
    UploadAppended, UploadChunk, UploadCreated, UploadCreationHeaders, UploadEnded, UploadStatus,
};
pub use types::*;
pub use upload_form::{MAX_RESOURCES_FIELD_BYTES, UploadForm};
pub use upload_response::UploadResponse;

use dropshot::{
    Header, HttpResponseCreated, HttpResponseHeaders, HttpResponseOk, Path, Query, RequestContext,
};
use versions::*;

#[dropshot::api_description]
pub trait DropletApi {
    type Context;

    /// Create a droplet
    ///
    /// Creates a droplet for an app, in state `AWAITING_UPLOAD` with the buildpack lifecycle,
    /// ready to receive its bits through the upload endpoint. `process_types` defaults to
    /// `{"web": ""}`.
    ///
    /// With `source_guid`, copies that droplet to the app instead: the body then holds only
    /// `relationships`, the source must be `STAGED` (422 otherwise, 404 if it does not exist),
    /// and the new droplet is answered in state `COPYING`. Once its bits are copied it takes the
    /// source's state and checksum, or becomes `FAILED` with an error `failed to copy - ...`;
    /// there is no job to follow, the droplet's state is what to poll.
    #[endpoint { method = POST, path = "/v3/droplets",
        tags = ["droplets"], versions = VERSION_INITIAL.. }]
    async fn droplet_create(
        rqctx: RequestContext<Self::Context>,
        query: Query<DropletCreateQuery>,
        body: CfJson<DropletCreate>,
    ) -> Result<HttpResponseCreated<Droplet>, CfError>;

    /// Get a droplet
    #[endpoint { method = GET, path = "/v3/droplets/{guid}",
        tags = ["droplets"], versions = VERSION_INITIAL.. }]
    async fn droplet_get(
        rqctx: RequestContext<Self::Context>,
        path: Path<DropletPath>,
    ) -> Result<HttpResponseOk<Droplet>, CfError>;

    /// List droplets
    ///
    /// Pages through the droplets, filtered by `guids`, `states`, `app_guids`, `label_selector`,
    /// `created_ats` and `updated_ats`, ordered by `order_by`. Every requirement of a filter must
    /// hold. `total_results` counts all matching droplets; the `first`, `last`, `next` and
    /// `previous` links carry the same query.
    ///
    /// In lists, `process_types` and `execution_metadata` are redacted as
    /// `[PRIVATE DATA HIDDEN IN LISTS]`, as in the reference. An unknown or malformed query
    /// parameter is 400 `CF-BadQueryParameter`, naming it.
    #[endpoint { method = GET, path = "/v3/droplets",
        tags = ["droplets"], versions = VERSION_INITIAL.. }]
    async fn droplet_list(
        rqctx: RequestContext<Self::Context>,
        query: ListQuery<DropletListParams>,
    ) -> Result<HttpResponseOk<DropletList>, CfError>;

    /// List an app's droplets
    ///
    /// The droplets of the app in the path, filtered, ordered and paged as by `GET /v3/droplets`
    /// (without `app_guids`), as the reference's `GET /v3/apps/{guid}/droplets`. The app is an
    /// opaque reference here: an app no droplet names has an empty list, not a 404. `current=true`
    /// asks for the app's current droplet, which this service does not track: the list is then
    /// empty. Pagination links point at this path.
    #[endpoint { method = GET, path = "/v3/apps/{guid}/droplets",
        tags = ["droplets"], versions = VERSION_INITIAL.. }]
    async fn app_droplet_list(
        rqctx: RequestContext<Self::Context>,
        path: Path<AppPath>,
        query: ListQuery<AppDropletListParams>,
    ) -> Result<HttpResponseOk<DropletList>, CfError>;

    /// Update a droplet's metadata
    ///
    /// Sets the labels and annotations given in `metadata`; a null value deletes the key, and
    /// keys not mentioned stay. Keys and values follow the Cloud Controller's rules; a violation
    /// is 422 and changes nothing.
    #[endpoint { method = PATCH, path = "/v3/droplets/{guid}",
        tags = ["droplets"], versions = VERSION_INITIAL.. }]
    async fn droplet_update(
        rqctx: RequestContext<Self::Context>,
        path: Path<DropletPath>,
        body: CfJson<DropletUpdate>,
    ) -> Result<HttpResponseOk<Droplet>, CfError>;

    /// Delete a droplet
    ///
    /// Removes the droplet at once (it is not found from then on) and answers 202 with no body
    /// and a `Location` header naming a `droplet.delete` job, which removes the droplet's bits
    /// from the blobstore and ends `COMPLETE`. The job is durable: a server restart finishes it.
    #[endpoint { method = DELETE, path = "/v3/droplets/{guid}",
        tags = ["droplets"], versions = VERSION_INITIAL.. }]
    async fn droplet_delete(
        rqctx: RequestContext<Self::Context>,
        path: Path<DropletPath>,
    ) -> Result<HttpResponseHeaders<HttpResponseAcceptedEmpty, LocationHeader>, CfError>;

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
    /// completes, or whose body stalls, leaves the droplet `AWAITING_UPLOAD`. When the server is
    /// already receiving as many uploads as it takes at once, it answers 503 with `Retry-After`
    /// before reading the body, and stores nothing.
    #[endpoint { method = POST, path = "/v3/droplets/{guid}/upload",
        tags = ["droplets"], versions = VERSION_INITIAL.. }]
    async fn droplet_upload(
        rqctx: RequestContext<Self::Context>,
        path: Path<DropletPath>,
        form: UploadForm,
    ) -> Result<UploadResponse, CfError>;

    /// Ask what resumable uploads speak
    ///
    /// tus's `OPTIONS`: `Tus-Version`, `Tus-Extension` (creation, termination, expiration,
    /// checksum), `Tus-Max-Size` (`max_upload_bytes`) and `Tus-Checksum-Algorithm`, the same
    /// for every droplet. Like every upload endpoint, it needs the write scope.
    #[endpoint { method = OPTIONS, path = "/v3/droplets/{guid}/uploads",
        tags = ["resumable uploads"], versions = VERSION_RESUMABLE_UPLOADS.. }]
    async fn resumable_upload_options(
        rqctx: RequestContext<Self::Context>,
        path: Path<DropletPath>,
    ) -> Result<Tus<TusCapabilities>, CfError>;

    /// Start a resumable upload
    ///
    /// tus's creation: an upload of `Upload-Length` bytes into a droplet that is
    /// `AWAITING_UPLOAD`; 201 with its URL in `Location` (`/v3/droplets/{guid}/uploads/{id}`,
    /// the id unguessable and valid only with this droplet). The bytes then arrive by `PATCH`,
    /// in as many requests as the client likes. A droplet has one upload at a time, resumable
    /// or not (422 while another is in progress). An upload neither completed nor appended to
    /// for `resumable_upload_expiry_secs` (24 hours by default; see `Upload-Expires`) expires
    /// and its bytes are freed.
    #[endpoint { method = POST, path = "/v3/droplets/{guid}/uploads",
        tags = ["resumable uploads"], versions = VERSION_RESUMABLE_UPLOADS.. }]
    async fn resumable_upload_create(
        rqctx: RequestContext<Self::Context>,
        path: Path<DropletPath>,
        headers: Header<UploadCreationHeaders>,
    ) -> Result<Tus<UploadCreated>, CfError>;

    /// Get a resumable upload's offset
    ///
    /// tus's `HEAD`: `Upload-Offset` is the bytes received and durable, where the next `PATCH`
    /// goes; after a broken connection, ask here and go on from there. Every offset reported
    /// survives a crash of the server, on any replica. Once every byte has arrived,
    /// `Job-Location` names the `droplet.upload` job.
    #[endpoint { method = HEAD, path = "/v3/droplets/{guid}/uploads/{id}",
        tags = ["resumable uploads"], versions = VERSION_RESUMABLE_UPLOADS.. }]
    async fn resumable_upload_head(
        rqctx: RequestContext<Self::Context>,
        path: Path<ResumableUploadPath>,
        headers: Header<TusHeaders>,
    ) -> Result<Tus<UploadStatus>, CfError>;

    /// Append to a resumable upload
    ///
    /// tus's `PATCH`: appends the body (`application/offset+octet-stream`) at `Upload-Offset`,
    /// which must be the upload's offset (409 otherwise), and answers 204 with the new
    /// `Upload-Offset` once the bytes are durable. A body that breaks off keeps what arrived,
    /// unless it carried `Upload-Checksum`. One request appends at a time (423 otherwise). The
    /// `PATCH` that brings the last byte starts the `droplet.upload` job, named in
    /// `Job-Location`: the droplet is `PROCESSING_UPLOAD`, then `STAGED` or `FAILED`.
    #[endpoint { method = PATCH, path = "/v3/droplets/{guid}/uploads/{id}",
        tags = ["resumable uploads"], versions = VERSION_RESUMABLE_UPLOADS.. }]
    async fn resumable_upload_append(
        rqctx: RequestContext<Self::Context>,
        path: Path<ResumableUploadPath>,
        headers: Header<UploadAppendHeaders>,
        chunk: UploadChunk,
    ) -> Result<Tus<UploadAppended>, CfError>;

    /// End a resumable upload
    ///
    /// tus's termination: ends an upload that is not complete and frees its bytes; the droplet
    /// takes another upload at once.
    #[endpoint { method = DELETE, path = "/v3/droplets/{guid}/uploads/{id}",
        tags = ["resumable uploads"], versions = VERSION_RESUMABLE_UPLOADS.. }]
    async fn resumable_upload_delete(
        rqctx: RequestContext<Self::Context>,
        path: Path<ResumableUploadPath>,
        headers: Header<TusHeaders>,
    ) -> Result<Tus<UploadEnded>, CfError>;

    /// Download droplet bits
    ///
    /// Streams a `STAGED` droplet's gzip tarball with `Content-Length`, `ETag` (the quoted SHA-256),
    /// `Repr-Digest` (RFC 9530: `sha-256=:<base64>:`, to verify the bits without another request),
    /// `Content-Disposition` (`droplet_<guid>.tgz`) and `Accept-Ranges: bytes`. A single `Range`
    /// gets 206 with exactly that slice, or the whole droplet if `If-Range` names another `ETag`;
    /// one that does not overlap the droplet gets 416 with `Content-Range: bytes */<size>`.
    /// `If-None-Match` with the droplet's `ETag` gets 304.
    ///
    /// When the blobstore hands out URLs (S3, or a local blobstore configured to redirect), the
    /// answer is 302 to a short-lived URL instead. Follow it without the `Authorization` header.
    #[endpoint { method = GET, path = "/v3/droplets/{guid}/download",
        tags = ["droplets"], versions = VERSION_INITIAL.. }]
    async fn droplet_download(
        rqctx: RequestContext<Self::Context>,
        path: Path<DropletPath>,
        headers: Header<DownloadHeaders>,
    ) -> Result<DropletBits, CfError>;

    /// Download droplet bits: headers only
    ///
    /// What `GET` on the same URL answers, without the body.
    #[endpoint { method = HEAD, path = "/v3/droplets/{guid}/download",
        tags = ["droplets"], versions = VERSION_INITIAL.. }]
    async fn droplet_download_head(
        rqctx: RequestContext<Self::Context>,
        path: Path<DropletPath>,
        headers: Header<DownloadHeaders>,
    ) -> Result<DropletBits, CfError>;

    /// Get a job
    ///
    /// Follows an asynchronous operation such as `droplet.upload`: `PROCESSING`, then `COMPLETE`
    /// or `FAILED` with its `errors`.
    #[endpoint { method = GET, path = "/v3/jobs/{guid}",
        tags = ["jobs"], versions = VERSION_INITIAL.. }]
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
    #[endpoint { method = GET, path = "/v3/droplets/{guid}/bits",
        tags = ["droplets"], versions = VERSION_INITIAL.. }]
    async fn droplet_bits_signed(
        rqctx: RequestContext<Self::Context>,
        path: Path<DropletPath>,
        query: Query<SignedUrlQuery>,
        headers: Header<DownloadHeaders>,
    ) -> Result<DropletBits, CfError>;

    /// Download droplet bits through a signed URL: headers only
    ///
    /// What `GET` on the same signed URL answers, without the body; the URL's `GET` signature
    /// serves.
    #[endpoint { method = HEAD, path = "/v3/droplets/{guid}/bits",
        tags = ["droplets"], versions = VERSION_INITIAL.. }]
    async fn droplet_bits_signed_head(
        rqctx: RequestContext<Self::Context>,
        path: Path<DropletPath>,
        query: Query<SignedUrlQuery>,
        headers: Header<DownloadHeaders>,
    ) -> Result<DropletBits, CfError>;

    /// Get the API root
    ///
    /// Unauthenticated. Links to the v3 API and to the UAA that issues its tokens (`login` and
    /// `uaa`), which is how CF clients find where to log in.
    #[endpoint { method = GET, path = "/",
        tags = ["root"], versions = VERSION_INITIAL.. }]
    async fn root_get(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<RootDocument>, CfError>;

    /// Get the v3 API root
    ///
    /// Unauthenticated. Links to the resources this service serves.
    #[endpoint { method = GET, path = "/v3",
        tags = ["root"], versions = VERSION_INITIAL.. }]
    async fn v3_root_get(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<V3RootDocument>, CfError>;

    /// Get this API's OpenAPI document
    ///
    /// Unauthenticated: the document of the version the request names in `api-version` (this
    /// one, for a client generated from it); without the header, the latest version's, as
    /// `openapi.json` in the repository holds it.
    #[endpoint { method = GET, path = "/openapi.json",
        tags = ["root"], versions = VERSION_INITIAL.. }]
    async fn openapi_get(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<serde_json::Value>, CfError>;

    /// Get this API's documentation
    ///
    /// Unauthenticated: this document rendered as one self-contained HTML page (`text/html`).
    #[endpoint { method = GET, path = "/docs",
        tags = ["root"], versions = VERSION_INITIAL.. }]
    async fn docs_get(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<http::Response<dropshot::Body>, CfError>;

    /// Check the server's health
    ///
    /// Unauthenticated, for load balancers and orchestrators. Checks that the metadata database
    /// and the blobstore each answer and take a write, within a few seconds:
    /// 200 with `{"status": "ok", "checks": {"metadata": "ok", "blobstore": "ok"}}`, or 503
    /// `CF-ServiceUnavailable` whose detail names each failed check and why.
    #[endpoint { method = GET, path = "/healthz",
        tags = ["health"], versions = VERSION_INITIAL.. }]
    async fn health_get(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<Health>, CfError>;

    /// Metrics for Prometheus
    ///
    /// The server's metrics in the Prometheus text format (version 0.0.4): requests by operation
    /// and status with their latency (`droplet_http_request_duration_seconds`), bytes of uploads
    /// received and of downloads sent, uploads streaming now, upload sizes, jobs by operation and
    /// outcome with their durations, upload claims and jobs settled by recovery, and blobstore
    /// operations and errors by kind. Needs a token with a read scope only when the server is
    /// configured so (`metrics.require_token`); served here unless `metrics.bind` gives it a
    /// listener of its own (then 404 here).
    #[endpoint { method = GET, path = "/metrics",
        tags = ["health"], versions = VERSION_INITIAL.. }]
    async fn metrics_get(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<http::Response<dropshot::Body>, CfError>;
}
