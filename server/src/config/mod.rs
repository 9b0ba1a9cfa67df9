//! Server configuration: a TOML file (`--config`), overridden by flags and environment variables.
//! Every key has a default that gives a working single-machine server (SQLite and a local blob
//! directory under the data directory). Where the values come from is `sources`. Uses nothing
//! else of the server.

pub mod sources;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::bail;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Where the SQLite database, the local blobs and the development keys live.
    pub data_dir: PathBuf,
    /// Base of every absolute URL the server hands out (links, `Location`, signed URLs).
    /// Defaults to `http://<bound address>`.
    pub external_url: Option<String>,
    /// Largest upload request body accepted, in bytes; larger ones get 413.
    pub max_upload_bytes: u64,
    /// Uploads whose bodies may stream at once; past it an upload gets 503 with `Retry-After`
    /// before its body is read.
    pub max_concurrent_uploads: usize,
    /// How long, in seconds, an upload's body may make no progress before it is cut like a
    /// client that went away (nginx's `client_body_timeout`).
    pub upload_idle_timeout_secs: u64,
    /// How long, in seconds, a resumable upload neither completed nor appended to lasts before
    /// it expires and its bytes are freed (announced in `Upload-Expires`).
    pub resumable_upload_expiry_secs: u64,
    /// Metadata database URL; defaults to `sqlite://<data_dir>/droplets.db`.
    pub database_url: Option<String>,
    /// How long, in seconds, a server's hold on an upload in progress or a running job lasts
    /// without renewal (it renews every third of it). A replica that dies loses its holds after
    /// this long, and another replica then settles its jobs.
    pub lease_secs: u64,
    /// How old, in seconds, a write into the store that no upload recorded (a multipart upload
    /// whose client never learned of it, a temporary file of a process that died) must be before
    /// recovery discards it. Larger than the longest an upload takes to record its write.
    pub stale_write_grace_secs: u64,
    pub blobstore: BlobstoreConfig,
    pub auth: AuthConfig,
    pub metrics: MetricsConfig,
    /// Log level: trace, debug, info, warn, error.
    pub log_level: String,
    /// On SIGTERM, how long requests in flight (uploads) may take to finish before they are cut.
    pub shutdown_grace_secs: u64,
    /// Log lines as bunyan JSON (one object per line, with `req_id` on request logs) or as
    /// human-readable text.
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    #[default]
    Text,
}

/// The most parts an S3 multipart upload may have.
const S3_MAX_PARTS: u64 = 10_000;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlobstoreConfig {
    /// Which store holds the bits: a local directory (the default) or an S3-compatible bucket.
    pub kind: BlobstoreKind,
    /// Directory of the local blobstore; defaults to `<data_dir>/blobs`.
    pub path: Option<PathBuf>,
    /// Answer downloads with 302 to a signed URL served by this server, for clients that
    /// insist on a redirect, instead of streaming the bits directly.
    pub redirect_downloads: bool,
    /// Lifetime of a signed download URL, in seconds.
    pub signed_url_ttl_secs: u64,
    /// Local blobstore behind nginx: the internal nginx location (`/droplet-bits/`) that serves
    /// the blob directory. A download asked for with `X-Sendfile-Type: X-Accel-Redirect` (which
    /// that nginx sets) is then answered, once checked, with `X-Accel-Redirect:
    /// <location>droplets/<guid>` and no body, and nginx sends the bits. Off by default.
    pub x_accel_redirect_location: Option<String>,
    /// S3: the bucket (required).
    pub bucket: Option<String>,
    /// S3: the endpoint URL, for stores other than AWS (MinIO, Ceph RGW, Garage, ...).
    pub endpoint: Option<String>,
    /// S3: the region; else `AWS_REGION`/`AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// S3: the access key id; else `AWS_ACCESS_KEY_ID` (or the instance's role).
    pub access_key_id: Option<String>,
    /// S3: the secret access key; else `AWS_SECRET_ACCESS_KEY`. Never logged.
    pub secret_access_key: Option<Secret>,
    /// S3: allow a plain `http://` endpoint.
    pub allow_http: bool,
    /// S3: a PEM file of CA certificates to trust for the endpoint besides the system's (a store
    /// whose certificate a private CA signed).
    pub ca_certificate_file: Option<PathBuf>,
    /// S3: `https://BUCKET.endpoint/KEY` addressing instead of path style (`endpoint/BUCKET/KEY`,
    /// what MinIO, Ceph and Garage expect by default).
    pub virtual_hosted_style: bool,
    /// S3: lifetime of the presigned URLs downloads are redirected to, in seconds.
    pub presigned_url_ttl_secs: u64,
    /// S3: size of the parts a droplet is uploaded in, in MiB: from 5 (S3's smallest part) to
    /// 5120. S3 takes at most 10,000 parts, so this also caps a droplet's size (50 GiB at the
    /// default).
    pub part_size_mib: u64,
    /// S3: parts of one droplet sent at once. One connection to S3 rarely carries more than
    /// 100 MB/s, so a fast upload needs several; each upload holds up to
    /// `part_size_mib × (parts_in_flight + 1)` MiB while it streams (15 MiB at the defaults,
    /// which keep a server with one upload under 64 MiB).
    pub parts_in_flight: usize,
    /// S3: whether requests sign their payload (its SHA-256 in the signature), so that the store
    /// checks every byte it got. Unset, it follows the endpoint's scheme, as the AWS SDKs do:
    /// signed over plain http, where nothing else protects the bytes; unsigned over https (and
    /// on AWS), where TLS does, and the SHA-256 pass over every uploaded byte is saved.
    pub sign_payload: Option<bool>,
}

/// `GET /metrics`, the Prometheus text format.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics` on its own listener at this address (and not on the API's); by default
    /// it is served with the API.
    pub bind: Option<SocketAddr>,
    /// Require a bearer token with a read scope for `/metrics`, as for the API's reads.
    pub require_token: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobstoreKind {
    #[default]
    Local,
    S3,
}

/// A credential: deserialized as a plain string, shown by `Debug` as `<redacted>`.
#[derive(Clone, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Base URL of the UAA (e.g. `https://uaa.example.com`): its verification keys
    /// (`/token_keys`) and issuer (`/.well-known/openid-configuration`) are fetched from it, and
    /// the root document sends clients there to log in.
    pub uaa_url: Option<String>,
    /// Least time, in seconds, between two fetches of the UAA's keys (see `auth::uaa_keys`): a
    /// key the UAA newly publishes is accepted at most this long after the previous fetch.
    pub uaa_key_refetch_interval_secs: u64,
    /// Required `iss` of tokens. Defaults to the development issuer when no keys are configured.
    pub issuer: Option<String>,
    /// Required member of `aud`: the resource id of this service.
    pub audience: String,
    /// Shared secrets for HS256/384/512 tokens.
    pub hmac_keys: Vec<HmacKey>,
    /// UAA public keys for RS256/384/512 tokens, PEM-encoded.
    pub rsa_public_keys: Vec<RsaPublicKey>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HmacKey {
    /// Key id (`kid` header) this secret answers to; any token without `kid` may use it.
    pub kid: Option<String>,
    pub secret: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RsaPublicKey {
    pub kid: Option<String>,
    /// The PEM text, or
    pub pem: Option<String>,
    /// a file holding it.
    pub pem_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1:8080".parse().expect("valid address"),
            data_dir: PathBuf::from("droplet-data"),
            external_url: None,
            max_upload_bytes: 2 * 1024 * 1024 * 1024,
            max_concurrent_uploads: 32,
            upload_idle_timeout_secs: 60,
            resumable_upload_expiry_secs: 24 * 3600,
            database_url: None,
            lease_secs: 30,
            stale_write_grace_secs: 3600,
            blobstore: BlobstoreConfig::default(),
            auth: AuthConfig::default(),
            metrics: MetricsConfig::default(),
            log_level: "info".to_owned(),
            shutdown_grace_secs: 30,
            log_format: LogFormat::Text,
        }
    }
}

impl Default for BlobstoreConfig {
    fn default() -> Self {
        BlobstoreConfig {
            kind: BlobstoreKind::Local,
            path: None,
            redirect_downloads: false,
            signed_url_ttl_secs: 60,
            x_accel_redirect_location: None,
            bucket: None,
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
            ca_certificate_file: None,
            virtual_hosted_style: false,
            presigned_url_ttl_secs: 3600,
            part_size_mib: 5,
            parts_in_flight: 2,
            sign_payload: None,
        }
    }
}

impl BlobstoreConfig {
    /// The location names a directory of nginx's URI space, which the X-Accel-Redirect URI
    /// extends with the blob's key, and it serves files of the local blobstore only.
    fn check_x_accel_redirect_location(&self, location: &str) -> anyhow::Result<()> {
        let key = "blobstore.x_accel_redirect_location";
        if self.kind == BlobstoreKind::S3 {
            bail!(
                "{key} needs the local blobstore: with blobstore.kind = \"s3\" downloads \
                 already redirect to presigned URLs of the bucket"
            );
        }
        if location == "/" {
            bail!("{key} must be a location of its own, such as \"/droplet-bits/\", not /");
        }
        let Some(inner) = location.strip_prefix('/').and_then(|l| l.strip_suffix('/')) else {
            bail!("{key} must start and end with /, such as \"/droplet-bits/\"; got {location:?}");
        };
        // Plain path segments only: nothing nginx would decode, normalize or refuse.
        let plain = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
        let segments_plain = inner
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".." && s.chars().all(plain));
        if !segments_plain {
            bail!(
                "{key} must be a path of plain segments (letters, digits, - . _ ~) between /, \
                 such as \"/droplet-bits/\"; got {location:?}"
            );
        }
        Ok(())
    }
}

/// Forged tokens naming made-up key ids then cost the UAA two fetches a minute at most, while a
/// rotated key is accepted within half a minute (Nimbus JOSE, behind Spring Security, rate-limits
/// its key refetches to the same 30 s).
const UAA_KEY_REFETCH_INTERVAL_SECS: u64 = 30;

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            uaa_url: None,
            uaa_key_refetch_interval_secs: UAA_KEY_REFETCH_INTERVAL_SECS,
            issuer: None,
            audience: "cloud_controller".to_owned(),
            hmac_keys: vec![],
            rsa_public_keys: vec![],
        }
    }
}

impl Config {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.max_upload_bytes == 0 {
            bail!("max_upload_bytes must be greater than 0");
        }
        if self.max_concurrent_uploads == 0 {
            bail!("max_concurrent_uploads must be greater than 0");
        }
        if self.upload_idle_timeout_secs == 0 {
            bail!("upload_idle_timeout_secs must be greater than 0");
        }
        if !(1..=3600).contains(&self.lease_secs) {
            bail!("lease_secs must be between 1 and 3600");
        }
        if self.resumable_upload_expiry_secs == 0 {
            bail!("resumable_upload_expiry_secs must be greater than 0");
        }
        if self.stale_write_grace_secs == 0 {
            bail!("stale_write_grace_secs must be greater than 0");
        }
        if self.blobstore.signed_url_ttl_secs == 0 {
            bail!("blobstore.signed_url_ttl_secs must be greater than 0");
        }
        if self.blobstore.kind == BlobstoreKind::S3 {
            if self.blobstore.bucket.as_deref().is_none_or(str::is_empty) {
                bail!("blobstore.bucket is required with blobstore.kind = \"s3\"");
            }
            // SigV4 presigned URLs live at most 7 days.
            if !(1..=604_800).contains(&self.blobstore.presigned_url_ttl_secs) {
                bail!("blobstore.presigned_url_ttl_secs must be between 1 and 604800");
            }
            if !(5..=5120).contains(&self.blobstore.part_size_mib) {
                bail!("blobstore.part_size_mib must be between 5 and 5120 (S3's part sizes)");
            }
            if !(1..=64).contains(&self.blobstore.parts_in_flight) {
                bail!("blobstore.parts_in_flight must be between 1 and 64");
            }
            // Refused now rather than at an upload's 10,001st part.
            let largest_object = self.blobstore.part_size_mib * 1024 * 1024 * S3_MAX_PARTS;
            if self.max_upload_bytes > largest_object {
                bail!(
                    "max_upload_bytes ({}) is more than S3 takes in {S3_MAX_PARTS} parts of \
                     blobstore.part_size_mib = {} MiB ({largest_object} bytes): raise the part size",
                    self.max_upload_bytes,
                    self.blobstore.part_size_mib
                );
            }
        }
        if let Some(location) = &self.blobstore.x_accel_redirect_location {
            self.blobstore.check_x_accel_redirect_location(location)?;
        }
        if let Some(url) = &self.external_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("external_url must start with http:// or https://, got {url:?}");
        }
        // Zero would refetch for every token naming an unknown key id.
        if self.auth.uaa_key_refetch_interval_secs == 0 {
            bail!("auth.uaa_key_refetch_interval_secs must be greater than 0");
        }
        for key in &self.auth.rsa_public_keys {
            if key.pem.is_some() == key.pem_file.is_some() {
                bail!("each auth.rsa_public_keys entry needs exactly one of pem and pem_file");
            }
        }
        Ok(())
    }

    pub fn blob_dir(&self) -> PathBuf {
        self.blobstore.path.clone().unwrap_or_else(|| self.data_dir.join("blobs"))
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}?mode=rwc", self.data_dir.join("droplets.db").display())
        })
    }

    /// Where clients log in: the UAA's base URL, or the configured issuer without its
    /// `/oauth/token` path. None for the development issuer, which is not a URL.
    pub fn login_url(&self) -> Option<String> {
        let from_issuer = self.auth.issuer.as_deref().filter(|i| i.starts_with("http"));
        let from_issuer = from_issuer.map(|i| i.trim_end_matches("/oauth/token").to_owned());
        self.auth.uaa_url.clone().or(from_issuer).map(|u| u.trim_end_matches('/').to_owned())
    }

    /// True when no token keys are configured: the server then trusts the development key in the
    /// data directory, which `droplet-server token` signs with.
    pub fn uses_development_key(&self) -> bool {
        self.auth.hmac_keys.is_empty()
            && self.auth.rsa_public_keys.is_empty()
            && self.auth.uaa_url.is_none()
    }
}

#[cfg(test)]
mod tests;
