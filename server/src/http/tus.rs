//! tus 1.0.0 over the resumable uploads of `crate::droplets::upload::resumable`: the headers
//! read (`Tus-Resumable`, `Upload-Length`, `Upload-Metadata`, `Upload-Offset`,
//! `Upload-Checksum`, the body's media type) and the headers answered. Every refusal is an
//! answer of its own, so that it carries `Tus-Resumable` like every other (and `Tus-Version`,
//! `Retry-After` where tus asks for them).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use droplet_api::resumable::{
    MAX_UPLOAD_METADATA_BYTES, OFFSET_OCTET_STREAM, TUS_CHECKSUM_ALGORITHMS, TUS_EXTENSIONS,
    TUS_VERSION,
};
use droplet_api::{
    CfError, DropletPath, ResumableUploadPath, Tus, TusCapabilities, TusHeaders, TusResumable,
    UploadAppendHeaders, UploadAppended, UploadChunk, UploadCreated, UploadCreationHeaders,
    UploadEnded, UploadStatus,
};
use dropshot::{Header, Path, RequestContext};
use uuid::Uuid;

use super::caller::caller;
use crate::auth::{Access, Caller};
use crate::context::ServerContext;
use crate::droplets::upload::resumable::{self, AppendRequest, Appended, Refused};

type Ctx = RequestContext<Arc<ServerContext>>;

/// `OPTIONS`: what this server's tus speaks.
pub async fn options(rqctx: &Ctx, _path: Path<DropletPath>) -> Tus<TusCapabilities> {
    let answer = async {
        caller(rqctx).await?.require(Access::Write)?;
        Ok(TusCapabilities {
            tus_resumable: TusResumable,
            tus_version: TUS_VERSION.to_owned(),
            tus_extension: TUS_EXTENSIONS.to_owned(),
            tus_max_size: rqctx.context().config.max_upload_bytes,
            tus_checksum_algorithm: TUS_CHECKSUM_ALGORITHMS.to_owned(),
        })
    };
    tus(answer.await)
}

/// `POST`: creation.
pub async fn create(
    rqctx: &Ctx,
    path: Path<DropletPath>,
    headers: Header<UploadCreationHeaders>,
) -> Tus<UploadCreated> {
    let answer = async {
        let (ctx, headers) = (rqctx.context(), headers.into_inner());
        let caller = caller(rqctx).await?;
        require_version(headers.tus_resumable.as_deref())?;
        let metadata = headers.upload_metadata.map(checked_metadata).transpose()?;
        let guid = path.into_inner().guid;
        let upload =
            resumable::create(ctx, &guid, &caller, headers.upload_length, metadata).await?;
        Ok(UploadCreated {
            tus_resumable: TusResumable,
            location: ctx.url(&upload_path(upload.droplet, upload.id)),
            upload_expires: http_date(upload.expires_ms),
        })
    };
    tus(answer.await)
}

/// `HEAD`: the offset.
pub async fn head(
    rqctx: &Ctx,
    path: Path<ResumableUploadPath>,
    headers: Header<TusHeaders>,
) -> Tus<UploadStatus> {
    let answer = async {
        let (ctx, path) = (rqctx.context(), path.into_inner());
        let caller = caller(rqctx).await?;
        require_version(headers.into_inner().tus_resumable.as_deref())?;
        let upload = resumable::find(ctx, &path.guid, &path.id, &caller).await?;
        Ok(UploadStatus {
            tus_resumable: TusResumable,
            upload_offset: upload.offset,
            upload_length: upload.length,
            upload_expires: upload.job.is_none().then(|| http_date(upload.expires_ms)),
            upload_metadata: upload.metadata,
            cache_control: "no-store".to_owned(),
            job_location: upload.job.map(|job| ctx.url(&format!("/v3/jobs/{job}"))),
        })
    };
    tus(answer.await)
}

/// `PATCH`: an append.
pub async fn append(
    rqctx: &Ctx,
    path: Path<ResumableUploadPath>,
    headers: Header<UploadAppendHeaders>,
    chunk: UploadChunk,
) -> Tus<UploadAppended> {
    let answer = async {
        let (ctx, path, headers) = (rqctx.context(), path.into_inner(), headers.into_inner());
        let caller = caller(rqctx).await?;
        require_version(headers.tus_resumable.as_deref())?;
        require_offset_stream(chunk.content_type.as_deref())?;
        let request = AppendRequest {
            offset: headers.upload_offset,
            sha256: headers.upload_checksum.as_deref().map(checksum).transpose()?,
            content_length: chunk.content_length,
            body: chunk.body,
        };
        let appended = resumable::append(ctx, &path.guid, &path.id, &caller, request).await?;
        Ok(match appended {
            Appended::Partial { offset, expires_ms } => UploadAppended {
                tus_resumable: TusResumable,
                upload_offset: offset,
                upload_expires: Some(http_date(expires_ms)),
                job_location: None,
            },
            Appended::Complete { offset, job } => UploadAppended {
                tus_resumable: TusResumable,
                upload_offset: offset,
                upload_expires: None,
                job_location: Some(ctx.url(&format!("/v3/jobs/{job}"))),
            },
        })
    };
    tus(answer.await)
}

/// `DELETE`: termination.
pub async fn delete(
    rqctx: &Ctx,
    path: Path<ResumableUploadPath>,
    headers: Header<TusHeaders>,
) -> Tus<UploadEnded> {
    let answer = async {
        let (ctx, path) = (rqctx.context(), path.into_inner());
        let caller: Caller = caller(rqctx).await?;
        require_version(headers.into_inner().tus_resumable.as_deref())?;
        resumable::end(ctx, &path.guid, &path.id, &caller).await?;
        Ok(UploadEnded { tus_resumable: TusResumable })
    };
    tus(answer.await)
}

/// An answer, or its refusal, as tus sends it.
fn tus<T>(answer: Result<T, Refused>) -> Tus<T> {
    match answer {
        Ok(answer) => Tus::Answer(answer),
        Err(Refused { error, retry_after_secs }) => Tus::Refused { error, retry_after_secs },
    }
}

/// The path of upload `id` of `droplet`: its URL's, as `Location` gives it.
fn upload_path(droplet: Uuid, id: Uuid) -> String {
    format!("/v3/droplets/{droplet}/uploads/{id}")
}

fn require_version(named: Option<&str>) -> Result<(), CfError> {
    match named.map(str::trim) {
        Some(TUS_VERSION) => Ok(()),
        named => Err(CfError::tus_version_unsupported(format!(
            "This server speaks tus {TUS_VERSION}; the request must say so with \
             `Tus-Resumable: {TUS_VERSION}` (it said {named:?})."
        ))),
    }
}

fn require_offset_stream(content_type: Option<&str>) -> Result<(), CfError> {
    let media_type = content_type.and_then(|value| value.split(';').next()).map(str::trim);
    match media_type {
        Some(media) if media.eq_ignore_ascii_case(OFFSET_OCTET_STREAM) => Ok(()),
        _ => Err(CfError::unsupported_media_type(format!(
            "An append's body must be `Content-Type: {OFFSET_OCTET_STREAM}`, not {content_type:?}."
        ))),
    }
}

/// `Upload-Metadata`, if it is tus metadata: comma-separated pairs of a key (no spaces or
/// commas, each key once) and, after a space, its value in Base64 (which may be left out).
fn checked_metadata(metadata: String) -> Result<String, CfError> {
    let invalid = |why: &str| CfError::invalid_request(format!("Upload-Metadata {why}."));
    if metadata.len() > MAX_UPLOAD_METADATA_BYTES {
        return Err(invalid(&format!("is longer than {MAX_UPLOAD_METADATA_BYTES} bytes")));
    }
    let mut keys = std::collections::HashSet::new();
    for pair in metadata.split(',').map(str::trim) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(&format!("has a pair without a key of printable ASCII: {pair:?}")));
        }
        if !keys.insert(key) {
            return Err(invalid(&format!("names {key:?} twice")));
        }
        if BASE64.decode(value.trim()).is_err() {
            return Err(invalid(&format!("has a value for {key:?} that is not Base64")));
        }
    }
    Ok(metadata)
}

/// The SHA-256 an `Upload-Checksum` names: `sha256 <Base64>`.
fn checksum(header: &str) -> Result<[u8; 32], CfError> {
    let (algorithm, value) = header.trim().split_once(' ').unwrap_or((header, ""));
    if algorithm != "sha256" {
        return Err(CfError::invalid_request(format!(
            "Upload-Checksum names {algorithm:?}; this server checks {TUS_CHECKSUM_ALGORITHMS}."
        )));
    }
    let digest =
        BASE64.decode(value.trim()).ok().and_then(|bytes| <[u8; 32]>::try_from(bytes).ok());
    digest.ok_or_else(|| {
        CfError::invalid_request("Upload-Checksum's value is not the Base64 of a SHA-256.")
    })
}

/// An HTTP date (RFC 9110's IMF-fixdate), as `Upload-Expires` gives it.
fn http_date(unix_ms: i64) -> String {
    let time = chrono::DateTime::from_timestamp_millis(unix_ms).unwrap_or_default();
    time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_tus_metadata() {
        for good in ["filename ZHJvcGxldC50Z3o=", "a YQ==,b Yg==", "empty", "k ,other b3RoZXI="] {
            assert!(checked_metadata(good.to_owned()).is_ok(), "{good}");
        }
        for bad in ["", "a YQ==,a Yg==", "a not base64!", ",a YQ==", "kéy YQ=="] {
            assert!(checked_metadata(bad.to_owned()).is_err(), "{bad}");
        }
        assert!(checked_metadata(format!("k {}", "A".repeat(MAX_UPLOAD_METADATA_BYTES))).is_err());
    }

    #[test]
    fn a_checksum_is_a_sha256_in_base64() {
        let digest = [7u8; 32];
        assert_eq!(checksum(&format!("sha256 {}", BASE64.encode(digest))).ok(), Some(digest));
        for bad in ["sha1 AAAA", "sha256", "sha256 AAAA", "md5 x", "sha256 !!!"] {
            assert!(checksum(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expiry_is_an_http_date() {
        assert_eq!(http_date(1_403_712_000_000), "Wed, 25 Jun 2014 16:00:00 GMT");
    }
}
