//! A crate's module tree, read from its files: which module lives in which file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A module's path from its crate's root, `[]` for the root itself.
pub type ModulePath = Vec<String>;

/// The modules of the crate rooted at `root_file`, each with the file it lives in (inline
/// modules live in their parent's file).
pub fn module_tree(root_file: &Path) -> anyhow::Result<BTreeMap<ModulePath, PathBuf>> {
    let mut modules = BTreeMap::new();
    let mut pending = vec![(Vec::new(), root_file.to_owned())];
    while let Some((module, file)) = pending.pop() {
        let syntax = parse(&file)?;
        collect_modules(
            &syntax.items,
            &module,
            &file,
            &children_dir(&module, &file),
            &mut modules,
            &mut pending,
        );
        modules.insert(module, file);
    }
    Ok(modules)
}

/// Where the files of a module's children are: beside a crate root or a `mod.rs`, else in a
/// folder named after the module's file.
pub fn children_dir(module: &ModulePath, file: &Path) -> PathBuf {
    let owns_dir = module.is_empty() || file.file_name().is_some_and(|n| n == "mod.rs");
    match owns_dir {
        true => file.parent().expect("a file has a folder").to_owned(),
        false => file.with_extension(""),
    }
}

fn collect_modules(
    items: &[syn::Item],
    module: &ModulePath,
    file: &Path,
    dir: &Path,
    modules: &mut BTreeMap<ModulePath, PathBuf>,
    pending: &mut Vec<(ModulePath, PathBuf)>,
) {
    for item in items {
        let syn::Item::Mod(child) = item else { continue };
        let mut path = module.clone();
        path.push(child.ident.to_string());
        match &child.content {
            Some((_, inner)) => {
                let inner_dir = dir.join(child.ident.to_string());
                collect_modules(inner, &path, file, &inner_dir, modules, pending);
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
}

pub fn parse(file: &Path) -> anyhow::Result<syn::File> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    syn::parse_file(&text).with_context(|| format!("parsing {}", file.display()))
}

/// Each file with its own module: the shortest path that lives in it (the others are inline
/// modules of that one).
pub fn file_modules(modules: &BTreeMap<ModulePath, PathBuf>) -> BTreeMap<&PathBuf, &ModulePath> {
    let mut own: BTreeMap<&PathBuf, &ModulePath> = BTreeMap::new();
    for (path, file) in modules {
        let shorter = own.get(file).is_some_and(|known| known.len() <= path.len());
        if !shorter {
            own.insert(file, path);
        }
    }
    own
}
