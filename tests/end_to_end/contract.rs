//! The document against the server, by tools nobody here wrote: schemathesis (every phase, every
//! check) must find no disagreement, and a Python client generated from `openapi.json` by
//! openapi-python-client must do the whole droplet flow (tests/compat/generated_client.py).
//!
//! `cargo xtask test` installs both, pinned, into the virtualenv it names in `DROPLET_TEST_PYTHON`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;

const OPENAPI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json");
/// Where the schemathesis hooks are (`schemathesis_hooks.py`).
const COMPAT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/compat");

/// The statuses schemathesis accepts, when the operation does not say otherwise: for a request
/// the schema allows (its `POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES`), and for one it refuses
/// (`NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES`).
const ACCEPTED_BY_DEFAULT: &[&str] = &["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"];
const REJECTED_BY_DEFAULT: &[&str] =
    &["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"];

fn python_tool(name: &str) -> PathBuf {
    let python = std::env::var("DROPLET_TEST_PYTHON").expect(
        "DROPLET_TEST_PYTHON must name the Python of the test tools' virtualenv: run the tests \
         with `cargo xtask test`",
    );
    Path::new(&python).with_file_name(name)
}

/// schemathesis's configuration, read from the document: a request, whether the schema allows
/// it or not, may also get the 4xx statuses an operation documents, which are the rules its
/// schema cannot state (a download of a droplet that is not staged, a label the Cloud
/// Controller refuses, a tus request without `Tus-Resumable`, ...). Every check stays on.
fn schemathesis_config(document: &Value) -> String {
    let mut config = String::new();
    for item in document["paths"].as_object().expect("paths").values() {
        for operation in item.as_object().expect("a path item").values() {
            let documented: Vec<&str> = operation["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .map(String::as_str)
                .filter(|status| status.starts_with('4') && status.len() == 3 && *status != "4XX")
                .collect();
            let more = |defaults: &[&str]| -> Option<String> {
                let extra: Vec<&&str> =
                    documented.iter().filter(|status| !defaults.contains(status)).collect();
                let all = defaults.iter().chain(extra.iter().copied());
                let quoted: Vec<String> = all.map(|status| format!("\"{status}\"")).collect();
                (!extra.is_empty()).then(|| quoted.join(", "))
            };
            let (accepted, rejected) = (more(ACCEPTED_BY_DEFAULT), more(REJECTED_BY_DEFAULT));
            if accepted.is_none() && rejected.is_none() {
                continue;
            }
            config.push_str(&format!(
                "[[operations]]\ninclude-operation-id = {}\n",
                operation["operationId"]
            ));
            if let Some(accepted) = accepted {
                let key = "checks.positive_data_acceptance.expected-statuses";
                config.push_str(&format!("{key} = [{accepted}]\n"));
            }
            if let Some(rejected) = rejected {
                let key = "checks.negative_data_rejection.expected-statuses";
                config.push_str(&format!("{key} = [{rejected}]\n"));
            }
            config.push('\n');
        }
    }
    config
}

#[tokio::test]
async fn schemathesis_finds_the_server_as_documented() {
    let schemathesis = python_tool("schemathesis");
    let server = TestServer::start();
    let document: Value = serde_json::from_str(&std::fs::read_to_string(OPENAPI).unwrap()).unwrap();
    let config = server.scratch().join("schemathesis.toml");
    std::fs::write(&config, schemathesis_config(&document)).unwrap();
    let token = server.token(&["cloud_controller.admin"]);
    let output = tokio::process::Command::new(schemathesis)
        .arg("--no-color")
        .arg("--config-file")
        .arg(&config)
        .args(["run", OPENAPI, "--url", &server.base_url])
        .args(["--header", &format!("Authorization: bearer {token}")])
        .args(["--phases", "examples,coverage,fuzzing,stateful", "--checks", "all"])
        .args(["--max-examples", "50", "--seed", "1"])
        .args(["--report-dir", server.scratch().join("report").to_str().unwrap()])
        .current_dir(server.scratch())
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", COMPAT)
        .output()
        .await
        .expect("running schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found disagreements:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let operations = document["paths"].as_object().unwrap().values();
    let count: usize = operations.map(|item| item.as_object().unwrap().len()).sum();
    assert!(stdout.contains(&format!("Tested: {count}")), "not every operation ran:\n{stdout}");
}

#[test]
fn the_schemathesis_config_allows_only_documented_statuses() {
    let document = serde_json::json!({ "paths": {
        "/a": { "get": { "operationId": "a_get", "responses": {
            "200": {}, "404": {}, "422": {}, "4XX": {}, "5XX": {} } } },
        "/b": { "get": { "operationId": "b_get", "responses": { "200": {}, "4XX": {} } } },
        "/c": { "patch": { "operationId": "c_patch", "responses": { "204": {}, "412": {} } } },
    } });
    assert_eq!(
        schemathesis_config(&document),
        "[[operations]]\ninclude-operation-id = \"a_get\"\n\
         checks.positive_data_acceptance.expected-statuses = \
         [\"2xx\", \"3xx\", \"401\", \"403\", \"404\", \"409\", \"429\", \"5xx\", \"422\"]\n\n\
         [[operations]]\ninclude-operation-id = \"c_patch\"\n\
         checks.positive_data_acceptance.expected-statuses = \
         [\"2xx\", \"3xx\", \"401\", \"403\", \"404\", \"409\", \"429\", \"5xx\", \"412\"]\n\
         checks.negative_data_rejection.expected-statuses = \
         [\"400\", \"401\", \"403\", \"404\", \"405\", \"406\", \"409\", \"415\", \"422\", \
         \"428\", \"429\", \"5xx\", \"412\"]\n\n"
    );
}

#[tokio::test]
async fn a_python_client_generated_from_the_document_works() {
    let generator = python_tool("openapi-python-client");
    let server = TestServer::start();
    let scratch = server.scratch();
    // No formatting hooks: the generated code is run, not read. A tus append's body is bytes
    // of a media type of its own, which the generator is told to send as it sends bytes (its
    // generated code keeps the document's media type).
    let config = scratch.join("generator.yaml");
    let overrides =
        "content_type_overrides:\n  application/offset+octet-stream: application/octet-stream\n";
    std::fs::write(&config, format!("post_hooks: []\n{overrides}")).unwrap();
    let package = scratch.join("droplet_bits_api_client");
    let generated = tokio::process::Command::new(generator)
        .args(["generate", "--path", OPENAPI, "--meta", "none", "--config"])
        .arg(&config)
        .arg("--output-path")
        .arg(&package)
        .output()
        .await
        .expect("running openapi-python-client");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&generated.stdout),
        String::from_utf8_lossy(&generated.stderr)
    );
    assert!(generated.status.success(), "openapi-python-client failed:\n{report}");
    assert!(!report.contains("WARNING"), "the generator left parts of the API out:\n{report}");

    let droplet = scratch.join("droplet.tgz");
    std::fs::write(&droplet, small_droplet()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/compat/generated_client.py");
    let output = tokio::process::Command::new(python_tool("python"))
        .arg(script)
        .env("PYTHONPATH", &scratch)
        .env("DROPLET_API_URL", &server.base_url)
        .env("DROPLET_TOKEN", server.token(&["cloud_controller.admin"]))
        .env("DROPLET_TGZ", &droplet)
        .output()
        .await
        .expect("running the generated client");
    assert!(
        output.status.success(),
        "generated_client.py failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
