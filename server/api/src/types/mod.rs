//! Wire types, one file per resource or use: the droplet, the job, the list, request bodies, path
//! parameters and headers, and the root documents.

mod droplet;
mod job;
mod list;
mod params;
mod query_syntax;
mod requests;
mod root;
mod shared;

pub use droplet::*;
pub use job::*;
pub use list::*;
pub use params::*;
pub use query_syntax::{LabelSelector, ListOrder, MAX_PAGE, StateList, UtcTime, UtcTimeList};
pub use requests::*;
pub use root::*;
pub use shared::*;
