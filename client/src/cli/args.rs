//! The `droplet` command line's arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

use crate::types::DropletState;

#[derive(Parser)]
#[command(name = "droplet", version, about = "Cloud Foundry droplet bits from the command line")]
pub struct Cli {
    /// Base URL of the droplet bits API, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "DROPLET_API", global = true)]
    pub api: Option<String>,
    /// UAA access token, alone or as `cf oauth-token` prints it (`bearer eyJ...`); without it,
    /// the token `droplet login` stored.
    #[arg(long, env = "DROPLET_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Where `droplet login` keeps the token [default: $XDG_CONFIG_HOME/droplet, else
    /// ~/.config/droplet].
    #[arg(long, env = "DROPLET_CONFIG_DIR", global = true)]
    pub config_dir: Option<PathBuf>,
    /// Print the resource as JSON instead of a summary.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Log in to the UAA the API names (`links.login`) and store the token for later commands:
    /// with --client-id and --client-secret (client credentials, for pipelines), or with
    /// --username and a password (password grant).
    Login(LoginArgs),
    /// Forget the token `droplet login` stored.
    Logout,
    /// Create a droplet for an app, ready for its bits.
    Create {
        /// The app's guid.
        #[arg(long)]
        app: Uuid,
    },
    /// Upload a droplet's gzip tarball, wait for the job, print the staged droplet.
    /// Verifies that the droplet was staged with the SHA-256 of the bits sent. A resumable
    /// upload (the default) goes on by itself after a broken connection.
    Upload {
        guid: Uuid,
        file: PathBuf,
        /// How to send the bits: `resumable` (tus; resumes after a broken connection) or
        /// `multipart` (one request, as the Cloud Controller takes it).
        #[arg(long, value_enum, default_value_t = Protocol::Resumable)]
        protocol: Protocol,
    },
    /// Download a droplet's bits and verify their SHA-256; resumes from `FILE.part`.
    Download {
        guid: Uuid,
        /// Where to write the bits [default: GUID.tgz].
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Show a droplet.
    Get { guid: Uuid },
    /// List droplets.
    List(ListArgs),
    /// Delete a droplet and its bits; waits for the job unless --no-wait.
    Delete {
        guid: Uuid,
        /// Print the job's guid and return at once.
        #[arg(long)]
        no_wait: bool,
    },
    /// Copy a staged droplet to an app and wait until its bits are copied.
    Copy {
        source_guid: Uuid,
        /// The app the copy is for.
        #[arg(long)]
        app: Uuid,
    },
    /// Show a job; with --wait, once it is COMPLETE or FAILED.
    Job {
        guid: Uuid,
        #[arg(long)]
        wait: bool,
    },
}

/// How `droplet upload` sends the bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    Resumable,
    Multipart,
}

/// The list filters; lists are comma-separated, as the API takes them.
#[derive(Args)]
pub struct ListArgs {
    /// Only these droplets.
    #[arg(long, value_delimiter = ',')]
    pub guids: Vec<Uuid>,
    /// Only droplets in these states, e.g. STAGED,FAILED.
    #[arg(long, value_delimiter = ',', value_parser = droplet_state)]
    pub states: Vec<DropletState>,
    /// Only droplets of these apps.
    #[arg(long, value_delimiter = ',')]
    pub app_guids: Vec<Uuid>,
    /// Label requirements, e.g. `team=x,!deprecated`.
    #[arg(long)]
    pub label_selector: Option<String>,
    /// The page to show, from 1.
    #[arg(long)]
    pub page: Option<u32>,
    /// Droplets per page (1 to 5000).
    #[arg(long)]
    pub per_page: Option<u32>,
    /// `created_at` or `updated_at`, `-` first for descending.
    #[arg(long, allow_hyphen_values = true)]
    pub order_by: Option<String>,
}

/// How `droplet login` gets a token. A user name means the password grant (with the cf CLI's
/// public client `cf` unless --client-id says otherwise); otherwise client credentials.
#[derive(Args)]
pub struct LoginArgs {
    /// UAA client id: with --client-secret and no --username, the client credentials grant.
    #[arg(long, env = "DROPLET_CLIENT_ID")]
    pub client_id: Option<String>,
    /// UAA client secret.
    #[arg(long, env = "DROPLET_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// User name, for the password grant.
    #[arg(long, short = 'u', env = "DROPLET_USERNAME")]
    pub username: Option<String>,
    /// The user's password (or --password-stdin, or DROPLET_PASSWORD).
    #[arg(long, env = "DROPLET_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long, conflicts_with = "password")]
    pub password_stdin: bool,
}

fn droplet_state(value: &str) -> Result<DropletState, String> {
    value.parse().map_err(|_| {
        "one of AWAITING_UPLOAD, PROCESSING_UPLOAD, STAGED, FAILED, COPYING, EXPIRED".to_owned()
    })
}
