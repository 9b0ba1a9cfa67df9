//! `cargo xtask test`: everything the README promises is tested, in one command that works on a
//! fresh machine. It first makes sure of the system tools and PostgreSQL (`prerequisites`: as
//! root it installs and starts what is missing, otherwise it says in one line what to run), then
//! installs the Python tools the tests use from PyPI into a virtualenv under target/
//! (openapi-spec-validator; cloudfoundry-client, the CF client the compatibility test drives the
//! server with; schemathesis and openapi-python-client, which the contract tests run against the
//! real server; tuspy, a tus client), and tus-js-client from npm (`tests/compat/tus-js`, pinned by
//! its lock), checks the OpenAPI document against the OpenAPI 3.0 schema, then runs the
//! workspace's tests with `DROPLET_TEST_PYTHON` naming that virtualenv's Python and
//! `DROPLET_TEST_TUS_JS` the directory tus-js-client is installed in.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::python::{run_checked, venv};

/// Pinned Python packages: the spec validator, the third-party CF client, schemathesis (the
/// contract test), openapi-python-client (the document must generate a working Python client)
/// and tuspy (a tus client must upload a droplet).
const PYTHON_PACKAGES: &[&str] = &[
    "openapi-spec-validator==0.9.0",
    "cloudfoundry-client==1.40.4",
    "schemathesis==4.32.5",
    "openapi-python-client==0.29.1",
    "tuspy==1.1.0",
];

/// Where tus-js-client is pinned (`package.json` and its lock) and installed.
const TUS_JS: &str = "tests/compat/tus-js";

pub fn run(root: &Path, cargo_test_args: &[String]) -> anyhow::Result<()> {
    prerequisites::for_tests();
    let venv = venv(root, "venv", PYTHON_PACKAGES)?;
    run_checked(
        Command::new(venv.join("bin/openapi-spec-validator")).arg(root.join("openapi.json")),
    )
    .context("openapi.json is not a valid OpenAPI document")?;
    let tus_js = root.join(TUS_JS);
    if !tus_js.join("node_modules/tus-js-client").exists() {
        run_checked(Command::new("npm").current_dir(&tus_js).args([
            "ci",
            "--no-audit",
            "--no-fund",
        ]))
        .context("installing tus-js-client (npm ci in tests/compat/tus-js)")?;
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .current_dir(root)
        .env("DROPLET_TEST_PYTHON", venv.join("bin/python"))
        .env("DROPLET_TEST_TUS_JS", &tus_js)
        .args(["test", "--workspace"])
        .args(cargo_test_args)
        .status()
        .context("running cargo test")?;
    if !status.success() {
        bail!("cargo test failed");
    }
    Ok(())
}
