//! Downloading a droplet to a file, verified against its SHA-256.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::{Client, Error, types};

/// What a verified download wrote.
#[derive(Debug, Clone)]
pub struct DownloadReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error(transparent)]
    Api(#[from] Error<types::Error>),
    #[error("the droplet has no checksum; only staged droplets can be downloaded")]
    NoChecksum,
    #[error("the download was cut short: {0}")]
    Transfer(reqwest::Error),
    #[error("writing {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the downloaded bits have SHA-256 {actual}, the droplet's checksum is {expected}")]
    ChecksumMismatch { expected: String, actual: String },
}

impl Client {
    /// Streams the droplet's bits into `path`, computing their SHA-256 on the way, and keeps the
    /// file only if it matches the droplet's checksum. The bits go to `<path>.part` first, so a
    /// failed download never leaves a file that looks complete.
    pub async fn download_to_file(
        &self,
        droplet_guid: &str,
        path: impl AsRef<Path>,
    ) -> Result<DownloadReport, DownloadError> {
        let path = path.as_ref().to_owned();
        let droplet = self.droplet_get(droplet_guid).await?.into_inner();
        let expected = droplet.checksum.ok_or(DownloadError::NoChecksum)?.value.to_lowercase();
        let partial = PathBuf::from(format!("{}.part", path.display()));
        let io_error = |source| DownloadError::Io { path: partial.clone(), source };

        let mut stream = self.droplet_download(droplet_guid, None).await?.into_inner();
        let mut file = tokio::fs::File::create(&partial).await.map_err(io_error)?;
        let mut sha256 = Sha256::new();
        let mut bytes = 0u64;
        let outcome = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(DownloadError::Transfer)?;
                sha256.update(&chunk);
                bytes += chunk.len() as u64;
                file.write_all(&chunk).await.map_err(io_error)?;
            }
            file.sync_all().await.map_err(io_error)
        }
        .await;
        let actual = hex::encode(sha256.finalize());
        let outcome = match outcome {
            Ok(()) if actual != expected => {
                Err(DownloadError::ChecksumMismatch { expected, actual: actual.clone() })
            }
            other => other,
        };
        if let Err(error) = outcome {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(error);
        }
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|source| DownloadError::Io { path: path.clone(), source })?;
        Ok(DownloadReport { path, bytes, sha256: actual })
    }
}
