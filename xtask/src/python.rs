//! Python tools from PyPI, pinned, in virtualenvs under `target/tools/`: the test tools
//! (`test`) and the bench's reference S3 uploader (`bench`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The virtualenv `target/tools/NAME` with `packages` installed, created or completed as needed.
pub fn venv(root: &Path, name: &str, packages: &[&str]) -> anyhow::Result<PathBuf> {
    let venv = root.join("target/tools").join(name);
    let stamp = venv.join("installed.txt");
    let wanted = packages.join("\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        println!("installing {} into {}", packages.join(", "), venv.display());
        run_checked(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("creating a Python virtualenv (needs python3 with the venv module)")?;
        run_checked(Command::new(venv.join("bin/pip")).args(["install", "--quiet"]).args(packages))
            .with_context(|| format!("installing {} from PyPI", packages.join(", ")))?;
        std::fs::write(&stamp, wanted)?;
    }
    Ok(venv)
}

pub fn run_checked(command: &mut Command) -> anyhow::Result<()> {
    let status = command.status().with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}
