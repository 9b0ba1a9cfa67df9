//! The `droplet` command line (feature `cli`): every subcommand is a few calls of the generated
//! client and its extras. [`run`] takes the arguments and where to print, so that tests drive it
//! in-process; `src/bin/droplet.rs` only adds the exit code.

mod args;
mod output;
mod progress;
mod session;
mod uaa;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Parser;

use crate::{
    Client, ClientError, DownloadOptions, DropletQuery, Error, ResponseValue, UploadOptions,
    UploadProtocol, accepted_job_guid, types,
};
use args::{Cli, Command, ListArgs, Protocol};
use output::Printer;
pub use output::describe;
use progress::Bars;

/// Runs the `droplet` command line with `args` (the program name first), printing results to
/// `stdout` and progress bars to stderr when it is a terminal. Usage errors come back as a
/// [`clap::Error`] inside the [`anyhow::Error`]; [`describe`] turns any other error into one line.
pub async fn run<I, T>(args: I, stdout: &mut (dyn Write + Send)) -> anyhow::Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    let mut out = Printer { out: stdout, json: cli.json };
    let config_dir = session::config_dir(cli.config_dir)?;
    let api = cli.api.map(|api| api.trim_end_matches('/').to_owned());
    let command = match cli.command {
        Command::Login(args) => {
            let stored = session::load(&config_dir)?;
            let api = api.or(stored.map(|s| s.api));
            let api = api.context("no API URL: pass --api or set DROPLET_API")?;
            let login = uaa::login(&api, args).await?;
            let path = session::save(&config_dir, &login)?;
            return out.login(&login, &path);
        }
        Command::Logout => {
            let removed = session::remove(&config_dir)?;
            return out.logout(removed, &session::path(&config_dir));
        }
        command => command,
    };
    let (api, token) = credentials(api, cli.token, &config_dir).await?;
    let client = Client::for_transfers(&api, &token)?;
    let bars = Bars::for_stderr();
    match command {
        Command::Login(_) | Command::Logout => unreachable!("handled above"),
        Command::Create { app } => {
            let body = droplet_for(app);
            let droplet = inner(client.droplet_create(None, &body).await)?;
            out.droplet(&droplet)
        }
        Command::Upload { guid, file, protocol } => {
            let bar = bars.bytes("uploading");
            let reporter = bar.clone();
            let progress = move |sent: u64, total: u64| {
                reporter.set_length(total);
                reporter.set_position(sent);
            };
            let protocol = match protocol {
                Protocol::Resumable => UploadProtocol::Resumable,
                Protocol::Multipart => UploadProtocol::Multipart,
            };
            let progress = Some(Arc::new(progress) as _);
            let options = UploadOptions { protocol, progress, ..Default::default() };
            let report = client.upload_file_with(guid, &file, options).await;
            bar.finish_and_clear();
            out.upload(&report?)
        }
        Command::Download { guid, output } => {
            let path = output.unwrap_or_else(|| PathBuf::from(format!("{guid}.tgz")));
            let bar = bars.bytes("downloading");
            let progress = |done: u64, total: Option<u64>| {
                if let Some(total) = total {
                    bar.set_length(total);
                }
                bar.set_position(done);
            };
            let options = DownloadOptions { resume: true, progress: Some(&progress) };
            let report = client.download_to_file_with(guid, &path, options).await;
            bar.finish_and_clear();
            out.download(&report?)
        }
        Command::Get { guid } => {
            let droplet = inner(client.droplet_get(&guid.to_string()).await)?;
            out.droplet(&droplet)
        }
        Command::List(filters) => {
            let list = client.list_droplets(&query(filters)).await?;
            out.list(&list)
        }
        Command::Delete { guid, no_wait } => {
            let accepted =
                client.droplet_delete(&guid.to_string()).await.map_err(ClientError::from)?;
            let job = accepted_job_guid(&accepted).ok_or(ClientError::NoJobLocation)?;
            if no_wait {
                out.job_guid(job)
            } else {
                let job = client.wait_for_job(job).await?;
                out.job(&job)?;
                if job.state == types::JobState::Failed {
                    bail!("the delete job failed: {}", output::job_errors(&job));
                }
                Ok(())
            }
        }
        Command::Copy { source_guid, app } => {
            let body = droplet_for(app);
            let source = source_guid.to_string();
            let copy = inner(client.droplet_create(Some(&source), &body).await)?;
            let droplet = client.wait_for_copy(copy.guid).await?;
            out.droplet(&droplet)?;
            if droplet.state == types::DropletState::Failed {
                bail!("the copy failed: {}", droplet.error.as_deref().unwrap_or("no reason given"));
            }
            Ok(())
        }
        Command::Job { guid, wait } => {
            let job = match wait {
                true => client.wait_for_job(guid).await?,
                false => inner(client.job_get(&guid.to_string()).await)?,
            };
            out.job(&job)
        }
    }
}

/// A generated method's answer, its error as the extras' [`ClientError`] (which [`describe`]
/// puts on one line).
fn inner<T>(
    answer: Result<ResponseValue<T>, Error<types::CfErrorEnvelope>>,
) -> Result<T, ClientError> {
    Ok(answer?.into_inner())
}

fn droplet_for(app: uuid::Uuid) -> types::DropletCreate {
    types::DropletCreate {
        relationships: types::DropletRelationships {
            app: types::ToOneRelationship { data: types::RelationshipData { guid: app } },
        },
        process_types: None,
        metadata: None,
    }
}

fn query(f: ListArgs) -> DropletQuery {
    DropletQuery {
        guids: f.guids,
        app_guids: f.app_guids,
        states: f.states,
        label_selector: f.label_selector,
        order_by: f.order_by,
        page: f.page,
        per_page: f.per_page,
        ..DropletQuery::default()
    }
}

/// The API URL and token a command uses: `--api` and `--token` (or `DROPLET_API` and
/// `DROPLET_TOKEN`) first, else the stored login, renewed (and stored again) when it is about to
/// expire. The stored token goes only to the API it was obtained for.
async fn credentials(
    api: Option<String>,
    token: Option<String>,
    config_dir: &std::path::Path,
) -> anyhow::Result<(String, String)> {
    let stored = match (&api, &token) {
        (Some(_), Some(_)) => None,
        _ => session::load(config_dir)?,
    };
    let api = api.or_else(|| stored.as_ref().map(|s| s.api.clone()));
    let api = api.context("no API URL: pass --api, set DROPLET_API, or run `droplet login`")?;
    if let Some(token) = token {
        return Ok((api, token));
    }
    let Some(mut login) = stored else {
        bail!("no token: run `droplet login`, or pass --token or set DROPLET_TOKEN");
    };
    if login.api != api {
        bail!(
            "the stored login is for {}, not {api}: run `droplet login --api {api}`, or pass \
             --token",
            login.api
        );
    }
    if login.needs_renewal() {
        login = uaa::renew(login).await?;
        session::save(config_dir, &login)?;
    }
    Ok((api, login.access_token))
}
