//! Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Garage, ...), through
//! `object_store`.
//!
//! A blob is written as a multipart upload: parts go out as the bits stream in, a bounded number
//! at a time, so memory stays flat whatever the droplet's size. S3 makes the object visible only
//! when the upload is completed, which is `commit`; a writer dropped without commit aborts the
//! upload, so that neither an object nor orphan parts are left. Downloads are redirected to
//! presigned GET URLs: the bits go from the bucket to the client, not through this server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::client::HttpErrorKind;
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig,
    WriteMultipart,
};

use super::{BlobError, BlobStream, BlobWriter, Blobstore};
use crate::config::BlobstoreConfig;

/// Size of a multipart upload's parts (S3's minimum is 5 MiB, its maximum count 10,000: up to
/// 80 GiB per droplet).
const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts uploaded at once; with the part being filled, this bounds an upload's memory to about
/// three parts.
const PARTS_IN_FLIGHT: usize = 2;

pub struct S3Blobstore {
    store: Arc<AmazonS3>,
    log: slog::Logger,
}

impl S3Blobstore {
    /// A store for the configured bucket. Credentials, region and endpoint not in `config` come
    /// from the standard AWS environment variables. Nothing is contacted yet.
    pub fn new(config: &BlobstoreConfig, log: slog::Logger) -> anyhow::Result<Self> {
        let mut builder = AmazonS3Builder::from_env()
            .with_virtual_hosted_style_request(config.virtual_hosted_style)
            .with_retry(RetryConfig {
                // Only idempotent requests and failures to connect are retried; a store that is
                // down answers within a couple of seconds.
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(1),
                    base: 2.0,
                },
                max_retries: 3,
                retry_timeout: Duration::from_secs(5),
            })
            // Replaces the client options as a whole: `allow_http` is one of them.
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(config.allow_http)
                    .with_connect_timeout(Duration::from_secs(5))
                    // A part or a whole blob read back by the upload job may take a while.
                    .with_timeout(Duration::from_secs(600)),
            );
        if let Some(bucket) = &config.bucket {
            builder = builder.with_bucket_name(bucket);
        }
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &config.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(&secret.0);
        }
        let store = builder.build().map_err(|e| anyhow::anyhow!("S3 blobstore: {e}"))?;
        Ok(S3Blobstore { store: Arc::new(store), log })
    }

    fn fail(&self, error: object_store::Error) -> BlobError {
        logged(&self.log, blob_error(error))
    }
}

/// Logs why the store failed (the CF error the client gets does not say), except for a
/// missing object, which is an answer rather than a failure.
fn logged(log: &slog::Logger, error: BlobError) -> BlobError {
    if !matches!(error, BlobError::NotFound) {
        slog::warn!(log, "S3 blobstore request failed"; "error" => %error);
    }
    error
}

/// `NotFound` for a missing object, `Unavailable` when the store could not be reached (after the
/// retries), `Failed` for anything else.
fn blob_error(error: object_store::Error) -> BlobError {
    if let object_store::Error::NotFound { .. } = error {
        return BlobError::NotFound;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(cause) = source {
        if let Some(http) = cause.downcast_ref::<object_store::client::HttpError>() {
            if matches!(
                http.kind(),
                HttpErrorKind::Connect
                    | HttpErrorKind::Request
                    | HttpErrorKind::Timeout
                    | HttpErrorKind::Interrupted
            ) {
                return BlobError::Unavailable(error.to_string());
            }
            break;
        }
        source = cause.source();
    }
    BlobError::Failed(error.to_string())
}

#[async_trait::async_trait]
impl Blobstore for S3Blobstore {
    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        let upload = self.store.put_multipart(&Path::from(key)).await.map_err(|e| self.fail(e))?;
        let writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        Ok(Box::new(S3BlobWriter { writer: Some(writer), log: self.log.clone() }))
    }

    async fn size(&self, key: &str) -> Result<u64, BlobError> {
        Ok(self.store.head(&Path::from(key)).await.map_err(|e| self.fail(e))?.size)
    }

    async fn read(&self, key: &str, first: u64, last: u64) -> Result<BlobStream, BlobError> {
        let options =
            GetOptions { range: Some(GetRange::Bounded(first..last + 1)), ..Default::default() };
        let result =
            self.store.get_opts(&Path::from(key), options).await.map_err(|e| self.fail(e))?;
        let stream = result.into_stream().map_err(std::io::Error::other);
        Ok(Box::pin(SyncStream(Mutex::new(stream.boxed()))))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(self.fail(error)),
        }
    }

    /// S3's CopyObject: done by the store, atomic, and visible only once complete.
    async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError> {
        self.store.copy(&Path::from(from), &Path::from(to)).await.map_err(|e| self.fail(e))
    }

    /// Writes a tiny probe object and removes it: the bucket is reachable, the credentials are
    /// good and they may write.
    async fn check(&self) -> Result<(), BlobError> {
        let probe = Path::from(format!("health/probe-{}", uuid::Uuid::new_v4()));
        self.store.put(&probe, Bytes::from_static(b"ok").into()).await.map_err(|e| self.fail(e))?;
        self.store.delete(&probe).await.map_err(|e| self.fail(e))
    }

    /// A presigned GET URL of the object, once a HEAD found it there: a missing blob or an
    /// unreachable store is reported now rather than to whoever follows the URL.
    async fn presigned_get(&self, key: &str, ttl: Duration) -> Result<Option<String>, BlobError> {
        let path = Path::from(key);
        self.store.head(&path).await.map_err(|e| self.fail(e))?;
        let url =
            self.store.signed_url(http::Method::GET, &path, ttl).await.map_err(|e| self.fail(e))?;
        Ok(Some(url.to_string()))
    }
}

/// `object_store`'s byte stream is `Send` but not `Sync`, which [`BlobStream`] requires; only
/// the one consumer ever polls it, so the lock is never contended.
struct SyncStream(Mutex<futures::stream::BoxStream<'static, std::io::Result<Bytes>>>);

impl futures::Stream for SyncStream {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        match self.get_mut().0.get_mut() {
            Ok(stream) => stream.poll_next_unpin(cx),
            Err(poisoned) => poisoned.into_inner().poll_next_unpin(cx),
        }
    }
}

struct S3BlobWriter {
    /// Taken by `commit`; still here when the writer is dropped without commit.
    writer: Option<WriteMultipart>,
    log: slog::Logger,
}

#[async_trait::async_trait]
impl BlobWriter for S3BlobWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        let writer = self.writer.as_mut().expect("a writer is used until it commits");
        // Waits while PARTS_IN_FLIGHT parts are still going out.
        let waited = writer.wait_for_capacity(PARTS_IN_FLIGHT).await;
        waited.map_err(|e| logged(&self.log, blob_error(e)))?;
        writer.put(chunk);
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), BlobError> {
        let writer = self.writer.take().expect("a writer commits once");
        // On failure `finish` aborts the upload itself.
        writer.finish().await.map(drop).map_err(|e| logged(&self.log, blob_error(e)))
    }
}

impl Drop for S3BlobWriter {
    /// Abandoned (the client went away, the bits were invalid, a part failed): the multipart
    /// upload is aborted, so that the store drops the parts already sent.
    fn drop(&mut self) {
        let Some(writer) = self.writer.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let log = self.log.clone();
                runtime.spawn(async move {
                    if let Err(error) = writer.abort().await {
                        // The bucket's lifecycle rule for incomplete uploads is the backstop.
                        logged(&log, blob_error(error));
                    }
                });
            }
            Err(_) => drop(writer),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{BlobstoreConfig, BlobstoreKind, Secret};

    #[test]
    fn debug_redacts_the_secret_key() {
        let config = BlobstoreConfig {
            kind: BlobstoreKind::S3,
            access_key_id: Some("AKIDEXAMPLE".to_owned()),
            secret_access_key: Some(Secret("wJalrXUtnFEMI-very-secret".to_owned())),
            ..Default::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
