//! Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Garage, ...), through
//! `object_store`: the store here, writing a blob in `writer` (its parts going out in `parts`),
//! resumable writes in `resumable`, what a failed request means in `errors`, and the multipart
//! uploads in progress, which `object_store` cannot list, in `uploads`.
//!
//! A blob is written as a multipart upload: parts go out as the bits stream in, a bounded number
//! at a time, so memory stays flat whatever the droplet's size. S3 makes the object visible only
//! when the upload is completed, which is `commit`; a writer dropped without commit aborts the
//! upload, so that neither an object nor orphan parts are left. The upload's id is the writer's
//! pending name: a replica that outlives the writer's process aborts the upload by it. Downloads are redirected to
//! presigned GET URLs: the bits go from the bucket to the client, not through this server.

mod errors;
mod parts;
mod resumable;
mod tails;
mod uploads;
mod writer;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{
    BackoffConfig, Certificate, ClientOptions, GetOptions, GetRange, MultipartId, ObjectStore,
    ObjectStoreExt, RetryConfig,
};

use self::errors::{blob_error, logged};
use self::uploads::UploadListing;
use self::writer::{S3BlobWriter, abort};
use crate::blobstore::resumable::{Appended, ResumableWrite};
use crate::blobstore::{
    BlobError, BlobStream, BlobWriter, Blobstore, DROPLETS_PREFIX, PendingWrite, StoredBlob,
};
use crate::config::BlobstoreConfig;

pub struct S3Blobstore {
    store: Arc<AmazonS3>,
    /// How droplets are uploaded: parts of this size (`part_size_mib`), this many at once
    /// (`parts_in_flight`). With the part being filled, an upload holds `parts_in_flight + 1`
    /// parts at most.
    part_bytes: usize,
    parts_in_flight: usize,
    uploads: UploadListing,
    log: slog::Logger,
}

impl S3Blobstore {
    /// A store for the configured bucket. Credentials, region and endpoint not in `config` come
    /// from the standard AWS environment variables. Nothing is contacted yet.
    pub fn new(config: &BlobstoreConfig, log: slog::Logger) -> anyhow::Result<Self> {
        let mut client = ClientOptions::new()
            .with_allow_http(config.allow_http)
            .with_connect_timeout(Duration::from_secs(5))
            // A part or a whole blob read back by the upload job may take a while.
            .with_timeout(Duration::from_secs(600));
        if let Some(path) = &config.ca_certificate_file {
            for certificate in ca_certificates(path)? {
                client = client.with_root_certificate(certificate);
            }
        }
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
            .with_client_options(client.clone());
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
        // The endpoint may also come from AWS_ENDPOINT.
        let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint);
        let signed = signs_payload(config.sign_payload, endpoint.as_deref());
        builder = builder.with_unsigned_payload(!signed);
        let uploads =
            UploadListing::new(&client, bucket_url(&builder, config), region(&builder), signed)?;
        let store = builder.build().map_err(|e| anyhow::anyhow!("S3 blobstore: {e}"))?;
        Ok(S3Blobstore {
            store: Arc::new(store),
            part_bytes: config.part_size_mib as usize * 1024 * 1024,
            parts_in_flight: config.parts_in_flight,
            uploads,
            log,
        })
    }

    fn fail(&self, error: object_store::Error) -> BlobError {
        logged(&self.log, blob_error(error))
    }
}

/// The bucket's URL as `object_store` addresses it (its builder's `bucket_endpoint`).
fn bucket_url(builder: &AmazonS3Builder, config: &BlobstoreConfig) -> String {
    let bucket = builder.get_config_value(&AmazonS3ConfigKey::Bucket).unwrap_or_default();
    let region = region(builder);
    match (builder.get_config_value(&AmazonS3ConfigKey::Endpoint), config.virtual_hosted_style) {
        (Some(endpoint), true) => endpoint,
        (Some(endpoint), false) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
        (None, true) => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        (None, false) => format!("https://s3.{region}.amazonaws.com/{bucket}"),
    }
}

fn region(builder: &AmazonS3Builder) -> String {
    builder.get_config_value(&AmazonS3ConfigKey::Region).unwrap_or_else(|| "us-east-1".to_owned())
}

/// The certificates of `blobstore.ca_certificate_file`, at least one.
fn ca_certificates(path: &std::path::Path) -> anyhow::Result<Vec<Certificate>> {
    let key = "blobstore.ca_certificate_file";
    let pem = std::fs::read(path).with_context(|| format!("{key}: reading {}", path.display()))?;
    let certificates = Certificate::from_pem_bundle(&pem)
        .map_err(|e| anyhow::anyhow!("{key}: {} is not PEM certificates: {e}", path.display()))?;
    anyhow::ensure!(!certificates.is_empty(), "{key}: {} holds no certificate", path.display());
    Ok(certificates)
}

/// Whether requests sign their payload: as configured, else only over plain http (no endpoint is
/// AWS, over https). Over https TLS already protects every byte, and signing would cost a SHA-256
/// pass over each of them.
fn signs_payload(configured: Option<bool>, endpoint: Option<&str>) -> bool {
    configured.unwrap_or_else(|| {
        endpoint
            .and_then(|e| e.get(..7))
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
    })
}

#[async_trait::async_trait]
impl Blobstore for S3Blobstore {
    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        let path = Path::from(key);
        let upload = self.store.create_multipart(&path).await.map_err(|e| self.fail(e))?;
        let (store, log) = (self.store.clone(), self.log.clone());
        let (part_bytes, parts) = (self.part_bytes, self.parts_in_flight);
        Ok(Box::new(S3BlobWriter::new(store, path, upload, part_bytes, parts, log)))
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

    /// Aborts the multipart upload, and removes the tails it kept if it was a resumable write's;
    /// or removes a folder of tails that outlived its upload.
    async fn discard(&self, key: &str, pending: &str) -> Result<(), BlobError> {
        if self.names_tails(pending) {
            return self.discard_orphan_tails(pending).await.map_err(|e| logged(&self.log, e));
        }
        let upload: MultipartId = pending.to_owned();
        abort(&self.store, &Path::from(key), &upload).await.map_err(|e| logged(&self.log, e))?;
        self.remove_tails(pending).await.map_err(|e| logged(&self.log, e))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<StoredBlob>, BlobError> {
        let listing = self.store.list(Some(&Path::from(prefix)));
        let objects: Vec<_> = listing.try_collect().await.map_err(|e| self.fail(e))?;
        Ok(objects.into_iter().map(stored_blob).collect())
    }

    async fn stat(&self, key: &str) -> Result<StoredBlob, BlobError> {
        self.store.head(&Path::from(key)).await.map(stored_blob).map_err(|e| self.fail(e))
    }

    /// The multipart uploads in progress into keys under `prefix`, and the folders of tails
    /// whose upload is gone.
    async fn pending_writes(&self, prefix: &str) -> Result<Vec<PendingWrite>, BlobError> {
        let mut writes =
            self.uploads.list(&self.store, prefix).await.map_err(|e| logged(&self.log, e))?;
        if prefix == DROPLETS_PREFIX {
            writes.extend(self.orphan_tails(&writes).await.map_err(|e| logged(&self.log, e))?);
        }
        Ok(writes)
    }

    /// S3's CopyObject: done by the store, atomic, and visible only once complete.
    async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError> {
        self.store.copy(&Path::from(from), &Path::from(to)).await.map_err(|e| self.fail(e))
    }

    async fn start_resumable(&self, key: &str) -> Result<ResumableWrite, BlobError> {
        self.start_upload(key).await
    }

    async fn append(
        &self,
        key: &str,
        write: &ResumableWrite,
        bytes: BlobStream,
        announced: Option<u64>,
    ) -> Result<Appended, BlobError> {
        self.append_parts(key, write, bytes, announced).await
    }

    async fn finish_resumable(&self, key: &str, write: &ResumableWrite) -> Result<(), BlobError> {
        self.finish_upload(key, write).await
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

fn stored_blob(object: object_store::ObjectMeta) -> StoredBlob {
    let key = object.location.to_string();
    StoredBlob { key, size: object.size, modified: object.last_modified.into() }
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

#[cfg(test)]
mod tests;
