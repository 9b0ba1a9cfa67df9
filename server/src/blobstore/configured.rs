//! The store the configuration names: a local directory or an S3 bucket.

use std::sync::Arc;

use super::Blobstore;
use super::local::LocalBlobstore;
use super::s3::S3Blobstore;
use crate::config::{BlobstoreKind, Config};

/// The store the configuration names. `exclusive`: this process alone uses the store (a local
/// directory is then cleared of what a dead process left in `tmp/`; see [`LocalBlobstore`]).
/// Nothing is contacted yet.
pub fn open(
    config: &Config,
    exclusive: bool,
    log: &slog::Logger,
) -> anyhow::Result<Arc<dyn Blobstore>> {
    Ok(match config.blobstore.kind {
        BlobstoreKind::Local => Arc::new(LocalBlobstore::open(&config.blob_dir(), exclusive)?),
        BlobstoreKind::S3 => Arc::new(S3Blobstore::new(
            &config.blobstore,
            log.new(slog::o!("component" => "blobstore")),
        )?),
    })
}
