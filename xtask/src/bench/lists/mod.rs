//! `cargo xtask bench --only lists`: list queries at a foundation's scale. On each backend
//! (SQLite, PostgreSQL) and for each build, a server's database is seeded (`seed`) with 50,000
//! droplets and then with `--list-droplets` (500,000 by default); every list shape a CF client
//! asks for is timed (p50 and p99 of `--list-samples` requests over one kept-alive connection,
//! each answer's `total_results` checked against the seeded data), and so is creating
//! droplets, 8 clients at once. The table shows each shape's growth from 50,000.

mod seed;
mod shapes;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use super::ours::Ours;
use shapes::Shape;

#[derive(clap::Args)]
pub struct ListArgs {
    /// Droplets in the large table of the list bench (the small one has 50,000).
    #[arg(long, default_value_t = 500_000, value_parser = clap::value_parser!(u64).range(50_001..))]
    list_droplets: u64,
    /// Requests timed per list shape and table size.
    #[arg(long, default_value_t = 21, value_parser = clap::value_parser!(u64).range(3..))]
    list_samples: u64,
}

const SMALL: u64 = 50_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// One build's timings on one backend: per shape, (p50, p99) in ms at each size, and the
/// creates per second at each size.
struct Measured {
    label: &'static str,
    shapes: Vec<(String, [(f64, f64); 2])>,
    creates: [f64; 2],
}

pub fn run(args: &ListArgs, builds: &[(&'static str, PathBuf)], dir: &Path) -> anyhow::Result<()> {
    let sizes = [SMALL, args.list_droplets];
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let mut measured = Vec::new();
        for (label, bin) in builds {
            let mut shapes: Vec<(String, [(f64, f64); 2])> = Vec::new();
            let mut creates = [0.0; 2];
            for (index, &size) in sizes.iter().enumerate() {
                println!("lists: {label} on {backend:?}, {size} droplets: seeding...");
                let run_dir = dir.join(format!("{label}-{backend:?}-{size}"));
                let server = Seeded::start(bin, backend, &run_dir, size)?;
                for shape in shapes::all(size) {
                    let timing = server.time(&shape, args.list_samples)?;
                    match shapes.iter_mut().find(|(name, _)| *name == shape.name) {
                        Some((_, timings)) => timings[index] = timing,
                        None => {
                            let mut timings = [(f64::NAN, f64::NAN); 2];
                            timings[index] = timing;
                            shapes.push((shape.name.clone(), timings));
                        }
                    }
                }
                creates[index] = server.creates_per_second()?;
            }
            measured.push(Measured { label, shapes, creates });
        }
        report(backend, &sizes, &measured);
    }
    Ok(())
}

/// A server on a seeded database of its own.
struct Seeded {
    ours: Option<Ours>,
    size: u64,
    /// The PostgreSQL database to drop afterwards.
    database: Option<String>,
}

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

impl Seeded {
    fn start(bin: &Path, backend: Backend, dir: &Path, size: u64) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let (config, database) = match backend {
            Backend::Sqlite => (None, None),
            Backend::Postgres => {
                let name = format!("droplet_bench_{}", uuid::Uuid::new_v4().simple());
                psql(&format!("{POSTGRES}/postgres"), &format!("CREATE DATABASE {name}"))?;
                let config = dir.join("config.toml");
                std::fs::write(&config, format!("database_url = \"{POSTGRES}/{name}\"\n"))?;
                (Some(config), Some(name))
            }
        };
        // The first start makes the schema; the rows go in while no server runs.
        drop(Ours::start(bin, &dir.join("data"), config.as_deref(), None)?);
        match &database {
            None => seed::sqlite(&dir.join("data/droplets.db"), size)?,
            Some(name) => seed::postgres(&format!("{POSTGRES}/{name}"), size)?,
        }
        let ours = Ours::start(bin, &dir.join("data"), config.as_deref(), None)?;
        let seeded = Seeded { ours: Some(ours), size, database };
        if let Some(name) = &seeded.database {
            settle(&format!("{POSTGRES}/{name}"))?;
        }
        seeded.check_by_sampling()?;
        Ok(seeded)
    }

    fn ours(&self) -> &Ours {
        self.ours.as_ref().expect("running until dropped")
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder().http_status_as_error(false).build().into()
    }

    fn get(&self, agent: &ureq::Agent, path: &str) -> anyhow::Result<serde_json::Value> {
        let url = format!("{}{path}", self.ours().url);
        let mut response = agent
            .get(&url)
            .header("Authorization", &format!("bearer {}", self.ours().token))
            .call()?;
        let body = response.body_mut().with_config().limit(64 << 20).read_to_string()?;
        ensure!(response.status() == 200, "GET {path}: {} {body}", response.status());
        Ok(serde_json::from_str(&body)?)
    }

    /// The seeded rows are droplets to the API: a few read back whole, and the total.
    fn check_by_sampling(&self) -> anyhow::Result<()> {
        let agent = Self::agent();
        // Compaction folds the seeded counter rows within a second or two.
        std::thread::sleep(Duration::from_secs(3));
        let all = self.get(&agent, "/v3/droplets?per_page=1")?;
        ensure!(all["pagination"]["total_results"] == self.size, "total: {}", all["pagination"]);
        for i in [0, 5, 15, self.size / 2 + 3, self.size - 1] {
            let droplet = self.get(&agent, &format!("/v3/droplets/{}", seed::droplet_guid(i)))?;
            let app = &droplet["relationships"]["app"]["data"]["guid"];
            ensure!(*app == seed::app_guid(i), "droplet {i}: app {app}");
            ensure!(droplet["state"] == shapes::state(i), "droplet {i}: {}", droplet["state"]);
            let labels = &droplet["metadata"]["labels"];
            ensure!(labels["env"].as_str() == shapes::env(i), "droplet {i}: labels {labels}");
        }
        Ok(())
    }

    /// p50 and p99 of `samples` requests of `shape`, in ms, after one not timed; each answer's
    /// total checked.
    fn time(&self, shape: &Shape, samples: u64) -> anyhow::Result<(f64, f64)> {
        let agent = Self::agent();
        let mut times = Vec::new();
        for sample in 0..=samples {
            let started = Instant::now();
            let page = self.get(&agent, &shape.path)?;
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            let total = &page["pagination"]["total_results"];
            if *total != shape.expected_total {
                bail!("{}: total_results {total}, expected {}", shape.path, shape.expected_total);
            }
            if sample > 0 {
                times.push(elapsed);
            }
        }
        times.sort_by(f64::total_cmp);
        let rank =
            |q: f64| times[((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1];
        Ok((rank(0.5), rank(0.99)))
    }

    /// Droplets created per second by 8 clients at once, for two seconds.
    fn creates_per_second(&self) -> anyhow::Result<f64> {
        let url = format!("{}/v3/droplets", self.ours().url);
        let authorization = format!("bearer {}", self.ours().token);
        let started = Instant::now();
        let created: Vec<anyhow::Result<u64>> = std::thread::scope(|scope| {
            let clients: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        let agent = Self::agent();
                        let mut created = 0;
                        while started.elapsed() < Duration::from_secs(2) {
                            let app = uuid::Uuid::new_v4();
                            let body = format!(
                                r#"{{"relationships":{{"app":{{"data":{{"guid":"{app}"}}}}}}}}"#
                            );
                            let response = agent
                                .post(&url)
                                .header("Authorization", &authorization)
                                .header("Content-Type", "application/json")
                                .send(body.as_str())?;
                            ensure!(response.status() == 201, "create: {}", response.status());
                            created += 1;
                        }
                        Ok(created)
                    })
                })
                .collect();
            clients.into_iter().map(|c| c.join().expect("client thread")).collect()
        });
        let created: u64 = created.into_iter().collect::<anyhow::Result<Vec<_>>>()?.iter().sum();
        Ok(created as f64 / started.elapsed().as_secs_f64())
    }
}

impl Drop for Seeded {
    fn drop(&mut self) {
        if let Some(name) = &self.database {
            drop(self.ours.take());
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(error) = psql(&format!("{POSTGRES}/postgres"), &drop) {
                eprintln!("dropping {name}: {error:#}");
            }
        }
    }
}

/// Runs `sql` with psql; what it printed, unaligned.
fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let output =
        Command::new("psql").args(["-v", "ON_ERROR_STOP=1", "-qAt", url, "-c", sql]).output();
    let output = output.context("running psql")?;
    ensure!(output.status.success(), "psql: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Waits until the server has folded the seeded counter rows into the totals, then has
/// PostgreSQL take statistics of the tables as they now are and write out what that dirtied,
/// as a database long in service would be. Otherwise the shapes are timed while the planner
/// still takes the totals for the empty table the seed's `ANALYZE` saw (until autovacuum
/// analyzes it, within a minute or so) and while the checkpoint after the compaction writes:
/// seen adding 2 to 28 ms to every request at 500,000 droplets, and not at 50,000.
fn settle(url: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    while psql(url, "SELECT COUNT(*) FROM droplet_tally_deltas")? != "0" {
        ensure!(started.elapsed() < Duration::from_secs(300), "the counters were not compacted");
        std::thread::sleep(Duration::from_millis(500));
    }
    psql(url, "VACUUM ANALYZE")?;
    psql(url, "CHECKPOINT").map(drop)
}

fn report(backend: Backend, sizes: &[u64; 2], measured: &[Measured]) {
    let [small, large] = sizes;
    println!("\nList queries on {backend:?}: p50 / p99 in ms at {small} and {large} droplets");
    let mut header = format!("{:<44}", "query");
    for m in measured {
        header.push_str(&format!(" | {:>23} | {:>23} | {:>6}", m.label, "", "growth"));
    }
    println!("{header}");
    for (index, (name, _)) in measured[0].shapes.iter().enumerate() {
        let mut line = format!("{name:<44}");
        for m in measured {
            let [(p50a, p99a), (p50b, p99b)] = m.shapes[index].1;
            line.push_str(&format!(
                " | {p50a:>9.1} / {p99a:>9.1} | {p50b:>9.1} / {p99b:>9.1} | {:>5.1}x",
                p50b / p50a
            ));
        }
        println!("{line}");
    }
    let mut line = format!("{:<44}", "creates per second, 8 clients");
    for m in measured {
        let [a, b] = m.creates;
        line.push_str(&format!(" | {a:>23.0} | {b:>23.0} | {:>5.1}x", b / a));
    }
    println!("{line}");
}
