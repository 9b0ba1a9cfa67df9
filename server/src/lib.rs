//! The droplet bits service: the Cloud Foundry v3 droplet endpoints of `droplet-api`, over a
//! metadata store (SQLite or PostgreSQL) and a blobstore.
//!
//! Layout: `endpoints` implements the API trait and delegates to `upload` (the streaming upload
//! and its job) and `download`; `auth` holds the token rules; `metadata` and `blobstore` are the
//! two storage seams; `server` wires them up from `config`.

pub mod auth;
pub mod blobstore;
pub mod config;
pub mod config_sources;
pub mod context;
mod copy;
mod delete;
pub mod dev_key;
mod docs;
mod download;
mod endpoints;
mod health;
mod jobs;
pub mod listing;
pub mod metadata;
mod metadata_rules;
mod present;
pub mod server;
mod shutdown;
mod signing;
mod time;
mod uaa;
mod upload;

pub use config::Config;
pub use server::{RunningServer, start};
