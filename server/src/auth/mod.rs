//! Authentication and authorization, in one place: which bearer tokens are accepted (`tokens`,
//! with the UAA's published keys from `uaa`, refetched as `uaa_keys` bounds, and the development
//! key of `dev_key`), which scopes allow what and who sees a droplet's secrets (`scopes`), and the
//! signed download URLs that stand in for a token (`signed_urls`). Depends on the configuration
//! only.

pub mod dev_key;
pub mod key_file;
pub mod scopes;
pub mod signed_urls;
pub mod tokens;
mod uaa;
mod uaa_keys;

pub use scopes::{Access, Caller};
