//! Repository tasks. `cargo xtask regen` writes the generated files (the HTML documentation and
//! the versioned documents under `openapi/` included); `cargo xtask check` writes nothing and
//! fails, with a diff, when a committed one is stale, when a published version of the API would
//! change incompatibly (`api_versions`), or when the source layout has a file over 400 lines or
//! an import cycle (`layout`);
//! `cargo xtask docs` renders only the documentation; `cargo xtask bench` measures the
//! server against nginx on this machine; `cargo xtask test` runs every test.

mod api_versions;
mod bench;
mod docs;
mod generate;
mod layout;
mod multipart;
mod published;
mod python;
mod test;
mod tus_operations;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Write the documents under openapi/, openapi.json, the generated client and openapi.html;
    /// refuse, writing nothing, when a published version of the API would change incompatibly.
    #[command(alias = "generate")]
    Regen,
    /// Fail if a generated file differs from what regen would write, if a published version of
    /// the API would change incompatibly, or if a source file is over 400 lines or in an import
    /// cycle.
    Check,
    /// Render openapi.json into openapi.html, one self-contained page (needs node and npm).
    Docs,
    /// Validate openapi.json and run every test (the README's test command). Extra arguments go
    /// to `cargo test`.
    Test {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_test_args: Vec<String>,
    },
    /// Measure uploads, downloads and memory of the release server against nginx, side by side.
    Bench(bench::BenchArgs),
}

fn main() -> anyhow::Result<ExitCode> {
    let root = repository_root();
    match Cli::parse().task {
        Task::Regen => regen(&root).map(|()| ExitCode::SUCCESS),
        Task::Check => check(&root),
        Task::Docs => write_docs(&root).map(|()| ExitCode::SUCCESS),
        Task::Test { cargo_test_args } => {
            test::run(&root, &cargo_test_args).map(|()| ExitCode::SUCCESS)
        }
        Task::Bench(args) => bench::run(&root, args),
    }
}

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the repository").to_owned()
}

fn regen(root: &Path) -> anyhow::Result<()> {
    if !api_versions::manage(root, "generate")? {
        anyhow::bail!("nothing was written: see above why the API's documents cannot be updated");
    }
    for file in generate::generated_files()? {
        let path = root.join(&file.path);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(&file.contents) {
            std::fs::write(&path, &file.contents)?;
            println!("wrote {}", file.path.display());
        }
    }
    write_docs(root)
}

fn write_docs(root: &Path) -> anyhow::Result<()> {
    let openapi = std::fs::read_to_string(root.join("openapi.json"))?;
    let html = docs::render(root, &openapi)?;
    let path = root.join(docs::HTML_PATH);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(&html) {
        std::fs::write(&path, html)?;
        println!("wrote {}", docs::HTML_PATH);
    }
    Ok(())
}

fn check(root: &Path) -> anyhow::Result<ExitCode> {
    let mut stale = 0;
    let generated = generate::generated_files()?;
    for file in &generated {
        let committed = std::fs::read_to_string(root.join(&file.path)).unwrap_or_default();
        if committed != file.contents {
            stale += 1;
            let name = file.path.display().to_string();
            let diff = similar::TextDiff::from_lines(&committed, &file.contents);
            print!(
                "{}",
                diff.unified_diff()
                    .context_radius(3)
                    .header(&name, &format!("{name} (regenerated)"))
            );
        }
    }
    let openapi = generated.iter().find(|f| f.path == Path::new("openapi.json"));
    let openapi = openapi.expect("openapi.json is generated");
    let html = docs::render(root, &openapi.contents)?;
    let committed = std::fs::read_to_string(root.join(docs::HTML_PATH)).unwrap_or_default();
    if committed != html {
        // A diff of minified HTML says nothing; the name says enough.
        stale += 1;
        eprintln!("{} differs from openapi.json rendered by `cargo xtask docs`", docs::HTML_PATH);
    }
    // The tool says itself what is wrong with the documents under openapi/ and what to do.
    let versions_hold = api_versions::manage(root, "check")?;
    let layout = layout::problems(root)?;
    for problem in &layout {
        eprintln!("layout: {problem}");
    }
    if stale > 0 {
        eprintln!(
            "{stale} generated file(s) are stale: run `cargo xtask regen` and commit the result"
        );
    }
    if stale > 0 || !versions_hold || !layout.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    println!("openapi/, openapi.json, the generated client and openapi.html are up to date");
    println!("no source file over 400 lines, no import cycle between files");
    Ok(ExitCode::SUCCESS)
}
