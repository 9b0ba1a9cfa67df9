//! Rust client for the droplet bits API (Cloud Foundry CAPI v3 droplet endpoints).
//!
//! Create a droplet, upload its gzip tarball, wait for the job, download the bits. This example
//! runs as a test against a real server (started in its hidden lines, on a temporary directory):
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let mut config = droplet_server::Config::default();
//! # config.bind = "127.0.0.1:0".parse()?;
//! # config.data_dir = dir.path().join("data");
//! # std::fs::create_dir_all(&config.data_dir)?;
//! # let key = droplet_server::load_development_key(&config.data_dir)?;
//! # let scopes = ["cloud_controller.read".to_owned(), "cloud_controller.write".to_owned()];
//! # let token = droplet_server::mint_token(&key, &config.auth.audience, &scopes, 600)?;
//! # let log = slog::Logger::root(slog::Discard, slog::o!());
//! # let server = droplet_server::start(config, log).await?;
//! # let api = format!("http://{}", server.local_addr());
//! # let droplet_tgz = dir.path().join("droplet.tgz");
//! # let gzip = flate2::write::GzEncoder::new(
//! #     std::fs::File::create(&droplet_tgz)?,
//! #     flate2::Compression::fast(),
//! # );
//! # let mut tarball = tar::Builder::new(gzip);
//! # let mut header = tar::Header::new_gnu();
//! # header.set_size(6);
//! # header.set_mode(0o644);
//! # tarball.append_data(&mut header, "app/hello.txt", &b"hello\n"[..])?;
//! # tarball.into_inner()?.finish()?;
//! # let copy_tgz = dir.path().join("copy.tgz");
//! # let app_guid = uuid::Uuid::new_v4();
//! use droplet_client::{Client, types};
//!
//! // The token may be pasted as `cf oauth-token` prints it ("bearer eyJ...").
//! let client = Client::for_transfers(&api, &token)?;
//!
//! // Create a droplet for an app: it is AWAITING_UPLOAD.
//! let app = types::DropletRelationships {
//!     app: types::ToOneRelationship { data: types::RelationshipData { guid: app_guid } },
//! };
//! let create = types::DropletCreate { relationships: app, process_types: None, metadata: None };
//! let droplet = client.droplet_create(None, &create).await?.into_inner();
//!
//! // Upload the tarball (streamed, its SHA-256 computed as it is sent), wait for the upload
//! // job, and check the droplet was staged with the SHA-256 that was sent.
//! let uploaded = client.upload_file(droplet.guid, &droplet_tgz).await?;
//! assert_eq!(uploaded.droplet.state, types::DropletState::Staged);
//!
//! // Download the bits to a file, verified against the droplet's SHA-256.
//! let downloaded = client.download_to_file(droplet.guid, &copy_tgz).await?;
//! assert_eq!(downloaded.sha256, uploaded.sent_sha256);
//! # server.shutdown(std::time::Duration::from_secs(5)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Every endpoint is a method of [`Client`], generated from `openapi.json` by progenitor
//! (`generated.rs`), and by the repository's own generator for the `multipart/form-data` upload
//! ([`Client::droplet_upload`], `generated_multipart.rs`); `cargo xtask regen` writes both. They
//! fail with [`Error`]`<`[`types::CfErrorEnvelope`]`>`, the CF error envelope
//! (`{"errors": [{"code", "title", "detail"}]}`).
//!
//! The hand-written extras make large transfers and long jobs practical, and fail with one
//! error type, [`ClientError`], which converts from the generated methods' errors with `?` and
//! gives the CF error's `code`, `title` and `detail` ([`ClientError::cf_error`]):
//!
//! - [`Client::for_transfers`]: a client with the bearer token and no total timeout, fit for
//!   multi-GiB droplets (the generated `Client::new` gives every request 15 s). A token that
//!   cannot be sent is refused here.
//! - [`Client::upload_file`] / [`Client::upload_file_with`]: streams a file as the droplet's
//!   bits, hashing what it sends, waits for the job and verifies the staged checksum
//!   ([`UploadReport`]).
//! - [`Client::download_to_file`] / [`Client::download_to_file_with`]: streams a droplet to a
//!   file and verifies its SHA-256; can resume an interrupted download and report progress.
//! - [`Client::wait_for_job`], [`Client::wait_for_accepted_job`], [`Client::wait_for_copy`] and
//!   their `_with` forms: follow a job or a copy with a backoff, up to a deadline
//!   ([`WaitOptions`]).
//! - [`Client::list_droplets`]: a page of droplets selected by a [`DropletQuery`] whose fields
//!   name the filters, rather than the generated [`Client::droplet_list`]'s seventeen positional
//!   `Option`s.
//! - [`FilePart`]: the `bits` of a [`DropletUploadForm`] for [`Client::droplet_upload`], streamed
//!   from a file or any byte stream.
//!
//! With the `cli` feature the crate also builds the `droplet` command line (`cli` module).

#![warn(missing_docs)]

#[cfg(feature = "cli")]
pub mod cli;
mod extras;
// The generated upload form's file part, below both the generated code and the extras.
mod file_part;
// Generated code is documented from openapi.json, as far as the document describes it.
#[allow(missing_docs)]
#[rustfmt::skip]
mod generated;
#[rustfmt::skip]
mod generated_multipart;
#[rustfmt::skip]
mod generated_tus;

pub use extras::{
    ClientError, DownloadOptions, DownloadReport, DropletQuery, ResumeOptions, TimeBounds,
    UploadOptions, UploadProtocol, UploadReport, WaitOptions, accepted_job_guid,
};
pub use file_part::FilePart;
pub use generated::*;
pub use generated_multipart::*;
