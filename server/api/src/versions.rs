//! The versions of the API. Each has its own document (`openapi/droplets/`), and a version main
//! has published never changes incompatibly: `cargo xtask check` holds its document against the
//! one main first published for it. A change that would break one arrives as a new version, and
//! the server keeps serving the old ones; a client names its version in the `api-version` header.
//! The README's "Adding a version" says how, step by step.

use dropshot_api_manager_types::api_versions;

api_versions!([
    // Newest first. To add a version: copy the commented line, uncomment the copy, give it the
    // next number and a name for what it brings, leave the comment as it is, and say in
    // `CHANGES` what the version brings. Then mark the endpoints it adds, changes or removes
    // with `versions = ...`.
    // (5, NEXT_VERSION_NAME),
    (4, RESUMABLE_UPLOADS),
    (3, INITIAL),
]);

/// The request header that names the version a client speaks. progenitor's clients send the
/// version of the document they were generated from; a request without it gets the latest.
pub const VERSION_HEADER: &str = "api-version";

/// What each version brought, by its name in `api_versions!`, newest first: the version history
/// each document states in its description.
const CHANGES: &[(&str, &str)] = &[
    (
        "RESUMABLE_UPLOADS",
        "Resumable uploads (tus 1.0.0, with the creation, termination, expiration and checksum \
         extensions): a droplet's bits sent in any number of requests, each acknowledged byte \
         durable, resumed after a broken connection from the offset the server reports.",
    ),
    (
        "INITIAL",
        "The Cloud Foundry v3 droplet endpoints that move a droplet's bits: create, get, list, \
         update and delete droplets, upload and download their bits, follow jobs.",
    ),
];

/// What the version named `label` in `api_versions!` brought.
pub fn what_changed(label: &str) -> &'static str {
    CHANGES.iter().find(|(name, _)| *name == label).map(|(_, what)| *what).unwrap_or_else(|| {
        panic!("version {label} is not described in `CHANGES` (server/api/src/versions.rs)")
    })
}

/// Every supported version, oldest first.
pub fn all() -> Vec<semver::Version> {
    supported_versions().iter().map(|v| v.semver().clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_says_what_it_brought_and_nothing_else_is_described() {
        let labels: Vec<String> =
            supported_versions().iter().map(|v| v.label().to_owned()).collect();
        for label in &labels {
            assert!(!what_changed(label).is_empty());
        }
        for (name, _) in CHANGES {
            assert!(labels.iter().any(|l| l == name), "`CHANGES` describes unknown version {name}");
        }
    }
}
