//! `GET` and `HEAD /v3/droplets/{guid}/download` and the signed-URL target it may redirect to: the
//! bits streamed from the blobstore, whole or as one byte range (`range`), with the validators and
//! conditions of a file server: `ETag`, `If-None-Match`, `If-Range`, `Repr-Digest`. Behind nginx,
//! the bits of a checked download may be nginx's to send (`accel_redirect`).

use std::sync::Arc;

use base64::Engine;
use droplet_api::{
    CfError, DownloadHeaders, DropletBits, DropletState, Representation, SignedUrlQuery,
};
use futures::TryStreamExt;
use http_body_util::StreamBody;
use hyper::body::Frame;

use super::accel_redirect;
use super::range::{RangeRequest, parse_range};
use crate::auth::signed_urls::SignatureError;
use crate::auth::{Access, Caller};
use crate::blobstore::{BlobError, droplet_key};
use crate::context::ServerContext;
use crate::store::records::DropletRecord;
use crate::time::now_secs;

/// Checks in the reference's order: 404, 403, 422 (not staged), then the bits; with
/// `nginx_offers` (see `accel_redirect::offered`), nginx may be the one to send them.
pub async fn download(
    ctx: &Arc<ServerContext>,
    guid: &str,
    caller: &Caller,
    headers: &DownloadHeaders,
    head: bool,
    nginx_offers: bool,
) -> Result<DropletBits, CfError> {
    let droplet = super::by_path(&ctx.store, guid).await?;
    caller.require(Access::Download)?;
    if droplet.state != DropletState::Staged {
        return Err(CfError::unprocessable("Only staged droplets can be downloaded."));
    }
    // A store that hands out URLs (S3) serves the bits itself, also to clients without a token.
    let ttl = std::time::Duration::from_secs(ctx.config.blobstore.presigned_url_ttl_secs);
    let presigned = ctx.blobs.presigned_get(&droplet_key(droplet.guid), ttl).await;
    if let Some(location) = presigned.map_err(|e| blob_failed(ctx, &droplet, e))? {
        return Ok(DropletBits::Redirect { location });
    }
    if ctx.config.blobstore.redirect_downloads {
        return Ok(DropletBits::Redirect { location: signed_url(ctx, &droplet) });
    }
    serve(ctx, &droplet, headers, head, nginx_offers).await
}

/// The bits through a signed URL: the signature stands in for the bearer token.
pub async fn signed(
    ctx: &Arc<ServerContext>,
    guid: &str,
    query: &SignedUrlQuery,
    headers: &DownloadHeaders,
    head: bool,
    nginx_offers: bool,
) -> Result<DropletBits, CfError> {
    // Signed for GET; a HEAD of the same URL asks for less.
    let path = format!("/v3/droplets/{guid}/bits");
    match ctx.url_signer.verify("GET", &path, query.expires, &query.signature, now_secs()) {
        Ok(()) => {}
        Err(SignatureError::Invalid) => return Err(CfError::not_authorized()),
        Err(SignatureError::Expired) => return Err(CfError::not_authorized()),
    }
    let droplet = super::by_path(&ctx.store, guid).await?;
    if droplet.state != DropletState::Staged {
        return Err(CfError::not_found("Droplet"));
    }
    serve(ctx, &droplet, headers, head, nginx_offers).await
}

fn signed_url(ctx: &ServerContext, droplet: &DropletRecord) -> String {
    let path = format!("/v3/droplets/{}/bits", droplet.guid);
    let expires = now_secs() + ctx.config.blobstore.signed_url_ttl_secs as i64;
    let signature = ctx.url_signer.sign("GET", &path, expires);
    ctx.url(&format!("{path}?expires={expires}&signature={signature}"))
}

async fn serve(
    ctx: &ServerContext,
    droplet: &DropletRecord,
    headers: &DownloadHeaders,
    head: bool,
    nginx_offers: bool,
) -> Result<DropletBits, CfError> {
    let (size, sha256) = size_and_checksum(droplet)?;
    let etag = format!("\"{sha256}\"");
    if headers.if_none_match.as_deref().is_some_and(|tags| names_etag(tags, &etag)) {
        return Ok(DropletBits::NotModified { etag });
    }
    let representation = Representation {
        repr_digest: repr_digest(sha256),
        filename: format!("droplet_{}.tgz", droplet.guid),
        etag,
    };
    // A slice only of the bits the client's partial copy has.
    let range = match &headers.if_range {
        Some(validator) if validator.trim() != representation.etag => None,
        _ => headers.range.as_deref(),
    };
    let range = range.map(|header| parse_range(header, size));
    if nginx_offers
        && let Some(accel_uri) =
            accel_redirect::uri(&ctx.config.blobstore, droplet.guid, range.as_ref())
    {
        // nginx opens the file; looking for it first keeps a lost blob the server's to report.
        let blob = ctx.blobs.read(&droplet_key(droplet.guid), 0, 0).await;
        drop(blob.map_err(|e| blob_failed(ctx, droplet, e))?);
        ctx.metrics.download_accel_redirects.inc();
        return Ok(DropletBits::NginxSends { accel_uri, representation });
    }
    let (first, last) = match range {
        None | Some(RangeRequest::Ignored) => {
            let body = body(ctx, droplet, 0, if head { 0 } else { size }).await?;
            return Ok(DropletBits::Whole { body, size, representation });
        }
        Some(RangeRequest::Unsatisfiable) => {
            let error = CfError::range_not_satisfiable(size);
            return Ok(DropletBits::Unsatisfiable { size, error });
        }
        Some(RangeRequest::Bytes { first, last }) => (first, last),
    };
    let end = if head { first } else { last + 1 };
    let body = body(ctx, droplet, first, end).await?;
    Ok(DropletBits::Partial { body, first, last, size, representation })
}

/// A staged droplet's size and SHA-256, which are recorded with its bits. A row lacking either
/// is inconsistent, and both cases are the same 500 (the log names what is missing): bits sent
/// without their length, or without the `ETag` and `Repr-Digest` a client checks them against,
/// would be served as if nothing were wrong.
fn size_and_checksum(droplet: &DropletRecord) -> Result<(u64, &str), CfError> {
    let missing = match (droplet.blob_size, droplet.checksum_sha256.as_deref()) {
        (Some(size), Some(sha256)) => return Ok((size, sha256)),
        (None, Some(_)) => "size",
        (Some(_), None) => "checksum",
        (None, None) => "size and checksum",
    };
    let cause = format!("staged droplet {} has no {missing} recorded", droplet.guid);
    Err(CfError::unknown().with_cause(cause))
}

/// Whether an `If-None-Match` value (`*`, or a list of entity tags, weak or strong) names `etag`.
fn names_etag(tags: &str, etag: &str) -> bool {
    tags.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// RFC 9530's `Repr-Digest` of a droplet, from its hex SHA-256.
fn repr_digest(sha256_hex: &str) -> String {
    let digest = hex::decode(sha256_hex).unwrap_or_default();
    format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(digest))
}

/// The blob's bytes `start..end` as a response body.
async fn body(
    ctx: &ServerContext,
    droplet: &DropletRecord,
    start: u64,
    end: u64,
) -> Result<dropshot::Body, CfError> {
    if start == end {
        return Ok(dropshot::Body::empty());
    }
    let key = droplet_key(droplet.guid);
    let stream = ctx.blobs.read(&key, start, end - 1).await;
    let stream = stream.map_err(|e| blob_failed(ctx, droplet, e))?;
    let sent = ctx.metrics.download_bytes_sent.clone();
    let stream = stream.inspect_ok(move |chunk| sent.inc_by(chunk.len() as u64));
    Ok(dropshot::Body::wrap(StreamBody::new(stream.map_ok(Frame::data))))
}

/// The CF error of a blobstore that failed a staged droplet's download. A missing blob means its
/// bits are lost, which the operator must hear of.
fn blob_failed(ctx: &ServerContext, droplet: &DropletRecord, error: BlobError) -> CfError {
    if let BlobError::NotFound = error {
        slog::error!(ctx.log, "a staged droplet's bits are missing from the blobstore";
            "droplet" => %droplet.guid);
    }
    error.into()
}
