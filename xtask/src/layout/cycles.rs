//! Import cycles: between files, and between folders.
//!
//! Two folders form a cycle when a file in each uses one in the other, directly or through
//! others, even if no two files do: `droplets/` using `jobs/` and `jobs/` using `droplets/`
//! puts neither below the other. Folders are compared with their siblings, that is, the files
//! and folders of one folder, its own file (`mod.rs`, or the crate root) among them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::modules::{ModulePath, children_dir, file_modules};

/// The groups of nodes that use each other, directly or through others.
pub fn cycles<T: Ord + Clone>(graph: &BTreeMap<T, BTreeSet<T>>) -> Vec<Vec<T>> {
    let reachable = |from: &T| {
        let mut seen = BTreeSet::new();
        let mut next = vec![from];
        while let Some(node) = next.pop() {
            for used in graph.get(node).into_iter().flatten() {
                if seen.insert(used) {
                    next.push(used);
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&T, BTreeSet<&T>> =
        graph.keys().map(|node| (node, reachable(node))).collect();
    let mut groups: Vec<Vec<T>> = Vec::new();
    for (node, reached) in &reach {
        if !reached.contains(node) || groups.iter().any(|group| group.contains(node)) {
            continue;
        }
        let group = reached
            .iter()
            .filter(|other| reach.get(*other).is_some_and(|back| back.contains(node)))
            .map(|other| (*other).clone())
            .collect();
        groups.push(group);
    }
    groups
}

/// The cycles with a folder in them, under every folder of one crate, given which files use
/// which (`uses`). Each is named by its members relative to `root`, a folder with a trailing
/// `/`. A cycle of files alone is left to [`cycles`] over the files.
pub fn folder_cycles(
    root: &Path,
    modules: &BTreeMap<ModulePath, PathBuf>,
    uses: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
) -> Vec<Vec<String>> {
    let own = file_modules(modules);
    let with_files: BTreeSet<&ModulePath> = own.values().copied().collect();
    let below = |parent: &ModulePath, module: &ModulePath| {
        module.len() > parent.len() && module.starts_with(parent)
    };
    let is_folder = |module: &ModulePath| with_files.iter().any(|other| below(module, other));
    let mut found = Vec::new();
    for &parent in with_files.iter().filter(|parent| is_folder(parent)) {
        // The sibling a module belongs to: the parent's own file, or a child of the parent.
        let unit = |module: &ModulePath| match module.starts_with(parent) {
            true => Some(module[..(parent.len() + 1).min(module.len())].to_vec()),
            false => None,
        };
        let mut graph: BTreeMap<ModulePath, BTreeSet<ModulePath>> = BTreeMap::new();
        for (file, used) in uses {
            let Some(from) = own.get(file).and_then(|m| unit(m)) else { continue };
            for to in used.iter().filter_map(|u| own.get(u).and_then(|m| unit(m))) {
                if to != from {
                    graph.entry(from.clone()).or_default().insert(to);
                }
            }
        }
        for cycle in cycles(&graph) {
            if !cycle.iter().any(|unit| unit != parent && is_folder(unit)) {
                continue;
            }
            let name = |unit: &ModulePath| {
                let file = &modules[unit];
                let relative = |path: &Path| path.strip_prefix(root).unwrap_or(path).to_owned();
                match unit != parent && is_folder(unit) {
                    true => format!("{}/", relative(&children_dir(unit, file)).display()),
                    false => relative(file).display().to_string(),
                }
            };
            found.push(cycle.iter().map(name).collect());
        }
    }
    found
}
