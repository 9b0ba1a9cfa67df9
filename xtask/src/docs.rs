//! `openapi.html`: `openapi.json` rendered into one self-contained HTML page (the scripts inlined,
//! nothing fetched when it is viewed) by Redocly CLI, whose version `xtask/docs/package.json` and
//! its lock pin. The server serves the page at `GET /docs`.
//!
//! It is a generated file like the others: `regen` renders it from the document it writes, and
//! `check` renders the regenerated document to a temporary file and compares (Redocly's output is
//! deterministic for a given document and version).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

pub const HTML_PATH: &str = "openapi.html";
const TITLE: &str = "Droplet bits API";

/// Renders `openapi` (the document's text) into HTML.
pub fn render(root: &Path, openapi: &str) -> anyhow::Result<String> {
    prerequisites::for_docs();
    let tools = root.join("xtask/docs");
    install(&tools)?;
    let scratch = tempfile::tempdir()?;
    let input = scratch.path().join("openapi.json");
    let output = scratch.path().join("openapi.html");
    std::fs::write(&input, openapi)?;
    let status = Command::new(tools.join("node_modules/.bin/redocly"))
        .current_dir(&tools)
        .args(["build-docs", "--inlineBundle", "--title", TITLE, "-o"])
        .arg(&output)
        .arg(&input)
        .env("REDOCLY_TELEMETRY", "off")
        .env("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true")
        .stdout(std::process::Stdio::null())
        .status()
        .context("running redocly (needs node and npm)")?;
    if !status.success() {
        bail!("redocly build-docs failed: {status}");
    }
    Ok(std::fs::read_to_string(output)?)
}

/// `npm ci` of the pinned tools, once.
fn install(tools: &Path) -> anyhow::Result<()> {
    let redocly: PathBuf = tools.join("node_modules/.bin/redocly");
    if redocly.exists() {
        return Ok(());
    }
    let status = Command::new("npm")
        .current_dir(tools)
        .args(["ci", "--no-audit", "--no-fund"])
        .status()
        .context("running npm ci in xtask/docs (needs node and npm)")?;
    if !status.success() {
        bail!("npm ci in xtask/docs failed: {status}");
    }
    Ok(())
}
