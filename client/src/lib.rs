//! Rust client for the droplet bits API (Cloud Foundry CAPI v3 droplet endpoints).
//!
//! Most of it is generated from `openapi.json` by progenitor (`generated.rs`) and by the
//! repository's own generator for the `multipart/form-data` upload (`generated_multipart.rs`);
//! `cargo xtask regen` writes both. The hand-written extras make large transfers practical:
//!
//! - [`Client::for_transfers`]: a client with the bearer token and no total timeout, fit for
//!   multi-GiB droplets (the generated `Client::new` gives every request 15 s).
//! - [`FilePart`]: the `bits` of an upload, streamed from a file or any byte stream.
//! - [`Client::wait_for_job`]: follows a job until it is `COMPLETE` or `FAILED`.
//! - [`Client::download_to_file`]: streams a droplet to a file and verifies its SHA-256;
//!   [`Client::download_to_file_with`] also resumes an interrupted download and reports progress.
//! - [`Client::wait_for_copy`]: follows a droplet being copied until it is `STAGED` or `FAILED`.
//!
//! With the `cli` feature the crate also builds the `droplet` command line (`cli` module).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use droplet_client::{Client, DropletUploadForm, FilePart, types};
//! let client = Client::for_transfers("http://127.0.0.1:8080", "TOKEN")?;
//! let app = types::DropletRelationships {
//!     app: types::ToOneRelationship { data: types::RelationshipData { guid: uuid::Uuid::new_v4() } },
//! };
//! let droplet = client
//!     .droplet_create(
//!         None,
//!         &types::DropletCreate { relationships: app, process_types: None, metadata: None },
//!     )
//!     .await?
//!     .into_inner();
//! let guid = droplet.guid.to_string();
//! let form = DropletUploadForm { bits: FilePart::from_path("droplet.tgz").await?, resources: None };
//! let accepted = client.droplet_upload(&guid, form).await?;
//! let job = client.wait_for_accepted_job(&accepted).await?;
//! assert_eq!(job.state, types::JobState::Complete);
//! client.download_to_file(&guid, "copy.tgz").await?;
//! # Ok(()) }
//! ```

#[cfg(feature = "cli")]
pub mod cli;
mod extras;
#[rustfmt::skip]
mod generated;
#[rustfmt::skip]
mod generated_multipart;

pub use extras::{
    DownloadError, DownloadOptions, DownloadReport, FilePart, JobWaitError, accepted_job_guid,
};
pub use generated::*;
pub use generated_multipart::*;
