//! Compatibility with a CF client nobody here wrote: the `cloudfoundry-client` Python package
//! logs in through the test UAA and works with droplets (tests/compat/cf_droplets.py).
//!
//! `cargo xtask test` installs the package into a virtualenv and names its Python in
//! `DROPLET_TEST_PYTHON`; without it this test fails and says so.

use crate::common::*;
use crate::fake_uaa::{FakeUaa, PASSWORD, USER};

#[tokio::test]
async fn cloudfoundry_client_package_drives_the_server() {
    let python = std::env::var("DROPLET_TEST_PYTHON").expect(
        "DROPLET_TEST_PYTHON must name a Python with cloudfoundry-client installed: \
         run the tests with `cargo xtask test`",
    );
    let uaa = FakeUaa::start();
    let server =
        TestServer::start_with_config(&format!("[auth]\nuaa_url = \"{}\"\n", uaa.base_url));
    let droplet = server.scratch().join("droplet.tgz");
    std::fs::write(&droplet, small_droplet()).expect("writing the droplet");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/compat/cf_droplets.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .env("DROPLET_API_URL", &server.base_url)
        .env("UAA_USER", USER)
        .env("UAA_PASSWORD", PASSWORD)
        .env("DROPLET_TGZ", &droplet)
        .output()
        .await
        .expect("running the Python compatibility script");
    assert!(
        output.status.success(),
        "cf_droplets.py failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
