//! `GET /v3/droplets/{guid}/download` and the signed-URL target it may redirect to: the bits
//! streamed from the blobstore, whole or as one byte range.

use std::sync::Arc;

use droplet_api::{CfError, DropletBits, DropletState, SignedUrlQuery};
use futures::TryStreamExt;
use http_body_util::StreamBody;
use hyper::body::Frame;

use crate::auth::signed_urls::SignatureError;
use crate::auth::{Access, Caller};
use crate::blobstore::{BlobError, droplet_key};
use crate::context::ServerContext;
use crate::store::records::DropletRecord;
use crate::time::now_secs;

/// Checks in the reference's order: 404, 403, 422 (not staged), then the bits.
pub async fn download(
    ctx: &Arc<ServerContext>,
    guid: &str,
    caller: &Caller,
    range: Option<&str>,
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
    serve(ctx, &droplet, range).await
}

/// The bits through a signed URL: the signature stands in for the bearer token.
pub async fn signed(
    ctx: &Arc<ServerContext>,
    guid: &str,
    query: &SignedUrlQuery,
    range: Option<&str>,
) -> Result<DropletBits, CfError> {
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
    serve(ctx, &droplet, range).await
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
    range: Option<&str>,
) -> Result<DropletBits, CfError> {
    // Every staged droplet records its size with its checksum.
    let size = droplet.blob_size.ok_or_else(|| {
        CfError::unknown().with_cause(format!("staged droplet {} has no size", droplet.guid))
    })?;
    let etag = format!("\"{}\"", droplet.checksum_sha256.as_deref().unwrap_or_default());
    let (first, last) = match range.map(|header| parse_range(header, size)) {
        None | Some(RangeRequest::Ignored) => {
            let body = body(ctx, droplet, 0, size).await?;
            return Ok(DropletBits::Whole { body, size, etag });
        }
        Some(RangeRequest::Unsatisfiable) => return Err(CfError::range_not_satisfiable(size)),
        Some(RangeRequest::Bytes { first, last }) => (first, last),
    };
    let body = body(ctx, droplet, first, last + 1).await?;
    Ok(DropletBits::Partial { body, first, last, size, etag })
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

#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    /// Not a single byte range we answer with 206 (another unit, several ranges, bad syntax):
    /// ignored, as RFC 9110 allows, and the whole blob is sent.
    Ignored,
    Unsatisfiable,
    Bytes {
        first: u64,
        last: u64,
    },
}

fn parse_range(header: &str, size: u64) -> RangeRequest {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeRequest::Ignored;
    };
    if spec.contains(',') {
        return RangeRequest::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Ignored;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    if first.is_empty() {
        // bytes=-N: the last N bytes.
        return match parse(last) {
            None => RangeRequest::Ignored,
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if size == 0 => RangeRequest::Unsatisfiable,
            Some(suffix) => {
                RangeRequest::Bytes { first: size.saturating_sub(suffix), last: size - 1 }
            }
        };
    }
    let Some(first) = parse(first) else {
        return RangeRequest::Ignored;
    };
    let last = match last.is_empty() {
        true => u64::MAX,
        false => match parse(last) {
            Some(last) => last,
            None => return RangeRequest::Ignored,
        },
    };
    if last < first {
        RangeRequest::Ignored
    } else if first >= size {
        RangeRequest::Unsatisfiable
    } else {
        RangeRequest::Bytes { first, last: last.min(size - 1) }
    }
}

#[cfg(test)]
mod tests {
    use super::{RangeRequest::*, parse_range};

    #[test]
    fn byte_ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Bytes { first: 0, last: 9 });
        assert_eq!(parse_range("bytes=90-", 100), Bytes { first: 90, last: 99 });
        assert_eq!(parse_range("bytes=90-500", 100), Bytes { first: 90, last: 99 });
        assert_eq!(parse_range("bytes=-10", 100), Bytes { first: 90, last: 99 });
        assert_eq!(parse_range("bytes=-500", 100), Bytes { first: 0, last: 99 });
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 100), Ignored);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ignored);
        assert_eq!(parse_range("items=0-1", 100), Ignored);
        assert_eq!(parse_range("bytes=a-b", 100), Ignored);
    }
}
