//! Reading the upload form as it arrives: the fields before the `bits` part, the bits themselves
//! chunk by chunk, and the fields after them. Validation messages follow the reference.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use droplet_api::{CfError, MAX_RESOURCES_FIELD_BYTES, UploadForm, UploadResource};
use futures::{Stream, StreamExt};
use http_body_util::BodyExt;

const NO_BITS: &str = "A droplet tgz file must be uploaded as 'bits'";

pub struct UploadFormReader {
    multipart: multer::Multipart<'static>,
    /// Set when the body grew past the maximum, so that the resulting stream error becomes a 413.
    too_large: Arc<AtomicBool>,
    max_bytes: u64,
}

/// The `bits` part, positioned after its first chunk.
pub struct BitsField {
    field: multer::Field<'static>,
    first: Option<Bytes>,
}

impl UploadFormReader {
    /// `deadline` ends the body as if the client had gone away (a shutdown's grace period), and
    /// so does a body that sends nothing for `idle_timeout`.
    pub fn open(
        form: UploadForm,
        max_bytes: u64,
        idle_timeout: Duration,
        deadline: impl Future<Output = ()> + Send + 'static,
        bytes_received: prometheus::IntCounter,
    ) -> Result<Self, CfError> {
        if form.content_length.is_some_and(|length| length > max_bytes) {
            return Err(CfError::upload_too_large(max_bytes));
        }
        let boundary = form
            .content_type
            .as_deref()
            .and_then(|content_type| multer::parse_boundary(content_type).ok())
            .ok_or_else(|| invalid(&[NO_BITS.to_owned()]))?;
        let too_large = Arc::new(AtomicBool::new(false));
        let flag = too_large.clone();
        let mut received = 0u64;
        let body = cut_when_idle(form.body.into_data_stream(), idle_timeout);
        let body = body.take_until(deadline).map(move |chunk| {
            let chunk = chunk?;
            received += chunk.len() as u64;
            bytes_received.inc_by(chunk.len() as u64);
            if received > max_bytes {
                flag.store(true, Ordering::Relaxed);
                return Err(std::io::Error::other("upload too large"));
            }
            Ok(chunk)
        });
        Ok(UploadFormReader {
            multipart: multer::Multipart::new(body, boundary),
            too_large,
            max_bytes,
        })
    }

    /// Reads up to the `bits` part and its first chunk, and the `resources` field if it comes
    /// first. 422 with every reason the form is invalid.
    pub async fn read_until_bits(
        &mut self,
    ) -> Result<(BitsField, Option<Vec<UploadResource>>), CfError> {
        let mut reasons = Vec::new();
        let mut resources = None;
        loop {
            let Some(mut field) = self.multipart.next_field().await.map_err(|e| self.failed(e))?
            else {
                reasons.push(NO_BITS.to_owned());
                return Err(invalid(&reasons));
            };
            match field.name() {
                Some("bits") => {
                    let first = first_chunk(&mut field).await.map_err(|e| self.failed(e))?;
                    match field.file_name() {
                        None => reasons.push(NO_BITS.to_owned()),
                        Some(name) if !(name.ends_with(".tgz") || name.ends_with(".tar.gz")) => {
                            reasons.push(format!("{name} is not a tgz"))
                        }
                        Some(name) if first.is_none() => {
                            reasons.push(format!("{name} cannot be empty"))
                        }
                        Some(_) => {}
                    }
                    if !reasons.is_empty() {
                        return Err(invalid(&reasons));
                    }
                    return Ok((BitsField { field, first }, resources));
                }
                Some("resources") if resources.is_none() => {
                    match parse_resources(&self.text(field).await?) {
                        Ok(list) => resources = Some(list),
                        Err(reason) => reasons.push(reason),
                    }
                }
                name => reasons.push(unknown_field(name)),
            }
        }
    }

    /// Reads what follows the bits: a `resources` field (unless one came first) and nothing else.
    pub async fn read_after_bits(
        &mut self,
        bits: BitsField,
        have_resources: bool,
    ) -> Result<Option<Vec<UploadResource>>, CfError> {
        // multer hands out one field at a time: the bits part must be gone before the next.
        drop(bits);
        let mut reasons = Vec::new();
        let mut resources = None;
        while let Some(field) = self.multipart.next_field().await.map_err(|e| self.failed(e))? {
            match field.name() {
                Some("resources") if !have_resources && resources.is_none() => {
                    match parse_resources(&self.text(field).await?) {
                        Ok(list) => resources = Some(list),
                        Err(reason) => reasons.push(reason),
                    }
                }
                name => reasons.push(unknown_field(name)),
            }
        }
        if reasons.is_empty() { Ok(resources) } else { Err(invalid(&reasons)) }
    }

    /// Reads whatever is left of the body and throws it away.
    pub async fn discard_rest(&mut self) {
        while let Ok(Some(mut field)) = self.multipart.next_field().await {
            while let Ok(Some(_)) = field.chunk().await {}
        }
    }

    async fn text(&self, mut field: multer::Field<'static>) -> Result<String, CfError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| self.failed(e))? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_RESOURCES_FIELD_BYTES {
                return Err(invalid(&[format!(
                    "resources must not exceed {MAX_RESOURCES_FIELD_BYTES} bytes"
                )]));
            }
        }
        String::from_utf8(bytes).map_err(|_| invalid(&["resources must be UTF-8 JSON".to_owned()]))
    }

    /// A body that could not be read: too large (413), malformed or cut off (422; a client that
    /// went away never sees it).
    fn failed(&self, error: multer::Error) -> CfError {
        if self.too_large.load(Ordering::Relaxed) {
            CfError::upload_too_large(self.max_bytes)
        } else {
            invalid(&[format!("the multipart body could not be read: {error}")])
        }
    }
}

impl BitsField {
    pub async fn next_chunk(
        &mut self,
        reader: &mut UploadFormReader,
    ) -> Result<Option<Bytes>, CfError> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
        }
        self.field.chunk().await.map_err(|e| reader.failed(e))
    }
}

/// The body's chunks, ending with an error once no chunk came for `idle_timeout`: a client that
/// stalls holds its droplet no longer than one that went away.
fn cut_when_idle(
    chunks: http_body_util::BodyDataStream<dropshot::Body>,
    idle_timeout: Duration,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures::stream::unfold(Some(chunks), move |chunks| async move {
        let mut chunks = chunks?;
        match tokio::time::timeout(idle_timeout, chunks.next()).await {
            Ok(Some(chunk)) => Some((chunk.map_err(std::io::Error::other), Some(chunks))),
            Ok(None) => None,
            Err(_) => {
                let stalled = format!("no data for {} s", idle_timeout.as_secs());
                Some((Err(std::io::Error::new(std::io::ErrorKind::TimedOut, stalled)), None))
            }
        }
    })
}

async fn first_chunk(field: &mut multer::Field<'static>) -> Result<Option<Bytes>, multer::Error> {
    while let Some(chunk) = field.chunk().await? {
        if !chunk.is_empty() {
            return Ok(Some(chunk));
        }
    }
    Ok(None)
}

fn unknown_field(name: Option<&str>) -> String {
    format!("Unknown field(s): '{}'", name.unwrap_or(""))
}

fn invalid(reasons: &[String]) -> CfError {
    CfError::unprocessable(format!("Uploaded droplet file is invalid: {}", reasons.join(", ")))
}

/// Parses the `resources` form field.
fn parse_resources(text: &str) -> Result<Vec<UploadResource>, String> {
    serde_json::from_str(text).map_err(|e| {
        format!(
            "resources must be a JSON array of {{path, size_in_bytes, checksum: {{value}}}}: {e}"
        )
    })
}
