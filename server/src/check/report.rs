//! The check's output: one line per finding, naming the droplet or the object key, then a
//! summary; or, with `--json`, the same as one JSON document. And the exit status it means.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::findings::Finding;

/// Everything a check found and read.
#[derive(Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

#[derive(Default, Serialize)]
pub struct Summary {
    pub staged_droplets: usize,
    pub blobs: usize,
    /// Bytes read through and hashed (`--deep`).
    pub bytes_read: u64,
    pub read_mib_per_sec: Option<f64>,
    pub repair: bool,
    /// Findings by kind.
    pub problems: BTreeMap<String, usize>,
    pub repaired: usize,
    /// Findings still open: found without `--repair`, or not settled by it.
    pub open: usize,
}

impl Report {
    /// 0 when nothing is wrong, 1 when something was found (or, with `--repair`, remains).
    pub fn exit_code(&self) -> i32 {
        if self.summary.open == 0 { 0 } else { 1 }
    }

    pub fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for finding in &self.findings {
            let problem = &finding.problem;
            let outcome = match &finding.outcome {
                super::findings::Outcome::Found => String::new(),
                super::findings::Outcome::Repaired(what) => format!(" -> repaired: {what}"),
                super::findings::Outcome::Resolved(why) => format!(" -> resolved: {why}"),
                super::findings::Outcome::Remains(why) => format!(" -> remains: {why}"),
            };
            writeln!(out, "{:<22} {}{outcome}", problem.kind(), problem.describe())?;
        }
        let summary = &self.summary;
        let mut line = format!(
            "checked {} staged droplets and {} blobs",
            summary.staged_droplets, summary.blobs
        );
        if let Some(rate) = summary.read_mib_per_sec {
            let mib = summary.bytes_read as f64 / (1024.0 * 1024.0);
            line.push_str(&format!(", read {mib:.1} MiB at {rate:.1} MiB/s"));
        }
        let found: usize = summary.problems.values().sum();
        if found == 0 {
            line.push_str(": clean");
        } else {
            let kinds: Vec<String> =
                summary.problems.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
            line.push_str(&format!(": {found} found ({})", kinds.join(", ")));
            if summary.repair {
                line.push_str(&format!(", {} repaired", summary.repaired));
            }
            line.push_str(&format!(", {} open", summary.open));
        }
        writeln!(out, "{line}")
    }

    pub fn write_json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }
}
