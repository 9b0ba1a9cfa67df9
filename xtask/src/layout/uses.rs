//! Which files of a crate each file uses.
//!
//! A file uses another when it names an item of the other's module: a `use` of it, or a path
//! through it (`crate::store::records::JobRecord`, `super::by_path`, `child::Item`), in code or
//! in a macro's arguments (`slog::info!(log, "{}", crate::x::f())`, `tokio::select!`). A `mod`
//! declaration is not a use, nor is a `pub(super)` visibility, nor a path in a `quote!`: that is
//! code written for another crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

use super::modules::{ModulePath, file_modules, parse};

/// Which files each file uses.
pub fn uses(
    modules: &BTreeMap<ModulePath, PathBuf>,
) -> anyhow::Result<BTreeMap<PathBuf, BTreeSet<PathBuf>>> {
    let mut graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (file, module) in file_modules(modules) {
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
            // A path from this module through a child of it (a lone name is a local, and paths
            // of other crates name no module of this one).
            _ if segments.len() > 1
                && self
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

    /// A macro's arguments are tokens, not syntax: its paths are read from the tokens.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        syn::visit::visit_macro(self, mac);
        let name = mac.path.segments.last().map(|s| s.ident.to_string());
        if matches!(name.as_deref(), Some("quote" | "quote_spanned")) {
            return;
        }
        let mut paths = Vec::new();
        token_paths(mac.tokens.clone(), &mut paths);
        for path in paths {
            self.record(&path);
        }
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

/// The paths in a token stream, nested groups included: every run of names joined by `::`
/// (`crate::a::b` in `f(crate::a::b(x))`, `$crate::a` in a `macro_rules!`). A lone name is no
/// path: it is as likely a local as a module.
fn token_paths(tokens: TokenStream, out: &mut Vec<Vec<String>>) {
    let mut path: Vec<String> = Vec::new();
    // The `:` seen since the last name: two join the next name to the path.
    let mut colons = 0;
    for token in tokens {
        match token {
            TokenTree::Ident(name) => {
                if colons != 2 || path.is_empty() {
                    end(&mut path, out);
                }
                path.push(name.to_string());
                colons = 0;
            }
            TokenTree::Punct(punct) if punct.as_char() == ':' => colons += 1,
            TokenTree::Group(group) => {
                end(&mut path, out);
                token_paths(group.stream(), out);
                colons = 0;
            }
            TokenTree::Punct(_) | TokenTree::Literal(_) => {
                end(&mut path, out);
                colons = 0;
            }
        }
    }
    end(&mut path, out);
}

/// Ends the path being read: kept if it has a `::` in it.
fn end(path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if path.len() > 1 {
        out.push(std::mem::take(path));
    }
    path.clear();
}
