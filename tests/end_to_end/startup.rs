//! Start-up: the server answers nothing before it knows the base of its links, so the very first
//! requests, sent while it starts, already get absolute links.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::common::*;

/// Callers already knocking while the server starts.
const CALLERS: usize = 8;
/// Answers each caller collects, the first ones of the server's life among them.
const ANSWERS_EACH: usize = 20;

/// The server process, killed when the test ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn requests_sent_while_the_server_starts_get_absolute_links() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A port known before the server binds it, so that callers can knock from the start.
    let base_url = format!("http://127.0.0.1:{}", free_port());
    let answers = Arc::new(Mutex::new(Vec::new()));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (answers, root) = (answers.clone(), format!("{base_url}/"));
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut answered = 0;
                while answered < ANSWERS_EACH {
                    let Ok(response) = client.get(&root).send().await else {
                        // Refused until the server listens.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    };
                    let body: Value = response.json().await.expect("a JSON root document");
                    answers.lock().unwrap().push(body);
                    answered += 1;
                }
            })
        })
        .collect();
    let mut command = Command::new(env!("CARGO_BIN_EXE_droplet-server"));
    command.arg("serve").arg("--bind").arg(base_url.trim_start_matches("http://"));
    command.arg("--data-dir").arg(dir.path().join("data"));
    for (variable, _) in std::env::vars_os() {
        if variable.to_string_lossy().starts_with("DROPLET_") {
            command.env_remove(variable);
        }
    }
    let command = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let _server = Process(command.spawn().expect("starting droplet-server"));
    for caller in callers {
        tokio::time::timeout(Duration::from_secs(60), caller)
            .await
            .expect("the server to answer")
            .expect("a caller");
    }

    let answers = answers.lock().unwrap();
    assert_eq!(answers.len(), CALLERS * ANSWERS_EACH);
    for root in answers.iter() {
        assert_eq!(root["links"]["self"]["href"], base_url, "{root}");
        assert_eq!(root["links"]["cloud_controller_v3"]["href"], format!("{base_url}/v3"));
    }
}
