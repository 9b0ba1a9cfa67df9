//! `droplet-server`: run the droplet bits service, check its store, or mint a development token
//! for it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use droplet_server::{Config, LogFormat};

#[derive(Parser)]
#[command(name = "droplet-server", version, about = "Cloud Foundry droplet bits service")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default). Flags override `DROPLET_<KEY>` environment variables, which
    /// override the configuration file.
    Serve(ServeArgs),
    /// Check that the metadata and the bits agree; with --repair, settle what does not. Reads
    /// the configuration `serve` reads. Exit status: 0 clean, 1 problems found (or left after
    /// --repair), 2 the check could not run.
    Check(CheckArgs),
    /// Print a JWT signed with the data directory's development key.
    Token(TokenArgs),
}

#[derive(Args)]
struct CheckArgs {
    /// Configuration file (TOML), as for `serve`.
    #[arg(long, env = "DROPLET_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory, as for `serve` [default: ./droplet-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Also read every staged droplet's blob through and compare its SHA-256.
    #[arg(long)]
    deep: bool,
    /// Settle what is found: delete orphans and stale writes, fail droplets whose bits are lost.
    #[arg(long)]
    repair: bool,
    /// Print the findings and the summary as one JSON document.
    #[arg(long)]
    json: bool,
    /// Blobs and writes younger than this many seconds may be in flight, and are never counted.
    #[arg(long, default_value_t = 3600)]
    grace_secs: u64,
    /// Cap the reads of --deep at this many MiB/s, so that serving is not starved.
    #[arg(long)]
    max_read_mib_per_sec: Option<u64>,
}

#[derive(Args, Default)]
struct ServeArgs {
    /// Configuration file (TOML).
    #[arg(long, env = "DROPLET_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]; port 0 picks a free port.
    #[arg(long)]
    bind: Option<SocketAddr>,
    /// Directory for the SQLite database, local blobs and keys [default: ./droplet-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Base URL clients reach this server at [default: http://<bound address>].
    #[arg(long)]
    external_url: Option<String>,
}

#[derive(Args)]
struct TokenArgs {
    /// Data directory of the server the token is for [default: ./droplet-data].
    #[arg(long, env = "DROPLET_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Scope to grant; repeatable [default: cloud_controller.read and cloud_controller.write].
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: i64,
}

fn main() -> anyhow::Result<()> {
    droplet_server::allocator::limit_arenas();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(args),
        Command::Check(args) => check(args),
        Command::Token(args) => token(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<()> {
    let loaded = droplet_server::load_config(args.config.as_deref(), std::env::vars());
    let status = match loaded.and_then(|mut config| {
        if let Some(data_dir) = args.data_dir {
            config.data_dir = data_dir;
        }
        Ok((logger(&config, "droplet-server-check")?, config))
    }) {
        Ok((log, config)) => {
            let options = droplet_server::check::CheckOptions {
                deep: args.deep,
                repair: args.repair,
                json: args.json,
                grace: std::time::Duration::from_secs(args.grace_secs),
                max_read_mib_per_sec: args.max_read_mib_per_sec,
            };
            droplet_server::check::main(&config, &options, &log)
        }
        Err(error) => {
            eprintln!("droplet-server check: cannot run: {error:#}");
            2
        }
    };
    std::process::exit(status);
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = droplet_server::load_config(args.config.as_deref(), std::env::vars())?;
    if let Some(bind) = args.bind {
        config.bind = bind;
    }
    if let Some(data_dir) = args.data_dir {
        config.data_dir = data_dir;
    }
    if let Some(url) = args.external_url {
        config.external_url = Some(url);
    }
    let log = logger(&config, "droplet-server")?;
    tokio::runtime::Runtime::new()?.block_on(async move {
        let data_dir = config.data_dir.clone();
        let development = config.uses_development_key();
        let grace = std::time::Duration::from_secs(config.shutdown_grace_secs);
        let server = droplet_server::start(config, log).await?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "listening on http://{}", server.local_addr())?;
        if development {
            writeln!(
                stdout,
                "get a token: droplet-server token --data-dir {}",
                data_dir.display()
            )?;
        }
        stdout.flush()?;
        shutdown_signal().await;
        server.shutdown(grace).await
    })
}

/// The logger the configuration asks for, on stderr.
fn logger(config: &Config, name: &str) -> anyhow::Result<slog::Logger> {
    let level = serde_json::from_value(serde_json::Value::String(config.log_level.clone()))
        .with_context(|| format!("invalid log_level {:?}", config.log_level))?;
    let logging = match config.log_format {
        LogFormat::Text => dropshot::ConfigLogging::StderrTerminal { level },
        // Bunyan JSON, one object per line, on stderr like the text.
        LogFormat::Json => dropshot::ConfigLogging::File {
            level,
            path: "/dev/stderr".into(),
            if_exists: dropshot::ConfigLoggingIfExists::Append,
        },
    };
    logging.to_logger(name).context("setting up logging")
}

async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

fn token(args: TokenArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.unwrap_or_else(|| Config::default().data_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let secret = droplet_server::load_development_key(&data_dir)?;
    let scopes = if args.scopes.is_empty() {
        vec!["cloud_controller.read".to_owned(), "cloud_controller.write".to_owned()]
    } else {
        args.scopes
    };
    let audience = Config::default().auth.audience;
    println!("{}", droplet_server::mint_token(&secret, &audience, &scopes, args.ttl)?);
    Ok(())
}
