//! End-to-end tests: each test starts the real `droplet-server` binary on a fresh data directory
//! and talks HTTP to it, through the generated client, plain reqwest, raw TCP or curl.

mod common;
mod fake_uaa;

mod accel_redirect;
mod app_droplets;
mod big;
mod cli;
mod client_extras;
mod compat;
mod contract;
mod copy;
mod delete;
mod disk_full;
mod docs;
mod download;
mod download_semantics;
mod droplets;
mod envelope;
mod invalid_bits;
mod jobs;
mod limits;
mod listing;
mod login;
mod metadata;
mod metrics;
mod operations;
mod panics;
mod patch_races;
mod postgres;
mod race;
mod recovery;
mod redaction;
mod redirect;
mod replicas;
mod resources;
mod s3;
mod shutdown;
mod spec;
mod stalls;
mod startup;
mod tokens;
mod uaa;
mod upload;
mod versions;
