//! The HTTP face of the server: the API trait implemented (`api`: authenticate, hand over to
//! `crate::droplets`, present), records presented as wire types (`present`), the root documents
//! (`root`), the documentation (`docs`), the health check (`health`), the metrics
//! (`metrics`), the 405s of methods a path does not serve (`methods`), the API version a
//! request asks for, with the 400 for one the server does not serve (`versions`), and tus over
//! the resumable uploads (`tus`).

pub mod api;
mod caller;
mod docs;
mod health;
pub mod methods;
pub mod metrics;
mod present;
mod root;
mod tus;
pub mod versions;
