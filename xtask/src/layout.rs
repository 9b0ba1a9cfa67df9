//! The source layout, checked by `cargo xtask check`: no hand-written file over 400 lines, and no
//! import cycle between the files of a crate (files that use each other, directly or through
//! others), so that the tree keeps showing the architecture.
//!
//! A file uses another when it names an item of the other's module: a `use` of it, or a path
//! through it (`crate::store::records::JobRecord`, `super::by_path`, `child::Item`). A `mod`
//! declaration is not a use, nor is a `pub(super)` visibility.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use syn::visit::Visit;

/// The longest a hand-written source file may be.
const MAX_LINES: usize = 400;

/// The root file of every crate's module tree.
const CRATE_ROOTS: &[&str] = &[
    "server/src/lib.rs",
    "server/src/main.rs",
    "server/api/src/lib.rs",
    "client/src/lib.rs",
    "client/src/bin/droplet.rs",
    "xtask/src/main.rs",
    "tests/end_to_end/main.rs",
    "tests/s3-server/src/lib.rs",
];

/// Files written by `cargo xtask regen`, exempt from the length limit.
const GENERATED: &[&str] = &["client/src/generated.rs", "client/src/generated_multipart.rs"];

/// A module's path from its crate's root, `[]` for the root itself.
type ModulePath = Vec<String>;

/// Every problem with the layout under `root`, one line each.
pub fn problems(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for crate_root in CRATE_ROOTS {
        let modules = module_tree(&root.join(crate_root))?;
        let files: BTreeSet<&PathBuf> = modules.values().collect();
        for file in files {
            let relative = file.strip_prefix(root).unwrap_or(file);
            let lines = std::fs::read_to_string(file)?.lines().count();
            if lines > MAX_LINES && !GENERATED.iter().any(|g| relative == Path::new(g)) {
                problems.push(format!(
                    "{} has {lines} lines (at most {MAX_LINES})",
                    relative.display()
                ));
            }
        }
        for cycle in cycles(&uses(&modules)?) {
            let names: Vec<String> = cycle
                .iter()
                .map(|f| f.strip_prefix(root).unwrap_or(f).display().to_string())
                .collect();
            problems.push(format!("import cycle between {}", names.join(", ")));
        }
    }
    Ok(problems)
}

/// The modules of the crate rooted at `root_file`, each with the file it lives in (inline
/// modules live in their parent's file).
fn module_tree(root_file: &Path) -> anyhow::Result<BTreeMap<ModulePath, PathBuf>> {
    let mut modules = BTreeMap::new();
    let mut pending = vec![(Vec::new(), root_file.to_owned())];
    while let Some((module, file)) = pending.pop() {
        let syntax = parse(&file)?;
        // Where the files of this module's children are: beside a crate root or a `mod.rs`,
        // else in a folder named after the file.
        let owns_dir = module.is_empty() || file.file_name().is_some_and(|n| n == "mod.rs");
        let dir = match owns_dir {
            true => file.parent().expect("a file has a folder").to_owned(),
            false => file.with_extension(""),
        };
        collect_modules(&syntax.items, &module, &file, &dir, &mut modules, &mut pending)?;
        modules.insert(module, file);
    }
    Ok(modules)
}

fn collect_modules(
    items: &[syn::Item],
    module: &ModulePath,
    file: &Path,
    dir: &Path,
    modules: &mut BTreeMap<ModulePath, PathBuf>,
    pending: &mut Vec<(ModulePath, PathBuf)>,
) -> anyhow::Result<()> {
    for item in items {
        let syn::Item::Mod(child) = item else { continue };
        let mut path = module.clone();
        path.push(child.ident.to_string());
        match &child.content {
            Some((_, inner)) => {
                let inner_dir = dir.join(child.ident.to_string());
                collect_modules(inner, &path, file, &inner_dir, modules, pending)?;
                modules.insert(path, file.to_owned());
            }
            None => {
                let name = child.ident.to_string();
                let flat = dir.join(format!("{name}.rs"));
                let child_file = if flat.exists() { flat } else { dir.join(name).join("mod.rs") };
                pending.push((path, child_file));
            }
        }
    }
    Ok(())
}

fn parse(file: &Path) -> anyhow::Result<syn::File> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    syn::parse_file(&text).with_context(|| format!("parsing {}", file.display()))
}

/// Which files each file uses.
fn uses(
    modules: &BTreeMap<ModulePath, PathBuf>,
) -> anyhow::Result<BTreeMap<PathBuf, BTreeSet<PathBuf>>> {
    let mut graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    let roots: BTreeMap<&PathBuf, &ModulePath> = modules
        .iter()
        .filter(|(path, file)| {
            // A file's own module: the shortest path that lives in it.
            !modules.iter().any(|(p, f)| f == *file && p.len() < path.len())
        })
        .map(|(path, file)| (file, path))
        .collect();
    for (file, module) in roots {
        let mut finder = PathFinder { modules, module: module.clone(), found: BTreeSet::new() };
        finder.visit_file(&parse(file)?);
        let used = finder.found.into_iter().filter(|used| used != file);
        graph.entry(file.clone()).or_default().extend(used);
    }
    Ok(graph)
}

/// Collects the files that the paths of one file name.
struct PathFinder<'a> {
    modules: &'a BTreeMap<ModulePath, PathBuf>,
    /// The module the visitor is in (inline modules included).
    module: ModulePath,
    found: BTreeSet<PathBuf>,
}

impl PathFinder<'_> {
    fn record(&mut self, segments: &[String]) {
        let Some(first) = segments.first() else { return };
        let mut absolute = match first.as_str() {
            "crate" => Vec::new(),
            "self" | "super" => self.module.clone(),
            // A path from this module to a child of it (paths of other crates name no module).
            _ if self
                .modules
                .contains_key(&[self.module.clone(), vec![first.clone()]].concat()) =>
            {
                self.module.clone()
            }
            _ => return,
        };
        let mut rest = match first.as_str() {
            "crate" | "self" => &segments[1..],
            _ => segments,
        };
        while let Some(("super", tail)) = rest.split_first().map(|(s, t)| (s.as_str(), t)) {
            absolute.pop();
            rest = tail;
        }
        absolute.extend(rest.iter().cloned());
        // The deepest module named is the one whose file is used.
        while !absolute.is_empty() && !self.modules.contains_key(&absolute) {
            absolute.pop();
        }
        if let Some(file) = self.modules.get(&absolute) {
            self.found.insert(file.clone());
        }
    }
}

impl<'ast> Visit<'ast> for PathFinder<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        flatten(&item.tree, Vec::new(), &mut paths);
        for path in paths {
            self.record(&path);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segments);
        syn::visit::visit_path(self, path);
    }

    /// `pub(super)` and `pub(crate)` say who may use an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.module.push(item.ident.to_string());
        syn::visit::visit_item_mod(self, item);
        self.module.pop();
    }
}

/// The paths a `use` tree names: `a::{b, c::*}` is `a::b` and `a::c`.
fn flatten(tree: &syn::UseTree, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let with = |name: &syn::Ident| [prefix.clone(), vec![name.to_string()]].concat();
    match tree {
        syn::UseTree::Path(path) => flatten(&path.tree, with(&path.ident), out),
        syn::UseTree::Name(name) => out.push(with(&name.ident)),
        syn::UseTree::Rename(rename) => out.push(with(&rename.ident)),
        syn::UseTree::Glob(_) => out.push(prefix),
        syn::UseTree::Group(group) => {
            for tree in &group.items {
                flatten(tree, prefix.clone(), out);
            }
        }
    }
}

/// The groups of files that use each other, directly or through others.
fn cycles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    let reachable = |from: &PathBuf| {
        let mut seen = BTreeSet::new();
        let mut next = vec![from];
        while let Some(file) = next.pop() {
            for used in graph.get(file).into_iter().flatten() {
                if seen.insert(used) {
                    next.push(used);
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&PathBuf, BTreeSet<&PathBuf>> =
        graph.keys().map(|file| (file, reachable(file))).collect();
    let mut groups: Vec<Vec<PathBuf>> = Vec::new();
    for (file, reached) in &reach {
        if !reached.contains(file) || groups.iter().any(|group| group.contains(file)) {
            continue;
        }
        let group = reached
            .iter()
            .filter(|other| reach.get(*other).is_some_and(|back| back.contains(file)))
            .map(|other| (*other).clone())
            .collect();
        groups.push(group);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a crate of `files` (path, text) and returns its problems.
    fn problems_of(files: &[(&str, &str)]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let modules = module_tree(&dir.path().join("src/lib.rs")).unwrap();
        let cycles = cycles(&uses(&modules).unwrap());
        cycles
            .iter()
            .map(|group| {
                let names: Vec<_> = group
                    .iter()
                    .map(|f| f.strip_prefix(dir.path()).unwrap().display().to_string())
                    .collect();
                names.join(" ")
            })
            .collect()
    }

    #[test]
    fn files_that_use_each_other_are_a_cycle() {
        let found = problems_of(&[
            ("src/lib.rs", "mod a;\nmod b;\n"),
            ("src/a.rs", "use crate::b::B;\npub struct A;\n"),
            ("src/b.rs", "pub struct B(super::a::A);\n"),
        ]);
        assert_eq!(found, ["src/a.rs src/b.rs"]);
    }

    #[test]
    fn a_folder_that_re_exports_what_its_children_use_is_a_cycle() {
        let found = problems_of(&[
            ("src/lib.rs", "mod store;\n"),
            ("src/store/mod.rs", "mod rows;\npub use rows::Row;\npub struct Store;\n"),
            ("src/store/rows.rs", "use super::Store;\npub struct Row(Store);\n"),
        ]);
        assert_eq!(found, ["src/store/mod.rs src/store/rows.rs"]);
    }

    #[test]
    fn one_way_uses_visibility_and_inline_tests_are_no_cycle() {
        let found = problems_of(&[
            ("src/lib.rs", "mod store;\nmod http;\n"),
            ("src/store/mod.rs", "pub mod rows;\npub struct Store;\n"),
            (
                "src/store/rows.rs",
                "use super::Store;\npub(super) struct Row(Store);\n\
                 #[cfg(test)]\nmod tests { use super::*; }\n",
            ),
            ("src/http.rs", "use crate::store::rows::Row;\nfn f(_: crate::store::Store) {}\n"),
        ]);
        assert!(found.is_empty(), "{found:?}");
    }
}
