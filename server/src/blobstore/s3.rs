//! Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Garage, ...), through
//! `object_store`.
//!
//! A blob is written as a multipart upload: parts go out as the bits stream in, a bounded number
//! at a time, so memory stays flat whatever the droplet's size. S3 makes the object visible only
//! when the upload is completed, which is `commit`; a writer dropped without commit aborts the
//! upload, so that neither an object nor orphan parts are left. The upload's id is the writer's
//! pending name: a replica that outlives the writer's process aborts the upload by it. Downloads are redirected to
//! presigned GET URLs: the bits go from the bucket to the client, not through this server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::client::HttpErrorKind;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{
    BackoffConfig, Certificate, ClientOptions, GetOptions, GetRange, MultipartId, ObjectStore,
    ObjectStoreExt, PutPayload, RetryConfig,
};
use tokio::task::JoinSet;

use super::{BlobError, BlobStream, BlobWriter, Blobstore};
use crate::config::BlobstoreConfig;

pub struct S3Blobstore {
    store: Arc<AmazonS3>,
    /// How droplets are uploaded: parts of this size (`part_size_mib`), this many at once
    /// (`parts_in_flight`). With the part being filled, an upload holds `parts_in_flight + 1`
    /// parts at most.
    part_bytes: usize,
    parts_in_flight: usize,
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
            .with_client_options(client);
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
        let store = builder.build().map_err(|e| anyhow::anyhow!("S3 blobstore: {e}"))?;
        Ok(S3Blobstore {
            store: Arc::new(store),
            part_bytes: config.part_size_mib as usize * 1024 * 1024,
            parts_in_flight: config.parts_in_flight,
            log,
        })
    }

    fn fail(&self, error: object_store::Error) -> BlobError {
        logged(&self.log, blob_error(error))
    }
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
        let path = Path::from(key);
        let upload = self.store.create_multipart(&path).await.map_err(|e| self.fail(e))?;
        Ok(Box::new(S3BlobWriter {
            store: self.store.clone(),
            path,
            upload,
            part: Vec::new(),
            part_len: 0,
            part_bytes: self.part_bytes,
            parts_in_flight: self.parts_in_flight,
            in_flight: JoinSet::new(),
            sent: Vec::new(),
            open: true,
            log: self.log.clone(),
        }))
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

    async fn discard(&self, key: &str, pending: &str) -> Result<(), BlobError> {
        let upload: MultipartId = pending.to_owned();
        abort(&self.store, &Path::from(key), &upload).await.map_err(|e| logged(&self.log, e))
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

/// A blob being written as a multipart upload, driven part by part (`MultipartStore`) rather
/// than through `WriteMultipart`, because the upload's id must be known: it is the writer's
/// [`BlobWriter::pending`] name, by which another replica aborts the upload if this process dies.
struct S3BlobWriter {
    store: Arc<AmazonS3>,
    path: Path,
    upload: MultipartId,
    /// Chunks of the part being filled, and their length.
    part: Vec<Bytes>,
    part_len: usize,
    part_bytes: usize,
    parts_in_flight: usize,
    /// Parts going out, by index; `sent` holds the ids of those done.
    in_flight: JoinSet<(usize, Result<PartId, object_store::Error>)>,
    sent: Vec<Option<PartId>>,
    /// False once committed or aborted: a writer dropped while true aborts the upload.
    open: bool,
    log: slog::Logger,
}

impl S3BlobWriter {
    /// Sends the filled part, once fewer than `parts_in_flight` are going out.
    async fn send_part(&mut self) -> Result<(), BlobError> {
        while self.in_flight.len() >= self.parts_in_flight {
            self.join_one().await?;
        }
        let payload: PutPayload = std::mem::take(&mut self.part).into_iter().collect();
        self.part_len = 0;
        let index = self.sent.len();
        self.sent.push(None);
        let (store, path, upload) = (self.store.clone(), self.path.clone(), self.upload.clone());
        self.in_flight
            .spawn(async move { (index, store.put_part(&path, &upload, index, payload).await) });
        Ok(())
    }

    /// Waits for one part in flight to be done.
    async fn join_one(&mut self) -> Result<(), BlobError> {
        let Some(joined) = self.in_flight.join_next().await else { return Ok(()) };
        let (index, result) =
            joined.map_err(|e| BlobError::Failed(format!("a part upload died: {e}")))?;
        let part = result.map_err(|e| logged(&self.log, blob_error(e)))?;
        self.sent[index] = Some(part);
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlobWriter for S3BlobWriter {
    fn pending(&self) -> String {
        self.upload.clone()
    }

    async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        self.part_len += chunk.len();
        self.part.push(chunk);
        if self.part_len >= self.part_bytes {
            self.send_part().await?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), BlobError> {
        if self.part_len > 0 {
            self.send_part().await?;
        }
        while !self.in_flight.is_empty() {
            self.join_one().await?;
        }
        let parts = self.sent.iter().flatten().cloned().collect();
        let completed = self.store.complete_multipart(&self.path, &self.upload, parts).await;
        // Once completion was asked for, an abort could only fail: the outcome is the store's.
        self.open = false;
        completed.map(drop).map_err(|e| logged(&self.log, blob_error(e)))
    }
}

impl Drop for S3BlobWriter {
    /// Abandoned (the client went away, the bits were invalid, a part failed): the multipart
    /// upload is aborted, so that the store drops the parts already sent. Parts still going out
    /// are let finish first: a part whose upload completes after the abort may be kept (S3 says
    /// as much), and nothing would remove it.
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let mut in_flight = std::mem::take(&mut self.in_flight);
        let (store, path, upload) = (self.store.clone(), self.path.clone(), self.upload.clone());
        let log = self.log.clone();
        runtime.spawn(async move {
            while in_flight.join_next().await.is_some() {}
            if let Err(error) = abort(&store, &path, &upload).await {
                // The bucket's lifecycle rule for incomplete uploads is the backstop.
                logged(&log, error);
            }
        });
    }
}

/// Aborts a multipart upload; one that is gone already is not an error.
async fn abort(store: &AmazonS3, path: &Path, upload: &MultipartId) -> Result<(), BlobError> {
    match store.abort_multipart(path, upload).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(error) => Err(blob_error(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::{ca_certificates, signs_payload};
    use crate::config::{BlobstoreConfig, BlobstoreKind, Secret};

    /// A file that cannot be the CAs to trust stops the server at start, naming the key.
    #[test]
    fn a_ca_certificate_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
        for path in [missing, empty, garbage] {
            let message = format!("{:#}", ca_certificates(&path).expect_err("refused"));
            assert!(message.contains("blobstore.ca_certificate_file"), "{message}");
            assert!(message.contains(&path.display().to_string()), "{message}");
        }
    }

    #[test]
    fn the_payload_is_signed_where_nothing_else_protects_it() {
        assert!(signs_payload(None, Some("http://127.0.0.1:9000")));
        assert!(signs_payload(None, Some("HTTP://minio.internal")));
        assert!(!signs_payload(None, Some("https://minio.example.com")));
        assert!(!signs_payload(None, None), "AWS itself, over https");
        assert!(signs_payload(Some(true), Some("https://s3.example.com")));
        assert!(!signs_payload(Some(false), Some("http://127.0.0.1:9000")));
    }

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
