//! End-to-end tests: each test starts the real `droplet-server` binary on a fresh data directory
//! and talks HTTP to it, through the generated client, plain reqwest, raw TCP or curl.

mod common;

mod big;
mod download;
mod droplets;
mod jobs;
mod limits;
mod race;
mod recovery;
mod redirect;
mod resources;
mod spec;
mod tokens;
mod upload;
