//! Droplets on the server under test: created, uploaded, waited for, downloaded, and checked to be
//! untouched; and the droplet tarballs the tests upload.

use droplet_client::{DropletUploadForm, FilePart, types};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::assertions::{eventually, within_deadline};
use super::http::job_guid;
use super::server::TestServer;

/// The 422 of a droplet that cannot take bits (again).
pub const ONLY_ONCE: &str =
    "Droplet may be uploaded only once. Create a new droplet to upload bits.";
/// The 422 of a droplet whose bits another upload is streaming in.
pub const IN_PROGRESS: &str =
    "An upload of this droplet is in progress. Wait for its job, or create a new droplet.";

impl TestServer {
    /// Creates a droplet for a new app; returns its guid.
    pub async fn create_droplet(&self) -> String {
        let body = types::DropletCreate {
            relationships: app_relationship(),
            process_types: None,
            metadata: None,
        };
        let droplet = self.client().droplet_create(None, &body).await.expect("create droplet");
        droplet.into_inner().guid.to_string()
    }

    pub async fn droplet(&self, guid: &str) -> types::Droplet {
        self.client().droplet_get(guid).await.expect("get droplet").into_inner()
    }

    /// The droplet as JSON, to check what the typed client would hide.
    pub async fn droplet_json(&self, guid: &str) -> Value {
        let response = self.get(&format!("/v3/droplets/{guid}")).send().await.expect("GET");
        assert_eq!(response.status(), 200);
        response.json().await.expect("droplet JSON")
    }

    /// A droplet's bits, through `GET /v3/droplets/{guid}/download`, following a redirect to
    /// the store (without the token, as clients do) when the blobstore answers with one.
    pub async fn download_bits(&self, guid: &str) -> Vec<u8> {
        let response = self.get(&format!("/v3/droplets/{guid}/download")).send().await;
        let mut response = response.expect("GET download");
        if response.status() == 302 {
            let location = response.headers()["location"].to_str().expect("a Location").to_owned();
            response = reqwest::get(location).await.expect("GET the store's URL");
        }
        assert_eq!(response.status(), 200, "downloading {guid}");
        response.bytes().await.expect("the bits").to_vec()
    }

    /// Uploads `bits` as `droplet.tgz` through the generated client and waits for the job.
    pub async fn upload_and_wait(&self, guid: &str, bits: &[u8]) -> types::Job {
        let client = self.client();
        let form = DropletUploadForm {
            bits: FilePart::from_bytes("droplet.tgz", bits.to_vec()),
            resources: None,
        };
        let accepted = client.droplet_upload(guid, form).await.expect("upload accepted");
        assert_eq!(accepted.status(), 202);
        within_deadline("the upload job", client.wait_for_accepted_job(&accepted))
            .await
            .expect("job")
    }

    /// Follows the job named by a 202's `Location` until it is `COMPLETE` or `FAILED`.
    pub async fn wait_for_job(&self, location: &str) -> types::Job {
        let client = self.client();
        within_deadline(
            "the job",
            client.wait_for_job(job_guid(location).parse().expect("a job guid")),
        )
        .await
        .expect("job")
    }

    /// Uploads a fresh droplet tarball and checks the droplet ends `STAGED` with its SHA-256.
    pub async fn upload_succeeds(&self, guid: &str) {
        let bits = small_droplet();
        let job = self.upload_and_wait(guid, &bits).await;
        assert_eq!(job.state, types::JobState::Complete, "job: {job:?}");
        let droplet = self.droplet(guid).await;
        assert_eq!(droplet.state, types::DropletState::Staged);
        assert_eq!(droplet.checksum.expect("checksum").value, sha256_hex(&bits));
    }

    /// A rejected upload changed nothing: the droplet still awaits its bits, no blob of it and no
    /// partial blob was left in the blobstore, and the droplet takes an upload now.
    pub async fn assert_untouched(&self, guid: &str) {
        let droplet = self.droplet_json(guid).await;
        assert_eq!(droplet["state"], "AWAITING_UPLOAD", "{droplet:#}");
        assert_eq!(droplet["checksum"], Value::Null);
        assert!(droplet["links"]["upload"].is_object(), "upload link gone: {droplet:#}");
        // Cleanup of an abandoned blob is asynchronous.
        eventually("no partial blob and no blob of the droplet", || async {
            self.partial_blobs().is_empty() && !self.blob_path(guid).exists()
        })
        .await;
        self.upload_succeeds(guid).await;
    }
}

pub fn app_relationship() -> types::DropletRelationships {
    types::DropletRelationships {
        app: types::ToOneRelationship {
            data: types::RelationshipData { guid: uuid::Uuid::new_v4() },
        },
    }
}

/// A gzip-compressed tarball holding `files` (path, contents). Paths are stored exactly as given,
/// `./` prefix included, the way `tar czf droplet.tgz .` stores them.
pub fn tarball(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut archive = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for (path, contents) in files {
        let mut header = tar::Header::new_ustar();
        header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append(&header, *contents).expect("tar entry");
    }
    archive.into_inner().expect("tar end").finish().expect("gzip end")
}

/// A small droplet with random contents, so that every call gives other bits (and checksum).
pub fn small_droplet() -> Vec<u8> {
    let start = format!("#!/bin/sh\necho {}\n", hex::encode(rand::random::<[u8; 16]>()));
    tarball(&[
        ("./staging_info.yml", b"{\"detected_buildpack\":\"ruby\",\"start_command\":\"rackup\"}"),
        ("./app/start.sh", start.as_bytes()),
        ("./app/data.bin", &random_bytes(8 * 1024)),
    ])
}

pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::fill(&mut bytes[..]);
    bytes
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn sha1_hex(bytes: &[u8]) -> String {
    hex::encode(Sha1::digest(bytes))
}
