//! The HTTP face of the server: the API trait implemented (`api`: authenticate, hand over to
//! `crate::droplets`, present), records presented as wire types (`present`), the root documents
//! (`root`), the documentation (`docs`), the health check (`health`), the metrics
//! (`metrics`), and the 405s of methods a path does not serve (`methods`).

pub mod api;
mod caller;
mod docs;
mod health;
pub mod methods;
pub mod metrics;
mod present;
mod root;
