//! Downloading a droplet to a file, verified against its SHA-256, optionally resuming an
//! interrupted download.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use uuid::Uuid;

use super::error::ClientError;
use crate::generated::{ByteStream, Client, ResponseValue};

/// What a verified download wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DownloadReport {
    /// The file written.
    pub path: PathBuf,
    /// Its length.
    pub bytes: u64,
    /// Its SHA-256, lowercase hex: the droplet's checksum.
    pub sha256: String,
    /// Bytes taken from an earlier, interrupted download instead of fetched again.
    pub resumed_from: u64,
}

/// How [`Client::download_to_file_with`] downloads.
#[derive(Default)]
pub struct DownloadOptions<'a> {
    /// Continue an interrupted download: when `<path>.part` exists, hash it and ask only for the
    /// bytes after it (a `Range` request). A cut transfer then keeps its `.part` file.
    pub resume: bool,
    /// Called as bytes arrive with the bytes in the file so far and the droplet's size, when
    /// known.
    pub progress: Option<&'a (dyn Fn(u64, Option<u64>) + Send + Sync)>,
}

impl Client {
    /// Streams the droplet's bits into `path`, computing their SHA-256 on the way, and keeps the
    /// file only if it matches the droplet's checksum. The bits go to `<path>.part` first, so a
    /// failed download never leaves a file that looks complete.
    pub async fn download_to_file(
        &self,
        droplet_guid: Uuid,
        path: impl AsRef<Path>,
    ) -> Result<DownloadReport, ClientError> {
        self.download_to_file_with(droplet_guid, path, DownloadOptions::default()).await
    }

    /// [`Client::download_to_file`], resuming and reporting progress as `options` say.
    pub async fn download_to_file_with(
        &self,
        droplet_guid: Uuid,
        path: impl AsRef<Path>,
        options: DownloadOptions<'_>,
    ) -> Result<DownloadReport, ClientError> {
        let path = path.as_ref().to_owned();
        let droplet_guid = &droplet_guid.to_string();
        let droplet = self.droplet_get(droplet_guid).await?.into_inner();
        let expected = droplet.checksum.ok_or(ClientError::NoChecksum)?.value.to_lowercase();
        let partial = PathBuf::from(format!("{}.part", path.display()));
        let io_error = |error| ClientError::Io { path: partial.clone(), error };

        let (mut sha256, mut have) = match options.resume {
            true => hash_existing(&partial).await.map_err(io_error)?,
            false => (Sha256::new(), 0),
        };
        let resumed_from = have;
        let outcome = async {
            let Some((response, total)) =
                self.request_rest(droplet_guid, &mut sha256, &mut have, &expected).await?
            else {
                // The part already holds every byte.
                return Ok(());
            };
            let mut stream = response.into_inner();
            let mut file = match have {
                0 => tokio::fs::File::create(&partial).await,
                _ => tokio::fs::OpenOptions::new().append(true).open(&partial).await,
            }
            .map_err(io_error)?;
            if let Some(progress) = options.progress {
                progress(have, total);
            }
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(ClientError::Http)?;
                sha256.update(&chunk);
                have += chunk.len() as u64;
                file.write_all(&chunk).await.map_err(io_error)?;
                if let Some(progress) = options.progress {
                    progress(have, total);
                }
            }
            file.sync_all().await.map_err(io_error)
        }
        .await;
        let actual = hex::encode(sha256.finalize());
        let outcome = match outcome {
            Ok(()) if actual != expected => {
                Err(ClientError::DownloadChecksumMismatch { expected, actual: actual.clone() })
            }
            other => other,
        };
        if let Err(error) = outcome {
            let resumable = options.resume && matches!(error, ClientError::Http(_));
            if !resumable {
                let _ = tokio::fs::remove_file(&partial).await;
            }
            return Err(error);
        }
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|error| ClientError::Io { path: path.clone(), error })?;
        Ok(DownloadReport { path, bytes: have, sha256: actual, resumed_from })
    }

    /// Asks for the bytes after the `have` already hashed into `sha256`, with the droplet's size
    /// when known. Starts over (resetting both) when the server sends the whole droplet, or when
    /// nothing is left to fetch but the part is not the droplet; `None` when the part is whole.
    async fn request_rest(
        &self,
        droplet_guid: &str,
        sha256: &mut Sha256,
        have: &mut u64,
        expected: &str,
    ) -> Result<Option<(ResponseValue<ByteStream>, Option<u64>)>, ClientError> {
        let range = (*have > 0).then(|| format!("bytes={have}-"));
        // The rest of these bits only: bits that changed come whole.
        let if_range = range.as_ref().map(|_| format!("\"{expected}\""));
        let response =
            self.droplet_download(droplet_guid, None, if_range.as_deref(), range.as_deref());
        let response = match response.await {
            Ok(response) => response,
            Err(error)
                if *have > 0
                    && error.status() == Some(reqwest::StatusCode::RANGE_NOT_SATISFIABLE) =>
            {
                if hex::encode(sha256.clone().finalize()) == expected {
                    return Ok(None);
                }
                *sha256 = Sha256::new();
                *have = 0;
                self.droplet_download(droplet_guid, None, None, None).await?
            }
            Err(error) => return Err(error.into()),
        };
        if response.status() != reqwest::StatusCode::PARTIAL_CONTENT {
            *sha256 = Sha256::new();
            *have = 0;
        }
        let length = response
            .headers()
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        Ok(Some((response, length.map(|l| l + *have))))
    }
}

/// The SHA-256 state and length of an earlier download's part file; nothing if there is none.
async fn hash_existing(partial: &Path) -> std::io::Result<(Sha256, u64)> {
    let mut sha256 = Sha256::new();
    let mut file = match tokio::fs::File::open(partial).await {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok((sha256, 0)),
        Err(error) => return Err(error),
    };
    let mut buffer = vec![0u8; 256 * 1024];
    let mut length = 0u64;
    loop {
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok((sha256, length));
        }
        sha256.update(&buffer[..read]);
        length += read as u64;
    }
}
