//! The multipart uploads a bucket holds in progress (S3's `ListMultipartUploads`), which
//! `object_store` does not list: one signed GET per page, through the same HTTP client options
//! (timeouts, trusted CAs) and SigV4 signer that `object_store` uses for every other request.

use std::time::SystemTime;

use object_store::ClientOptions;
use object_store::aws::{AmazonS3, AwsAuthorizer};
use object_store::client::{HttpClient, HttpConnector, HttpRequestBody, ReqwestConnector};
use serde::Deserialize;

use super::errors::blob_error;
use crate::blobstore::{BlobError, PendingKind, PendingWrite};

/// Where and how to ask the bucket for its uploads in progress.
pub(super) struct UploadListing {
    client: HttpClient,
    /// The bucket's URL (`https://s3.REGION.amazonaws.com/BUCKET`, `ENDPOINT/BUCKET`, or the
    /// endpoint itself for virtual-hosted style), as `object_store` addresses it.
    bucket_url: String,
    region: String,
    sign_payload: bool,
}

/// One page of `ListMultipartUploadsResult`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPage {
    #[serde(default)]
    upload: Vec<Upload>,
    #[serde(default)]
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_upload_id_marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Upload {
    key: String,
    upload_id: String,
    initiated: chrono::DateTime<chrono::Utc>,
}

impl UploadListing {
    pub(super) fn new(
        options: &ClientOptions,
        bucket_url: String,
        region: String,
        sign_payload: bool,
    ) -> anyhow::Result<Self> {
        let client = ReqwestConnector::default()
            .connect(options)
            .map_err(|e| anyhow::anyhow!("S3 blobstore: {e}"))?;
        Ok(UploadListing { client, bucket_url, region, sign_payload })
    }

    /// Every upload in progress into a key under `prefix`, page after page.
    pub(super) async fn list(
        &self,
        store: &AmazonS3,
        prefix: &str,
    ) -> Result<Vec<PendingWrite>, BlobError> {
        let mut writes = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let page = self.page(store, prefix, markers.as_ref()).await?;
            writes.extend(page.upload.into_iter().map(|upload| PendingWrite {
                kind: PendingKind::MultipartUpload,
                key: Some(upload.key),
                name: upload.upload_id,
                started: SystemTime::from(upload.initiated),
            }));
            match (page.is_truncated, page.next_key_marker, page.next_upload_id_marker) {
                (true, Some(key), Some(id)) => markers = Some((key, id)),
                _ => return Ok(writes),
            }
        }
    }

    async fn page(
        &self,
        store: &AmazonS3,
        prefix: &str,
        markers: Option<&(String, String)>,
    ) -> Result<ListPage, BlobError> {
        // SigV4 signs the query in its canonical form: parameters sorted, values encoded.
        let mut query = vec![("prefix", prefix.to_owned()), ("uploads", String::new())];
        if let Some((key, id)) = markers {
            query.push(("key-marker", key.clone()));
            query.push(("upload-id-marker", id.clone()));
        }
        query.sort();
        let query: Vec<String> =
            query.iter().map(|(name, value)| format!("{name}={}", encode(value))).collect();
        let url = format!("{}/?{}", self.bucket_url.trim_end_matches('/'), query.join("&"));
        let failed = |e: &dyn std::fmt::Display| BlobError::Failed(format!("{url}: {e}"));
        let credential = store.credentials().get_credential().await.map_err(blob_error)?;
        let mut request =
            http::Request::get(&url).body(HttpRequestBody::empty()).map_err(|e| failed(&e))?;
        AwsAuthorizer::new(&credential, "s3", &self.region)
            .with_sign_payload(self.sign_payload)
            .try_authorize(&mut request, None)
            .map_err(blob_error)?;
        let response = self.client.execute(request).await.map_err(|e| {
            blob_error(object_store::Error::Generic { store: "S3", source: Box::new(e) })
        })?;
        let status = response.status();
        let body = response.into_body().bytes().await.map_err(|e| failed(&e))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(failed(&format!("ListMultipartUploads answered {status}: {text}")));
        }
        quick_xml::de::from_reader(body.as_ref()).map_err(|e| failed(&e))
    }
}

/// A query value as SigV4's canonical query string spells it: every byte but the unreserved
/// ones (`A-Z a-z 0-9 - . _ ~`) percent-encoded, `/` included.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
