//! Resumable uploads: a droplet's bits in any number of appends, from any replica, over hours.
//! These are the operations, in no protocol's terms; `crate::http::tus` speaks tus over them.
//!
//! - `create`: the upload's row (`crate::store::resumable_uploads`), which holds its droplet as
//!   a streaming upload's claim does, and a resumable write in the blobstore
//!   (`crate::blobstore::resumable`).
//! - `append`: one request's bytes, appended at the recorded offset under a hold (`hold`), made
//!   durable by the blobstore and then recorded. The append that brings the last byte records
//!   itself and starts the `droplet.upload` job in one transaction.
//! - `completion`: that job: the bits' checks (carried across the appends, or read through the
//!   stored bits), the write published, the droplet staged or failed. Recovery redoes it from
//!   the recorded write when the job's process died.
//! - `end`: an upload given up, its bytes freed.
//!
//! A byte is acknowledged once an answer reported an offset past it; an offset is reported
//! only once recorded, and recorded only once durable.

mod append;
pub mod completion;
mod create;
mod end;
mod hold;
mod lookup;

pub use append::{AppendRequest, Appended, append};
pub use create::create;
pub use end::end;
pub use lookup::{Refused, find};
