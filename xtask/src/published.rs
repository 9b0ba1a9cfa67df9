//! Which versions of the API are published, and their documents as published.
//!
//! Published means committed on main, and a version's document never changes once main has it.
//! So a version's published document is not main's current file: in CI the clone's HEAD *is*
//! main, and a breaking change already regenerated and committed there would be its own
//! reference. It is the file of the first commit in main's first-parent history that added a
//! document for that version (`git log --first-parent --diff-filter=A`), as that commit has it.
//! Later commits cannot change it, whatever they do to the file on main.
//!
//! Main is `DROPLET_PUBLISHED_REF` when set, otherwise `origin/main`, otherwise `main`. Without
//! one of them, or in a shallow clone (which lacks the history), there is no telling, and the
//! check fails rather than pass a change it cannot judge.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// The API's name: its documents are `openapi/droplets/droplets-VERSION-HASH.json`.
pub const API: &str = "droplets";

/// Writes each published version's document, as first published, into `into/droplets/`, and
/// says where they came from.
pub fn write_blessed(root: &Path, into: &Path) -> anyhow::Result<()> {
    if git(root, &["rev-parse", "--is-shallow-repository"])?.trim() == "true" {
        bail!(
            "this is a shallow clone: which versions main published needs main's history \
             (`git fetch --unshallow`, or clone without --depth)"
        );
    }
    let main = main_ref(root)?;
    let directory = format!("openapi/{API}/");
    let log = git(
        root,
        &[
            "log",
            "--first-parent",
            "--no-renames",
            "--diff-filter=A",
            "--reverse",
            "--format=commit %H",
            "--name-only",
            &main,
            "--",
            &directory,
        ],
    )?;
    let target = into.join(API);
    std::fs::create_dir_all(&target)?;
    let mut seen = std::collections::BTreeSet::new();
    let mut commit = "";
    for line in log.lines().filter(|l| !l.is_empty()) {
        if let Some(hash) = line.strip_prefix("commit ") {
            commit = hash;
            continue;
        }
        let Some(name) = line.strip_prefix(&directory) else { continue };
        let Some(version) = document_version(name) else { continue };
        if !seen.insert(version.clone()) {
            continue;
        }
        let contents = git_bytes(root, &["show", &format!("{commit}:{line}")])?;
        std::fs::write(target.join(name), contents)?;
        println!("version {version} was published by {} on {main}", &commit[..10]);
    }
    if seen.is_empty() {
        println!("no version of the API is published on {main} yet");
    }
    Ok(())
}

/// The version of a document named `droplets-VERSION-HASH.json`; `None` for other files (the
/// `-latest` link).
fn document_version(name: &str) -> Option<semver::Version> {
    let middle = name.strip_prefix(&format!("{API}-"))?.strip_suffix(".json")?;
    let (version, _hash) = middle.rsplit_once('-')?;
    version.parse().ok()
}

/// The ref whose history says what is published.
fn main_ref(root: &Path) -> anyhow::Result<String> {
    if let Ok(named) = std::env::var("DROPLET_PUBLISHED_REF") {
        return Ok(named);
    }
    for candidate in ["origin/main", "main"] {
        let spec = format!("{candidate}^{{commit}}");
        if git(root, &["rev-parse", "--verify", "--quiet", &spec]).is_ok() {
            return Ok(candidate.to_owned());
        }
    }
    bail!(
        "cannot tell which API versions are published: there is no `origin/main` or `main` \
         (set DROPLET_PUBLISHED_REF to the branch that publishes)"
    )
}

fn git(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    Ok(String::from_utf8(git_bytes(root, args)?)?)
}

fn git_bytes(root: &Path, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let output = Command::new("git")
        .current_dir(root)
        .args(args)
        .output()
        .context("running git (the API version check reads main's history)")?;
    if !output.status.success() {
        bail!("git {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::document_version;

    #[test]
    fn a_document_is_named_by_its_version_and_hash() {
        let version = document_version("droplets-3.0.0-abc123.json");
        assert_eq!(version, Some(semver::Version::new(3, 0, 0)));
        assert_eq!(document_version("droplets-latest.json"), None);
        assert_eq!(document_version("droplets-3.0.0-abc123.json.gitstub"), None);
    }
}
