//! The API version gate, on copies of this checkout: a published version that would change
//! incompatibly fails `cargo xtask check`, before and after the change is regenerated and
//! committed on main; a new version with an additive change passes, and leaves the published
//! documents as they were, byte for byte.
//!
//! Each test copies the working tree (the files `git ls-files` lists, tracked and new) into a
//! directory of its own under the target directory, commits it there as `main`, so that the
//! current versions count as published, edits the copy and runs the copy's own `cargo xtask`.
//! The copies build in the workspace's build directory (`CARGO_BUILD_BUILD_DIR`), under a version
//! of their own: only the workspace's own crates that xtask links (droplet-api, the test S3
//! server, xtask) are compiled again, not their dependencies.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace this test belongs to.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from)
}

/// A copy of the working tree, committed as `main` of a repository of its own.
struct Copy {
    root: PathBuf,
}

impl Copy {
    fn new(name: &str) -> Copy {
        let root = target_dir().join("version-gate").join(name);
        let _ = std::fs::remove_dir_all(&root);
        let _ = std::fs::remove_dir_all(root.with_extension("target"));
        std::fs::create_dir_all(&root).unwrap();
        let listed =
            git(&workspace(), &["ls-files", "-z", "--cached", "--others", "--exclude-standard"]);
        for file in listed.split('\0').filter(|f| !f.is_empty()) {
            let from = workspace().join(file);
            let to = root.join(file);
            let Ok(metadata) = std::fs::symlink_metadata(&from) else { continue }; // deleted
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            if metadata.is_symlink() {
                std::os::unix::fs::symlink(std::fs::read_link(&from).unwrap(), &to).unwrap();
            } else {
                std::fs::copy(&from, &to).unwrap();
            }
        }
        let copy = Copy { root };
        copy.own_build_identity(name);
        copy.git(&["init", "--quiet", "--initial-branch=main"]);
        // Redocly, as `npm ci` installed it for the workspace (the copy installs its own if not).
        let node_modules = workspace().join("xtask/docs/node_modules");
        if node_modules.is_dir() {
            let link = copy.root.join("xtask/docs/node_modules");
            std::os::unix::fs::symlink(node_modules, link).unwrap();
            let exclude = copy.root.join(".git/info/exclude");
            std::fs::write(exclude, "/xtask/docs/node_modules\n").unwrap();
        }
        copy.commit("The working tree of the checkout under test");
        copy
    }

    /// Makes the copy's crates distinct from the workspace's and the other copies' in the shared
    /// build directory: cargo names a path crate's artifacts by its name and version, not by
    /// where it lives, so the copy's crates get a version of their own (`0.1.0-gate.NAME`).
    fn own_build_identity(&self, name: &str) {
        let manifest = self.root.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let (head, rest) = text.split_once("[workspace.package]\nversion = \"").unwrap();
        let (version, tail) = rest.split_once('"').unwrap();
        let text = format!("{head}[workspace.package]\nversion = \"{version}-gate.{name}\"{tail}");
        std::fs::write(manifest, text).unwrap();
        // The lock names the workspace's versions; brought up to date before anything is built.
        // Not `--offline`: metadata reads every package of the lock, those of other platforms
        // too, which a fresh machine's builds never downloaded.
        let status = Command::new(cargo())
            .current_dir(&self.root)
            .args(["metadata", "--format-version=1"])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "cargo metadata in the copy");
    }

    fn git(&self, args: &[&str]) -> String {
        git(&self.root, args)
    }

    /// Commits everything on the current branch.
    fn commit(&self, message: &str) {
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message]);
    }

    /// Replaces the one occurrence of `from` in the copy's `file` with `to`.
    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.root.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(from).count(), 1, "{file} has `{from}` once");
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    }

    /// `cargo xtask ARGS` in the copy, with these environment variables. The intermediate
    /// artifacts go to the workspace's target directory (its dependencies are built there
    /// already); the copy's xtask binary to a directory of its own, beside the copy.
    fn xtask(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(cargo());
        command.current_dir(&self.root).args(["run", "--quiet", "--package", "xtask", "--"]);
        command.args(args).env("CARGO_BUILD_BUILD_DIR", target_dir());
        command.env("CARGO_TARGET_DIR", self.root.with_extension("target"));
        command.env_remove("DROPLET_PUBLISHED_REF").envs(env.iter().copied());
        let started = std::time::Instant::now();
        let output = command.output().unwrap();
        eprintln!("cargo xtask {} took {:.0?}", args.join(" "), started.elapsed());
        output
    }

    /// The published documents: every file under openapi/droplets/ but the link, with its bytes.
    fn documents(&self) -> Vec<(String, Vec<u8>)> {
        let directory = self.root.join("openapi/droplets");
        let mut documents: Vec<_> = std::fs::read_dir(&directory)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| !path.is_symlink())
            .map(|path| {
                let name = path.file_name().unwrap().to_str().unwrap().to_owned();
                (name, std::fs::read(&path).unwrap())
            })
            .collect();
        documents.sort();
        documents
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn git(root: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(root)
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .envs([
            ("GIT_AUTHOR_NAME", "version gate test"),
            ("GIT_AUTHOR_EMAIL", "test@example.com"),
            ("GIT_COMMITTER_NAME", "version gate test"),
            ("GIT_COMMITTER_EMAIL", "test@example.com"),
        ])
        .output()
        .expect("running git");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "git {}: {stderr}", args.join(" "));
    String::from_utf8(output.stdout).unwrap()
}

/// What a command printed, both streams.
fn printed(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// The check failed, and it says that the published version is broken, where (the droplet), and
/// how: the property `checksum` went, `sha256_checksum` came.
fn assert_names_the_renamed_field(output: &Output, version: &str) {
    let printed = printed(output);
    assert!(!output.status.success(), "the check passed:\n{printed}");
    let lines: Vec<&str> = printed.lines().map(str::trim).collect();
    let changed = |sign: &str, property: &str| {
        lines.iter().any(|l| l.starts_with(sign) && l[1..].trim() == format!("\"{property}\": {{"))
    };
    assert!(
        printed.contains(&format!("Failure droplets (versioned v{version} (blessed))"))
            && printed.contains("is not compatible")
            && lines.contains(&"at: Droplet")
            && changed("-", "checksum")
            && changed("+", "sha256_checksum"),
        "the check does not name the incompatibility:\n{printed}"
    );
}

/// The major number of the newest version in `api_versions!`.
fn newest_major(copy: &Copy) -> u64 {
    let text = std::fs::read_to_string(copy.root.join("server/api/src/versions.rs")).unwrap();
    let newest = text.lines().map(str::trim).find(|l| l.starts_with('(') && l.ends_with("),"));
    let newest = newest.expect("api_versions! lists a version");
    newest[1..].split(',').next().unwrap().trim().parse().unwrap()
}

#[test]
fn renaming_a_published_field_fails_the_check_before_and_after_it_is_committed_on_main() {
    let copy = Copy::new("renamed-field");
    let published = format!("{}.0.0", newest_major(&copy));
    copy.edit(
        "server/api/src/types/droplet.rs",
        "    pub checksum: Option<Checksum>,\n",
        "    #[serde(rename = \"sha256_checksum\")]\n    pub checksum: Option<Checksum>,\n",
    );
    let before = copy.xtask(&["check"], &[]);
    assert_names_the_renamed_field(&before, &published);
    let refused = copy.xtask(&["regen"], &[]);
    assert!(!refused.status.success(), "regen wrote a broken version:\n{}", printed(&refused));
    assert!(copy.git(&["status", "--porcelain"]).lines().all(|l| l.ends_with("droplet.rs")));

    // Regenerated as if main had published nothing (an empty history), and committed on main,
    // which then has origin/main where a fresh clone of it has it.
    let empty_tree = copy.git(&["hash-object", "-w", "-t", "tree", "/dev/null"]);
    let nothing = copy.git(&["commit-tree", empty_tree.trim(), "-m", "nothing published"]);
    let careless = copy.xtask(&["regen"], &[("DROPLET_PUBLISHED_REF", nothing.trim())]);
    assert!(careless.status.success(), "{}", printed(&careless));
    copy.commit("Droplets name their checksum sha256_checksum");
    copy.git(&["update-ref", "refs/remotes/origin/main", "HEAD"]);
    assert_eq!(copy.git(&["rev-parse", "HEAD"]), copy.git(&["rev-parse", "main"]));
    assert_eq!(copy.git(&["status", "--porcelain"]), "");

    let after = copy.xtask(&["check"], &[]);
    assert_names_the_renamed_field(&after, &published);
}

#[test]
fn a_new_version_with_an_additive_change_passes_and_leaves_published_documents_alone() {
    let copy = Copy::new("new-version");
    let published = copy.documents();
    let newest = newest_major(&copy);
    let versions = "server/api/src/versions.rs";
    let newest_line = std::fs::read_to_string(copy.root.join(versions))
        .unwrap()
        .lines()
        .find(|l| l.trim().starts_with(&format!("({newest},")))
        .unwrap()
        .to_owned();
    let added = format!("    ({}, GATE_TEST),\n{newest_line}", newest + 1);
    copy.edit(versions, &newest_line, added.trim_end());
    copy.edit(
        versions,
        "const CHANGES: &[(&str, &str)] = &[",
        "const CHANGES: &[(&str, &str)] = &[(\"GATE_TEST\", \"A ping.\"), ",
    );
    copy.edit(
        "server/api/src/lib.rs",
        "pub trait DropletApi {\n    type Context;\n",
        "pub trait DropletApi {\n    type Context;\n\n    /// Ping\n    #[endpoint { method = GET, \
         path = \"/v3/ping\", versions = VERSION_GATE_TEST.. }]\n    async fn ping_get(rqctx: \
         RequestContext<Self::Context>) -> Result<HttpResponseOk<Health>, CfError>;\n",
    );

    let regen = copy.xtask(&["regen"], &[]);
    assert!(regen.status.success(), "{}", printed(&regen));
    let check = copy.xtask(&["check"], &[]);
    assert!(check.status.success(), "{}", printed(&check));
    let documents = copy.documents();
    let new_version = format!("droplets-{}.0.0-", newest + 1);
    let new: Vec<_> = documents.iter().filter(|(name, _)| name.starts_with(&new_version)).collect();
    assert_eq!(new.len(), 1, "one document for the new version: {documents:?}");
    let latest =
        std::fs::read_link(copy.root.join("openapi/droplets/droplets-latest.json")).unwrap();
    assert_eq!(latest.to_str(), Some(new[0].0.as_str()));
    let openapi = std::fs::read(copy.root.join("openapi.json")).unwrap();
    assert!(openapi == new[0].1, "openapi.json is the new version's document");
    let old: Vec<_> =
        documents.into_iter().filter(|(name, _)| !name.starts_with(&new_version)).collect();
    assert!(old == published, "a published document changed");

    // Published in turn, the new version passes as well.
    copy.commit("A ping");
    let check = copy.xtask(&["check"], &[]);
    assert!(check.status.success(), "{}", printed(&check));
}
