//! The layout rules, each on a small tree of files written for the test.

use super::{problems, problems_in};

/// Writes `files` (path, text) into a new folder.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// The problems of a crate of `files` rooted at `src/lib.rs`.
fn problems_of(files: &[(&str, &str)]) -> Vec<String> {
    let dir = tree(files);
    problems_in(dir.path(), &[dir.path().canonicalize().unwrap().join("src/lib.rs")]).unwrap()
}

#[test]
fn files_that_use_each_other_are_a_cycle() {
    let found = problems_of(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "use crate::b::B;\npub struct A;\n"),
        ("src/b.rs", "pub struct B(super::a::A);\n"),
    ]);
    assert_eq!(found, ["import cycle between src/a.rs, src/b.rs"]);
}

#[test]
fn a_folder_that_re_exports_what_its_children_use_is_a_cycle() {
    let found = problems_of(&[
        ("src/lib.rs", "mod store;\n"),
        ("src/store/mod.rs", "mod rows;\npub use rows::Row;\npub struct Store;\n"),
        ("src/store/rows.rs", "use super::Store;\npub struct Row(Store);\n"),
    ]);
    assert_eq!(found, ["import cycle between src/store/mod.rs, src/store/rows.rs"]);
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

/// `jobs/runner.rs` uses `droplets/copy.rs`, `droplets/delete.rs` uses `jobs/lease.rs`: no two
/// files use each other, but neither folder is below the other.
#[test]
fn folders_that_use_each_other_are_a_cycle_though_their_files_are_not() {
    let found = problems_of(&[
        ("src/lib.rs", "mod droplets;\nmod jobs;\n"),
        ("src/droplets/mod.rs", "pub mod copy;\npub mod delete;\n"),
        ("src/droplets/copy.rs", "pub fn copy() {}\n"),
        ("src/droplets/delete.rs", "use crate::jobs::lease::Lease;\n"),
        ("src/jobs/mod.rs", "pub mod lease;\npub mod runner;\n"),
        ("src/jobs/lease.rs", "pub struct Lease;\n"),
        ("src/jobs/runner.rs", "fn run() { crate::droplets::copy::copy() }\n"),
    ]);
    assert_eq!(found, ["import cycle between folders: src/droplets/, src/jobs/"]);
}

/// A folder's own file and a sibling file in a cycle with a folder, one level down.
#[test]
fn a_folder_and_its_parents_file_in_a_cycle_are_found_where_they_meet() {
    let found = problems_of(&[
        ("src/lib.rs", "mod droplets;\n"),
        ("src/droplets/mod.rs", "mod upload;\nmod copy;\npub struct Droplet;\n"),
        ("src/droplets/copy.rs", "pub struct Copy(super::Droplet);\n"),
        ("src/droplets/upload/mod.rs", "mod job;\n"),
        ("src/droplets/upload/job.rs", "use super::super::copy::Copy;\n"),
    ]);
    assert!(found.is_empty(), "one way is no cycle: {found:?}");
    let found = problems_of(&[
        ("src/lib.rs", "mod droplets;\n"),
        ("src/droplets/mod.rs", "mod upload;\nmod copy;\n"),
        ("src/droplets/copy.rs", "pub struct Copy;\nfn f() { super::upload::job::run() }\n"),
        ("src/droplets/upload/mod.rs", "mod job;\n"),
        ("src/droplets/upload/job.rs", "pub fn run(_: super::super::copy::Copy) {}\n"),
    ]);
    // Files in a cycle are a cycle of their own folders too, where those meet.
    assert_eq!(
        found,
        [
            "import cycle between src/droplets/copy.rs, src/droplets/upload/job.rs",
            "import cycle between folders: src/droplets/copy.rs, src/droplets/upload/",
        ]
    );
}

/// `b.rs` uses `a.rs` in code; `a.rs` names `b` only in a macro's arguments.
#[test]
fn paths_in_a_macros_arguments_are_uses() {
    for call in [
        r#"slog::info!(log, "settled"; "job" => %crate::b::name());"#,
        "tokio::select! { _ = done => {} v = crate::b::next() => drop(v) }",
        r#"println!("{}", format!("{}", super::b::name()));"#,
        "let v = vec![Some(crate::b::B::default())];",
    ] {
        let a = format!("pub struct A;\nfn f(log: (), done: ()) {{ {call} }}\n");
        let found = problems_of(&[
            ("src/lib.rs", "mod a;\nmod b;\n"),
            ("src/a.rs", &a),
            ("src/b.rs", "use crate::a::A;\npub struct B;\n"),
        ]);
        assert_eq!(found, ["import cycle between src/a.rs, src/b.rs"], "{call}");
    }
}

/// Code a `quote!` writes is for another crate; lone names in a macro are locals.
#[test]
fn quoted_paths_and_lone_names_in_macros_are_no_uses() {
    let found = problems_of(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        (
            "src/a.rs",
            "pub struct A;\nfn f(b: u8) { quote::quote! { crate::b::B }; println!(\"{}\", b); }\n",
        ),
        ("src/b.rs", "use crate::a::A;\npub struct B;\n"),
    ]);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn a_hand_written_file_over_400_lines_is_too_long() {
    let lines = |n: usize| "// a line\n".repeat(n);
    let (long, longest_allowed) = (lines(401), lines(400));
    let found = problems_of(&[
        ("src/lib.rs", "mod long;\nmod fine;\n"),
        ("src/long.rs", &long),
        ("src/fine.rs", &longest_allowed),
    ]);
    assert_eq!(found, ["src/long.rs has 401 lines (at most 400)"]);
    // `cargo xtask regen` writes the client's, whatever their length.
    let dir = tree(&[
        ("client/src/lib.rs", "mod generated;\nmod generated_multipart;\n"),
        ("client/src/generated.rs", &long),
        ("client/src/generated_multipart.rs", &long),
    ]);
    let root = dir.path().canonicalize().unwrap();
    let found = problems_in(&root, &[root.join("client/src/lib.rs")]).unwrap();
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn a_file_in_no_module_tree_is_a_problem() {
    let found = problems_of(&[
        ("src/lib.rs", "mod a;\n"),
        ("src/a.rs", ""),
        ("src/forgotten.rs", "fn f() {}\n"),
        ("target/debug/build/out.rs", ""),
    ]);
    assert_eq!(found, ["src/forgotten.rs is in no crate's module tree: nothing checks it"]);
}

/// Every target of every member is checked, as `cargo metadata` lists them: a member's binary
/// and a test target outside its package's folder too.
#[test]
fn every_target_of_every_crate_of_the_workspace_is_checked() {
    let cycle = [
        ("a.rs", "use crate::b::B;\npub struct A;\n"),
        ("b.rs", "use crate::a::A;\npub struct B;\n"),
    ];
    let mut files = vec![
        ("Cargo.toml", "[workspace]\nmembers = [\"server\", \"tests/helper\"]\nresolver = \"2\"\n"),
        (
            "server/Cargo.toml",
            "[package]\nname = \"server\"\nedition = \"2021\"\n\n\
             [[test]]\nname = \"end_to_end\"\npath = \"../tests/end_to_end/main.rs\"\n",
        ),
        ("server/src/lib.rs", ""),
        ("tests/helper/Cargo.toml", "[package]\nname = \"helper\"\nedition = \"2021\"\n"),
        ("tests/helper/src/lib.rs", ""),
        ("tests/helper/src/main.rs", "mod a;\nmod b;\nfn main() {}\n"),
        ("tests/end_to_end/main.rs", "mod a;\nmod b;\n"),
    ];
    let (helper, end_to_end): (Vec<_>, Vec<_>) = cycle
        .iter()
        .map(|(name, text)| {
            (
                (format!("tests/helper/src/{name}"), *text),
                (format!("tests/end_to_end/{name}"), *text),
            )
        })
        .unzip();
    files.extend(helper.iter().chain(&end_to_end).map(|(path, text)| (path.as_str(), *text)));
    let dir = tree(&files);
    let mut found = problems(dir.path()).unwrap();
    found.sort();
    assert_eq!(
        found,
        [
            "import cycle between tests/end_to_end/a.rs, tests/end_to_end/b.rs",
            "import cycle between tests/helper/src/a.rs, tests/helper/src/b.rs",
        ]
    );
}
