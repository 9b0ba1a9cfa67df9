//! The file part of a multipart upload, streamed rather than read into memory.

use std::path::Path;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};

/// A file to upload as a form part, with its file name (the server wants `.tgz` or `.tar.gz`).
pub struct FilePart {
    part: reqwest::multipart::Part,
}

impl FilePart {
    /// Streams the file at `path`; its length is sent, and its name is the path's file name.
    pub async fn from_path(path: impl AsRef<Path>) -> std::io::Result<Self> {
        Self::from_path_reporting(path, |_| {}).await.map(|(part, _)| part)
    }

    /// [`FilePart::from_path`], calling `progress` with the bytes read so far as the upload
    /// streams the file; also returns the file's length.
    pub async fn from_path_reporting(
        path: impl AsRef<Path>,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> std::io::Result<(Self, u64)> {
        let path = path.as_ref();
        let file = tokio::fs::File::open(path).await?;
        let length = file.metadata().await?.len();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut sent = 0u64;
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).inspect_ok(
            move |chunk: &Bytes| {
                sent += chunk.len() as u64;
                progress(sent);
            },
        );
        Ok((Self::from_stream(name, Some(length), stream), length))
    }

    /// Streams any byte stream. With `length`, the part (and so the request) has a known size.
    pub fn from_stream<S, E>(file_name: impl Into<String>, length: Option<u64>, stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        let body = reqwest::Body::wrap_stream(
            stream.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
        );
        let part = match length {
            Some(length) => reqwest::multipart::Part::stream_with_length(body, length),
            None => reqwest::multipart::Part::stream(body),
        };
        Self::named(part, file_name.into())
    }

    /// Bytes already in memory, for small droplets and tests.
    pub fn from_bytes(file_name: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        let bytes: Bytes = bytes.into();
        Self::named(
            reqwest::multipart::Part::stream_with_length(bytes.clone(), bytes.len() as u64),
            file_name.into(),
        )
    }

    fn named(part: reqwest::multipart::Part, file_name: String) -> Self {
        let part = part.file_name(file_name);
        let part = part.mime_str("application/gzip").expect("a valid MIME type");
        FilePart { part }
    }

    /// The reqwest part, for the generated upload method.
    pub fn into_part(self) -> reqwest::multipart::Part {
        self.part
    }
}
