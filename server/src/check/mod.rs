//! `droplet-server check`: proves that the metadata and the bits agree, and with `--repair`
//! settles what does not. It reads the configuration `serve` reads, works on SQLite and
//! PostgreSQL, on a local directory and on S3, and is safe while replicas serve: it changes
//! nothing without asking again right before, under the same conditions the server uses.
//!
//! One file per concern: `survey` (reading both sides and comparing them), `deep` (reading every
//! blob through, `--deep`), `stale_writes` (pending writes nobody will finish, which recovery
//! sweeps too), `repair` (settling each finding), `findings` (what can be found and what became of
//! it) and `report` (the output and exit status). It uses the store, the blobstore and the
//! configuration, and nothing of the HTTP side.

mod deep;
mod findings;
mod repair;
mod report;
pub mod stale_writes;
mod survey;

use std::time::{Duration, Instant};

use slog::Logger;

use self::findings::{Finding, Outcome};
use self::repair::Repair;
use self::report::{Report, Summary};
use crate::config::{BlobstoreKind, Config};
use crate::store::MetadataStore;

/// What to check, and how.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Also read every blob through and compare its SHA-256.
    pub deep: bool,
    /// Settle what is found.
    pub repair: bool,
    pub json: bool,
    /// A blob or write younger than this is never an orphan or stale: it may be in flight.
    pub grace: Duration,
    /// Caps the reads of `deep`, in MiB/s.
    pub max_read_mib_per_sec: Option<u64>,
}

/// Runs the check and prints its report on stdout; answers the exit status: 0 clean, 1 problems
/// found (or left after `--repair`), 2 when the check could not run (the reason on stderr).
pub fn main(config: &Config, options: &CheckOptions, log: &Logger) -> i32 {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return cannot_run(&anyhow::anyhow!(error)),
    };
    let report = match runtime.block_on(run(config, options, log)) {
        Ok(report) => report,
        Err(error) => return cannot_run(&error),
    };
    let mut stdout = std::io::stdout().lock();
    let written = match options.json {
        true => report.write_json(&mut stdout),
        false => report.write_text(&mut stdout),
    };
    match written {
        Ok(()) => report.exit_code(),
        Err(error) => cannot_run(&error.into()),
    }
}

fn cannot_run(error: &anyhow::Error) -> i32 {
    eprintln!("droplet-server check: cannot run: {error:#}");
    2
}

pub async fn run(config: &Config, options: &CheckOptions, log: &Logger) -> anyhow::Result<Report> {
    config.validate()?;
    if config.blobstore.kind == BlobstoreKind::Local && !config.blob_dir().is_dir() {
        anyhow::bail!("there is no blob directory at {}", config.blob_dir().display());
    }
    let lease = Duration::from_secs(config.lease_secs);
    let store = MetadataStore::connect_existing(&config.database_url(), lease).await?;
    // Never exclusive: replicas may be writing into the store.
    let blobs = crate::blobstore::configured::open(config, false, log)?;
    let blobs = blobs.as_ref();
    let started = Instant::now();
    let surveyed = survey::survey(&store, blobs, options.grace).await?;
    let mut problems = surveyed.problems;
    let mut summary = Summary {
        staged_droplets: surveyed.staged,
        blobs: surveyed.blobs,
        repair: options.repair,
        ..Summary::default()
    };
    if options.deep {
        let max = options.max_read_mib_per_sec;
        let read = deep::read_through(&store, blobs, &surveyed.intact, max).await?;
        problems.extend(read.problems);
        summary.bytes_read = read.bytes;
        let secs = read.elapsed.as_secs_f64().max(1e-6);
        summary.read_mib_per_sec = Some(read.bytes as f64 / (1024.0 * 1024.0) / secs);
    }
    let repair = Repair { store: &store, blobs, grace: options.grace, log };
    let mut findings = Vec::new();
    for problem in problems {
        let outcome = match options.repair {
            false => Outcome::Found,
            true => repair.settle(&problem).await.unwrap_or_else(|error| {
                slog::error!(log, "repairing failed"; "kind" => problem.kind(),
                    "problem" => problem.describe(), "error" => format!("{error:#}"));
                Outcome::Remains(format!("{error:#}"))
            }),
        };
        *summary.problems.entry(problem.kind().to_owned()).or_default() += 1;
        summary.repaired += matches!(outcome, Outcome::Repaired(_)) as usize;
        summary.open += outcome.is_open() as usize;
        findings.push(Finding { problem, outcome });
    }
    slog::debug!(log, "check done"; "elapsed_ms" => started.elapsed().as_millis() as u64);
    Ok(Report { findings, summary })
}
