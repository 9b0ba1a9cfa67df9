//! Wire types, one file per resource or use: the droplet, the job, the list, request bodies, path
//! parameters and headers, and the root documents.

mod droplet;
mod job;
mod list;
mod params;
mod requests;
mod root;
mod shared;

pub use droplet::*;
pub use job::*;
pub use list::*;
pub use params::*;
pub use requests::*;
pub use root::*;
pub use shared::*;
