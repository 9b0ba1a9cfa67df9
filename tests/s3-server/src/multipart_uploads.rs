//! What S3 answers about multipart uploads and s3s-fs does not, as an s3s custom route (the
//! signature checked as for any request), over the files s3s-fs keeps for each upload in
//! progress: its record (`.upload-ID.json`, written when the upload was created, whose
//! modification time is when it was initiated) and its object attributes
//! (`.bucket-B.object-K.upload-ID.metadata.json`, which name its bucket and key).
//!
//! - `ListMultipartUploads` (`GET /BUCKET?uploads`): every upload in one page, sorted by key and
//!   then by initiation, as S3 sorts them.
//! - `AbortMultipartUpload` of an upload that is gone (`DELETE /BUCKET/KEY?uploadId=ID`): 404
//!   `NoSuchUpload`, as S3 answers, where s3s-fs answers 403; so that two clients aborting one
//!   upload both succeed, as on S3.

use std::path::PathBuf;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::http::Extensions;
use hyper::{HeaderMap, Method, Uri};
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result};

pub(crate) struct MultipartUploads {
    /// The directory s3s-fs serves.
    pub(crate) root: PathBuf,
}

/// One upload in progress, as the listing shows it.
struct Upload {
    key: String,
    id: String,
    initiated: SystemTime,
}

impl MultipartUploads {
    /// The uploads in progress into `bucket` whose keys start with `prefix`.
    fn uploads(&self, bucket: &str, prefix: &str) -> std::io::Result<Vec<Upload>> {
        let bucket_part = format!(".bucket-{}.object-", URL_SAFE_NO_PAD.encode(bucket));
        let mut uploads = Vec::new();
        for entry in std::fs::read_dir(&self.root)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(&bucket_part) else { continue };
            let Some(rest) = rest.strip_suffix(".metadata.json") else { continue };
            let Some((encoded_key, id)) = rest.split_once(".upload-") else { continue };
            let Ok(key) = URL_SAFE_NO_PAD.decode(encoded_key) else { continue };
            let Ok(key) = String::from_utf8(key) else { continue };
            // Completed or aborted meanwhile: its record is gone.
            let Ok(record) = std::fs::metadata(self.root.join(format!(".upload-{id}.json"))) else {
                continue;
            };
            if key.starts_with(prefix) {
                uploads.push(Upload { key, id: id.to_owned(), initiated: record.modified()? });
            }
        }
        uploads.sort_by(|a, b| (&a.key, a.initiated).cmp(&(&b.key, b.initiated)));
        Ok(uploads)
    }
}

impl MultipartUploads {
    /// Whether `uri` aborts an upload whose record is gone (or never was).
    fn gone(&self, uri: &Uri) -> bool {
        let Some(id) = query_value(uri, "uploadId") else { return false };
        // Anything but a plain id is s3s-fs's to refuse.
        let plain = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        plain && !self.root.join(format!(".upload-{id}.json")).exists()
    }
}

/// The value of query parameter `name`, percent-decoded.
fn query_value(uri: &Uri, name: &str) -> Option<String> {
    let query = uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[async_trait::async_trait]
impl S3Route for MultipartUploads {
    fn is_match(&self, method: &Method, uri: &Uri, _: &HeaderMap, _: &mut Extensions) -> bool {
        let bucket_only = uri.path().trim_matches('/').split('/').count() == 1;
        let listing = method == Method::GET && bucket_only && query_value(uri, "uploads").is_some();
        listing || (method == Method::DELETE && self.gone(uri))
    }

    async fn call(&self, request: S3Request<Body>) -> S3Result<S3Response<Body>> {
        if request.method == Method::DELETE {
            return Err(s3s::s3_error!(NoSuchUpload));
        }
        let bucket = request.uri.path().trim_matches('/').to_owned();
        let prefix = query_value(&request.uri, "prefix").unwrap_or_default();
        let uploads = self
            .uploads(&bucket, &prefix)
            .map_err(|e| s3s::s3_error!(InternalError, "listing the uploads in progress: {e}"))?;
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListMultipartUploadsResult \
             xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>{}</Bucket>\
             <KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>{}</Prefix>\
             <MaxUploads>10000</MaxUploads><IsTruncated>false</IsTruncated>",
            xml_escape(&bucket),
            xml_escape(&prefix)
        );
        for upload in uploads {
            let initiated = chrono::DateTime::<chrono::Utc>::from(upload.initiated)
                .format("%Y-%m-%dT%H:%M:%S%.3fZ");
            xml.push_str(&format!(
                "<Upload><Key>{}</Key><UploadId>{}</UploadId><Initiated>{initiated}</Initiated>\
                 <StorageClass>STANDARD</StorageClass></Upload>",
                xml_escape(&upload.key),
                xml_escape(&upload.id)
            ));
        }
        xml.push_str("</ListMultipartUploadsResult>");
        let mut response = S3Response::new(Body::from(xml));
        let content_type = hyper::header::HeaderValue::from_static("application/xml");
        response.headers.insert(hyper::header::CONTENT_TYPE, content_type);
        Ok(response)
    }
}
