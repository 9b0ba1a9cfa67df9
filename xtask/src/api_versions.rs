//! The versioned documents under `openapi/droplets/`, one per version of the API, named with
//! their content hash, plus a `droplets-latest.json` link: laid out and judged by
//! dropshot-api-manager, whose `drift` decides whether a published version changed
//! incompatibly.
//!
//! The tool generates documents from the API trait alone, and ours are completed beyond what
//! dropshot derives (`droplet_api::spec`); so the documents are written here, and the tool
//! loads them as its generated ones (`--generated-from-dir`). The published documents are the
//! ones main first published (`published`), loaded as its blessed ones (`--blessed-from-dir`).
//! A published version must stay compatible with its published document, and the latest one
//! identical to it; a version not yet published is simply rewritten.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use dropshot_api_manager::{App, Environment, ManagedApiConfig, ManagedApis};
use dropshot_api_manager_types::{ManagedApiMetadata, Versions};
use sha2::{Digest, Sha256};

use crate::published::{self, API};

/// The text of a version's document, as `openapi.json` and `openapi/droplets/` hold it.
pub fn document_text(version: &semver::Version) -> anyhow::Result<String> {
    let document = droplet_api::spec::versioned_document(version);
    Ok(serde_json::to_string_pretty(&document)? + "\n")
}

/// `cargo xtask regen` (`generate`: rewrites the documents of versions not yet published and the
/// link) or `cargo xtask check` (`check`: writes nothing). True when nothing is wrong; the tool
/// prints what it found.
pub fn manage(root: &Path, command: &str) -> anyhow::Result<bool> {
    let scratch = tempfile::tempdir()?;
    let generated = scratch.path().join("generated");
    write_generated(&generated.join(API))?;
    let blessed = scratch.path().join("blessed");
    published::write_blessed(root, &blessed)?;

    // The tool reads the directory, which the first regen has yet to make.
    std::fs::create_dir_all(root.join("openapi"))?;
    let root = root.to_str().context("the repository's path is UTF-8")?;
    // The tool's advice names `cargo xtask generate`, an alias of `regen`.
    let environment = Environment::new("cargo xtask", root, "openapi")?;
    let apis = ManagedApis::new(vec![ManagedApiConfig {
        ident: API,
        versions: Versions::new_versioned(droplet_api::versions::supported_versions()),
        title: droplet_api::spec::TITLE,
        metadata: ManagedApiMetadata::default(),
        api_description: droplet_api::droplet_api_mod::stub_api_description,
    }])?;
    let path = |p: &Path| p.to_str().map(str::to_owned).context("temporary paths are UTF-8");
    let app = App::try_parse_from([
        "cargo xtask".to_owned(),
        command.to_owned(),
        "--generated-from-dir".to_owned(),
        path(&generated)?,
        "--blessed-from-dir".to_owned(),
        path(&blessed)?,
    ])?;
    Ok(app.exec(&environment, &apis) == ExitCode::SUCCESS)
}

/// Every supported version's document, as the tool names it, and the link to the latest.
fn write_generated(directory: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(directory)?;
    let mut latest = None;
    for version in droplet_api::versions::all() {
        let text = document_text(&version)?;
        // The tool's hash: the first three bytes of the SHA-256, in hex.
        let hash = hex::encode(&Sha256::digest(text.as_bytes())[..3]);
        let name = format!("{API}-{version}-{hash}.json");
        std::fs::write(directory.join(&name), text)?;
        latest = Some(name);
    }
    let latest = latest.context("the API has a version")?;
    std::os::unix::fs::symlink(latest, directory.join(format!("{API}-latest.json")))?;
    Ok(())
}
