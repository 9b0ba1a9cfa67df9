//! The `droplet` command line's arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "droplet", version, about = "Cloud Foundry droplet bits from the command line")]
pub struct Cli {
    /// Base URL of the droplet bits API, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "DROPLET_API", global = true)]
    pub api: Option<String>,
    /// UAA bearer token (without the `bearer ` prefix).
    #[arg(long, env = "DROPLET_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Print the resource as JSON instead of a summary.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a droplet for an app, ready for its bits.
    Create {
        /// The app's guid.
        #[arg(long)]
        app: Uuid,
    },
    /// Upload a droplet's gzip tarball, wait for the job, print the staged droplet.
    Upload { guid: String, file: PathBuf },
    /// Download a droplet's bits and verify their SHA-256; resumes from `FILE.part`.
    Download {
        guid: String,
        /// Where to write the bits [default: GUID.tgz].
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Show a droplet.
    Get { guid: String },
    /// List droplets.
    List(ListArgs),
    /// Delete a droplet and its bits; waits for the job unless --no-wait.
    Delete {
        guid: String,
        /// Print the job's guid and return at once.
        #[arg(long)]
        no_wait: bool,
    },
    /// Copy a staged droplet to an app and wait until its bits are copied.
    Copy {
        source_guid: String,
        /// The app the copy is for.
        #[arg(long)]
        app: Uuid,
    },
    /// Show a job; with --wait, once it is COMPLETE or FAILED.
    Job {
        guid: String,
        #[arg(long)]
        wait: bool,
    },
}

/// The list filters, as the API takes them (comma-separated lists).
#[derive(Args)]
pub struct ListArgs {
    #[arg(long)]
    pub guids: Option<String>,
    #[arg(long)]
    pub states: Option<String>,
    #[arg(long)]
    pub app_guids: Option<String>,
    #[arg(long)]
    pub label_selector: Option<String>,
    #[arg(long)]
    pub page: Option<u32>,
    #[arg(long)]
    pub per_page: Option<u32>,
    /// `created_at` or `updated_at`, `-` first for descending.
    #[arg(long, allow_hyphen_values = true)]
    pub order_by: Option<String>,
}
