//! `cargo xtask test` first builds xtask alone (`cargo run -p xtask`), then the workspace's tests
//! (`cargo test --workspace`). Cargo turns on a dependency's features according to the packages
//! a command builds, and a crate built with other features is built again: were xtask's
//! dependencies to get fewer features than the tests give them, a fresh machine's test command
//! would compile most of them twice. This test holds the two feature sets equal, so that the
//! list of feature-only dependencies in xtask/Cargo.toml stays true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Each package (name and version) of `cargo tree` with `args`, and the features it is built with.
fn features(args: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args(["tree", "--quiet", "--prefix", "none", "--format", "{p}|{f}"])
        .args(args)
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree: {}", String::from_utf8_lossy(&output.stderr));
    let mut packages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let Some((package, features)) = line.trim_end_matches(" (*)").split_once('|') else {
            continue;
        };
        // "name vX (proc-macro)" or "name vX (/path)": the name and version name the build.
        let package = package.split(" (").next().unwrap().trim().to_owned();
        let features = features.split(',').filter(|f| !f.is_empty()).map(str::to_owned);
        packages.entry(package).or_default().extend(features);
    }
    packages
}

#[test]
fn xtask_builds_its_dependencies_with_the_features_the_tests_give_them() {
    let xtask = features(&["--package", "xtask", "--edges", "normal,build"]);
    let tests = features(&["--workspace", "--edges", "normal,build,dev"]);
    assert!(xtask.len() > 100, "cargo tree lists xtask's dependencies: {}", xtask.len());
    let differing: Vec<String> = xtask
        .iter()
        .filter_map(|(package, own)| {
            let in_tests = tests.get(package)?;
            let missing: Vec<&String> = in_tests.difference(own).collect();
            let extra: Vec<&String> = own.difference(in_tests).collect();
            (!missing.is_empty() || !extra.is_empty())
                .then(|| format!("{package}: the tests add {missing:?}, xtask adds {extra:?}"))
        })
        .collect();
    assert!(
        differing.is_empty(),
        "xtask's dependencies are built with other features than in the tests, so `cargo xtask \
         test` would build them twice; add the dependency that turns them on to xtask/Cargo.toml's \
         feature-only list:\n{}",
        differing.join("\n")
    );
}
