//! `droplet-server check` run on the server under test's own configuration and data directory, as
//! an operator runs it beside a server, and what it printed.

use std::process::Command;

use serde_json::Value;

use super::server::TestServer;

/// What one `droplet-server check` printed, and how it exited.
pub struct CheckRun {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CheckRun {
    /// The `--json` report.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("check printed no JSON ({e}):\n{}\n{}", self.stdout, self.stderr)
        })
    }

    /// `(kind, subject)` of every finding of the `--json` report, sorted; the subject is the
    /// droplet, the object key or the temporary file's name.
    pub fn findings(&self) -> Vec<(String, String)> {
        let report = self.json();
        let mut found: Vec<(String, String)> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|finding| {
                let subject = ["job", "droplet", "key", "name"]
                    .iter()
                    .find_map(|field| finding[*field].as_str())
                    .expect("a finding names its subject");
                (finding["kind"].as_str().expect("kind").to_owned(), subject.to_owned())
            })
            .collect();
        found.sort();
        found
    }

    /// The status of every finding's outcome (`found`, `repaired`, ...), sorted.
    pub fn outcomes(&self) -> Vec<String> {
        let report = self.json();
        let mut outcomes: Vec<String> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|finding| finding["outcome"]["status"].as_str().expect("status").to_owned())
            .collect();
        outcomes.sort();
        outcomes
    }
}

impl TestServer {
    /// Runs `droplet-server check ARGS` with this server's configuration file and data directory.
    pub fn check(&self, args: &[&str]) -> CheckRun {
        let mut command = Command::new(env!("CARGO_BIN_EXE_droplet-server"));
        command.arg("check").arg("--data-dir").arg(self.data_dir());
        if let Some(config) = &self.config {
            command.arg("--config").arg(config);
        }
        for (variable, _) in std::env::vars_os() {
            if variable.to_string_lossy().starts_with("DROPLET_") {
                command.env_remove(variable);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let output = command.args(args).output().expect("running droplet-server check");
        let run = CheckRun {
            status: output.status.code().expect("check exited by itself"),
            stdout: String::from_utf8(output.stdout).expect("UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8"),
        };
        eprintln!("$ droplet-server check {}\n{}{}", args.join(" "), run.stdout, run.stderr);
        run
    }
}
