//! The HTTP face of the server: the API trait implemented (`api`: authenticate, hand over to
//! `crate::droplets`, present), records presented as wire types (`present`), the root documents
//! (`root`), the documentation (`docs`) and the health check (`health`).

pub mod api;
mod docs;
mod health;
mod present;
mod root;
