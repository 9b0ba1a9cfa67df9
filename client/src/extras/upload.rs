//! Uploading a droplet's file and verifying, end to end, that the server staged those bits.

use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::ClientError;
use super::jobs::WaitOptions;
use super::resumable::ResumeOptions;
use crate::file_part::FilePart;
use crate::generated::{Client, types};
use crate::generated_multipart::DropletUploadForm;

/// What a verified upload sent and what the server staged: the same bits.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UploadReport {
    /// The droplet, `STAGED`.
    pub droplet: types::Droplet,
    /// Bytes of bits sent.
    pub bytes: u64,
    /// SHA-256 of the bits as they were sent, lowercase hex, computed while sending them.
    pub sent_sha256: String,
    /// The checksum the server staged the droplet with: equal to `sent_sha256`.
    pub staged_sha256: String,
}

/// How an upload sends its bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UploadProtocol {
    /// A resumable upload (tus 1.0.0): after a broken connection it goes on from the last
    /// byte the server acknowledged (see [`ResumeOptions`]).
    #[default]
    Resumable,
    /// One `multipart/form-data` request, as the Cloud Controller takes it: a broken
    /// connection fails the upload, which starts over. Needed for `resources`.
    Multipart,
}

/// How [`Client::upload_file_with`] uploads.
#[derive(Clone, Default)]
pub struct UploadOptions {
    /// Resumable (the default) or multipart.
    pub protocol: UploadProtocol,
    /// How a resumable upload gets over broken connections.
    pub resume: ResumeOptions,
    /// Files the tarball must contain with that size and SHA-1 (the form's `resources`); the job
    /// fails otherwise. Multipart uploads only.
    pub resources: Option<Vec<types::UploadResource>>,
    /// Called as the file streams out, with the bytes sent so far and the file's size.
    pub progress: Option<Arc<dyn Fn(u64, u64) + Send + Sync>>,
    /// How long to wait for the upload job.
    pub wait: WaitOptions,
}

impl std::fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadOptions")
            .field("protocol", &self.protocol)
            .field("resume", &self.resume)
            .field("resources", &self.resources)
            .field("progress", &self.progress.as_ref().map(|_| "Fn(sent, total)"))
            .field("wait", &self.wait)
            .finish()
    }
}

impl Client {
    /// Uploads the gzip tarball at `path` as the droplet's bits, streaming it and computing the
    /// SHA-256 of what it sends on the way; waits for the upload job; and checks that the droplet
    /// was staged with that checksum. The upload is resumable: a connection that breaks is
    /// picked up again from the last byte the server acknowledged. Fails with
    /// [`ClientError::JobFailed`] when the server refuses the bits (not a gzip tarball, ...),
    /// and with [`ClientError::UploadChecksumMismatch`] when it staged other bits than were sent.
    pub async fn upload_file(
        &self,
        droplet_guid: Uuid,
        path: impl AsRef<Path>,
    ) -> Result<UploadReport, ClientError> {
        self.upload_file_with(droplet_guid, path, UploadOptions::default()).await
    }

    /// [`Client::upload_file`], with the protocol, resuming, the form's `resources`, progress
    /// and waiting as `options` say.
    pub async fn upload_file_with(
        &self,
        droplet_guid: Uuid,
        path: impl AsRef<Path>,
        options: UploadOptions,
    ) -> Result<UploadReport, ClientError> {
        let path = path.as_ref();
        let (bytes, sent_sha256, job) = match options.protocol {
            UploadProtocol::Multipart => self.send_multipart(droplet_guid, path, &options).await?,
            UploadProtocol::Resumable if options.resources.is_some() => {
                return Err(ClientError::Unsupported(
                    "resources are checked by multipart uploads only",
                ));
            }
            UploadProtocol::Resumable => {
                let progress = options.progress.clone();
                let sent = self.send_resumable(droplet_guid, path, progress, &options.resume);
                let sent = sent.await?;
                (sent.bytes, sent.sha256, sent.job)
            }
        };
        let job = self.wait_for_job_with(job, &options.wait).await?;
        if job.state == types::JobState::Failed {
            return Err(ClientError::JobFailed(Box::new(job)));
        }
        let guid = droplet_guid.to_string();
        let droplet = self.droplet_get(&guid).await?.into_inner();
        let staged_sha256 = droplet.checksum.as_ref().map(|c| c.value.to_lowercase());
        let staged_sha256 = staged_sha256.unwrap_or_default();
        if staged_sha256 != sent_sha256 {
            return Err(ClientError::UploadChecksumMismatch {
                sent: sent_sha256,
                staged: staged_sha256,
            });
        }
        Ok(UploadReport { droplet, bytes, sent_sha256, staged_sha256 })
    }

    /// Sends the file as one multipart form; what was sent, and the job that took it.
    async fn send_multipart(
        &self,
        droplet_guid: Uuid,
        path: &Path,
        options: &UploadOptions,
    ) -> Result<(u64, String, Uuid), ClientError> {
        let io_error = |error| ClientError::Io { path: path.to_owned(), error };
        let file = tokio::fs::File::open(path).await.map_err(io_error)?;
        let length = file.metadata().await.map_err(io_error)?.len();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();

        let sent = Arc::new(Mutex::new((Sha256::new(), 0u64)));
        let hashing = sent.clone();
        let progress = options.progress.clone();
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).inspect_ok(
            move |chunk: &Bytes| {
                let mut sent = hashing.lock().expect("the hash is never poisoned");
                sent.0.update(chunk);
                sent.1 += chunk.len() as u64;
                if let Some(progress) = &progress {
                    progress(sent.1, length);
                }
            },
        );
        let bits = FilePart::from_stream(name, Some(length), stream);
        let form = DropletUploadForm { bits, resources: options.resources.clone() };
        let guid = droplet_guid.to_string();
        let accepted = self.droplet_upload(&guid, form).await?;
        // A 202 comes once the server has read the whole form: every byte sent went through
        // the hash.
        let (sha256, bytes) = std::mem::take(&mut *sent.lock().expect("never poisoned"));
        let job = super::jobs::accepted_job_guid(&accepted).ok_or(ClientError::NoJobLocation)?;
        Ok((bytes, hex::encode(sha256.finalize()), job))
    }
}

#[cfg(test)]
mod tests {
    /// An upload is a future a runtime can spawn onto its threads.
    #[allow(dead_code)]
    fn an_upload_can_be_spawned(
        client: &'static crate::generated::Client,
        options: super::UploadOptions,
    ) {
        fn spawnable<T: Send + 'static>(_: T) {}
        spawnable(client.upload_file_with(uuid::Uuid::nil(), "droplet.tgz", options));
    }
}
