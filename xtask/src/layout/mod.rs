//! The source layout, checked by `cargo xtask check` over every target of every crate of the
//! workspace (as `cargo metadata` lists them): no hand-written file over 400 lines, no import
//! cycle between the files of a crate (files that use each other, directly or through others,
//! see `uses`), nor between its folders (`cycles`), so that the tree keeps showing the
//! architecture; and no Rust file outside every crate's module tree, where no check would see it.

mod cycles;
mod modules;
mod uses;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// The longest a hand-written source file may be.
const MAX_LINES: usize = 400;

/// Files written by `cargo xtask regen`, exempt from the length limit.
const GENERATED: &[&str] = &[
    "client/src/generated.rs",
    "client/src/generated_multipart.rs",
    "client/src/generated_tus.rs",
];

/// Every problem with the layout of the workspace at `root`, one line each.
pub fn problems(root: &Path) -> anyhow::Result<Vec<String>> {
    problems_in(root, &crate_roots(root)?)
}

/// The root file of every target (library, binaries, tests, benches, examples, build script) of
/// every crate of the workspace at `root`.
fn crate_roots(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--no-deps", "--offline", "--format-version", "1"])
        .current_dir(root)
        .output()
        .context("running cargo metadata")?;
    anyhow::ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let targets = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|package| package["targets"].as_array().into_iter().flatten());
    let mut roots = BTreeSet::new();
    for target in targets {
        let path = target["src_path"].as_str().context("a target without src_path")?;
        // `server/../tests/end_to_end/main.rs` is `tests/end_to_end/main.rs`.
        roots.insert(std::fs::canonicalize(path).with_context(|| format!("finding {path}"))?);
    }
    Ok(roots.into_iter().collect())
}

/// The problems of the crates rooted at `crate_roots`, in the workspace at `root`.
fn problems_in(root: &Path, crate_roots: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    let root = std::fs::canonicalize(root)?;
    let relative = |file: &Path| file.strip_prefix(&root).unwrap_or(file).display().to_string();
    let mut problems = Vec::new();
    let mut checked = BTreeSet::new();
    for crate_root in crate_roots {
        let modules = modules::module_tree(crate_root)?;
        checked.extend(modules.values().cloned());
        let uses = uses::uses(&modules)?;
        for cycle in cycles::cycles(&uses) {
            let names: Vec<String> = cycle.iter().map(|file| relative(file)).collect();
            problems.push(format!("import cycle between {}", names.join(", ")));
        }
        for cycle in cycles::folder_cycles(&root, &modules, &uses) {
            problems.push(format!("import cycle between folders: {}", cycle.join(", ")));
        }
    }
    for file in &checked {
        let lines = std::fs::read_to_string(file)?.lines().count();
        let name = relative(file);
        if lines > MAX_LINES && !GENERATED.contains(&name.as_str()) {
            problems.push(format!("{name} has {lines} lines (at most {MAX_LINES})"));
        }
    }
    for file in rust_files(&root)? {
        if !checked.contains(&file) {
            problems.push(format!(
                "{} is in no crate's module tree: nothing checks it",
                relative(&file)
            ));
        }
    }
    Ok(problems)
}

/// Every `.rs` file under `dir`, but in `target/` and hidden folders.
fn rust_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if entry.file_type()?.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    pending.push(entry.path());
                }
            } else if name.ends_with(".rs") {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    Ok(files)
}
