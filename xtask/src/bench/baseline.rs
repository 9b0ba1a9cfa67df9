//! The "before" of a before and after: `--baseline` names a `droplet-server` binary, or a git
//! revision of this repository, which is then built in release mode once and kept.
//!
//! A revision's tree is exported with `git archive` (no worktree to clean up) and built with a
//! target directory of its own, shared by every baseline, so that a second revision rebuilds
//! only what differs and this tree's own build is never overwritten.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, ensure};

use super::process::stderr;

/// The binary to measure as the baseline: `given` itself when it is a file, else the release
/// build of the revision it names.
pub(super) fn binary(root: &Path, target: &Path, given: &str) -> anyhow::Result<PathBuf> {
    let path = Path::new(given);
    if path.is_file() {
        return Ok(path.to_owned());
    }
    let commit = resolve(root, given).with_context(|| {
        format!("--baseline {given}: neither a droplet-server binary nor a git revision")
    })?;
    let dir = target.join("bench-baseline");
    let binary = dir.join(format!("droplet-server-{commit}"));
    if binary.is_file() {
        println!("baseline {given} ({commit}): {}", binary.display());
        return Ok(binary);
    }
    let source = dir.join(format!("src-{commit}"));
    if source.exists() {
        std::fs::remove_dir_all(&source)?;
    }
    std::fs::create_dir_all(&source)?;
    println!("exporting {given} ({commit}) to {}...", source.display());
    let archive = Command::new("git")
        .args(["archive", "--format=tar", &commit])
        .current_dir(root)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running git archive")?;
    let unpacked = Command::new("tar")
        .args(["-x", "-C"])
        .arg(&source)
        .stdin(archive.stdout.context("git archive's output")?)
        .status()
        .context("running tar")?;
    ensure!(unpacked.success(), "unpacking {commit} failed: {unpacked}");

    println!("building droplet-server at {commit} (release)...");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "droplet-server"])
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .current_dir(&source)
        .status()
        .context("running cargo")?;
    ensure!(status.success(), "building {commit} failed: {status}");
    std::fs::copy(dir.join("target/release/droplet-server"), &binary)?;
    std::fs::remove_dir_all(&source)?;
    Ok(binary)
}

/// The full commit id `revision` names.
fn resolve(root: &Path, revision: &str) -> anyhow::Result<String> {
    let output = Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", &format!("{revision}^{{commit}}")])
        .current_dir(root)
        .output()
        .context("running git rev-parse")?;
    ensure!(output.status.success(), "git does not know {revision:?}: {}", stderr(&output));
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}
