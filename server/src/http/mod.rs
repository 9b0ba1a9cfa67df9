//! The HTTP face of the server: the API trait implemented (`api`: authenticate, hand over to
//! `crate::droplets`, present), records presented as wire types (`present`), the root documents
//! (`root`), the documentation (`docs`), the health check (`health`) and the metrics
//! (`metrics`).

pub mod api;
mod caller;
mod docs;
mod health;
pub mod metrics;
mod present;
mod root;
