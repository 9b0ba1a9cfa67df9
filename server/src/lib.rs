//! The droplet bits service: the Cloud Foundry v3 droplet endpoints of `droplet-api`, over a
//! metadata store (SQLite or PostgreSQL) and a blobstore (a directory or an S3 bucket).
//!
//! The tree is the architecture; each folder's module comment says what it owns and what it may
//! call:
//!
//! - `http/`: the API trait implemented; authenticates, hands over to `droplets/`, presents;
//!   `/docs`, `/healthz`, `/metrics`.
//! - `droplets/`: the operations (create, update, list, copy, delete, download, `upload/` and
//!   its `resumable/` uploads), the
//!   label and annotation rules, and recovery of a dead process's uploads and jobs.
//! - `jobs/`: the one job runner, job leases, and the sweep that takes a dead process's jobs
//!   over; it knows no kind of job, and sits below `droplets/`.
//! - `store/`: the metadata database, one file per resource or mechanism.
//! - `blobstore/`: where the bits live, one file per backend (and `metered`, which counts them).
//! - `check/`: `droplet-server check`, which proves the metadata and the bits agree and settles
//!   what does not; its sweep of stale writes runs in recovery too.
//! - `auth/`: token rules, scopes, UAA keys, the development key, signed download URLs.
//! - `config/`: the configuration and where it comes from.
//! - `errors.rs`: the one place a storage error becomes a CF error.
//! - `metrics.rs`: what Prometheus sees; the rest only counts into it.
//! - `server.rs` and `shutdown.rs`: starting the server, and stopping it gracefully.
//! - `allocator.rs`: glibc's allocator, tuned for droplet chunks.
//! - `inspection/`: what an upload's bits are checked for (digests, gzip, tar, resources), on
//!   threads of their own as the bits stream.
//! - `handover.rs`: work of this process a newer request may ask to give way.
//! - `faults.rs`: panics a test can switch on in a debug build.

pub mod allocator;
mod auth;
mod blobstore;
pub mod check;
mod config;
mod context;
mod droplets;
mod errors;
mod faults;
mod handover;
mod http;
mod inspection;
mod jobs;
mod metrics;
mod server;
mod shutdown;
mod store;
mod time;

pub use auth::dev_key::{load_or_create as load_development_key, mint_token};
pub use config::sources::load as load_config;
pub use config::{Config, LogFormat};
pub use server::{RunningServer, start};
