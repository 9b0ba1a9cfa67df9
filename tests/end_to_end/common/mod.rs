//! The harness, one file per concern: the server under test as a child process (`server`), on
//! PostgreSQL and as replicas (`postgres`), tokens for it (`tokens`), talking to it (`http`),
//! droplets and tarballs (`droplets`), its blobstore as files (`blobs`), `droplet-server check`
//! beside it (`check`), an S3 store under strain (`faulty_s3`), a link that breaks
//! (`cutting_proxy`), nginx in front of it
//! (`nginx`), tus spoken by hand (`tus`), and assertions on what it answers (`assertions`).

mod assertions;
mod blobs;
mod check;
mod cutting_proxy;
mod droplets;
mod faulty_s3;
mod http;
mod nginx;
mod postgres;
mod server;
mod small_fs;
mod tokens;
mod tus;

pub use assertions::*;
pub use cutting_proxy::CuttingProxy;
pub use droplets::*;
pub use faulty_s3::{FaultyS3, Strain};
pub use http::*;
pub use nginx::{Nginx, free_port};
pub use postgres::on_postgres;
pub use server::TestServer;
pub use small_fs::SmallFilesystem;
pub use tokens::*;
pub use tus::*;
