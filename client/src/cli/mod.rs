//! The `droplet` command line (feature `cli`): every subcommand is a few calls of the generated
//! client and its extras. [`run`] takes the arguments and where to print, so that tests drive it
//! in-process; `src/bin/droplet.rs` only adds the exit code.

mod args;
mod output;
mod progress;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;

use crate::{Client, DownloadOptions, FilePart, accepted_job_guid, types};
use args::{Cli, Command, ListArgs};
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
    let api = cli.api.context("no API URL: pass --api or set DROPLET_API")?;
    let token = cli.token.context("no token: pass --token or set DROPLET_TOKEN")?;
    let client = Client::for_transfers(api.trim_end_matches('/'), &token)
        .context("building the HTTP client")?;
    let mut out = Printer { out: stdout, json: cli.json };
    let bars = Bars::for_stderr();
    match cli.command {
        Command::Create { app } => {
            let body = droplet_for(app);
            let droplet = client.droplet_create(None, &body).await?.into_inner();
            out.droplet(&droplet)
        }
        Command::Upload { guid, file } => {
            let bar = bars.bytes("uploading");
            let reporter = bar.clone();
            let (bits, length) = FilePart::from_path_reporting(&file, move |sent| {
                reporter.set_position(sent);
            })
            .await
            .with_context(|| format!("reading {}", file.display()))?;
            bar.set_length(length);
            let form = crate::DropletUploadForm { bits, resources: None };
            let accepted = client.droplet_upload(&guid, form).await;
            bar.finish_and_clear();
            let accepted = accepted?;
            let job = client.wait_for_accepted_job(&accepted).await?;
            let droplet = client.droplet_get(&guid).await?.into_inner();
            if job.state == types::JobState::Failed {
                bail!("the upload job failed: {}", output::job_errors(&job));
            }
            out.droplet(&droplet)
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
            let report = client.download_to_file_with(&guid, &path, options).await;
            bar.finish_and_clear();
            out.download(&report?)
        }
        Command::Get { guid } => {
            let droplet = client.droplet_get(&guid).await?.into_inner();
            out.droplet(&droplet)
        }
        Command::List(filters) => {
            let list = list(&client, &filters).await?;
            out.list(&list)
        }
        Command::Delete { guid, no_wait } => {
            let accepted = client.droplet_delete(&guid).await?;
            let job = accepted_job_guid(&accepted).context("the answer names no job")?;
            if no_wait {
                out.job_guid(&job)
            } else {
                let job = client.wait_for_job(&job).await?;
                out.job(&job)?;
                if job.state == types::JobState::Failed {
                    bail!("the delete job failed: {}", output::job_errors(&job));
                }
                Ok(())
            }
        }
        Command::Copy { source_guid, app } => {
            let body = droplet_for(app);
            let copy = client.droplet_create(Some(&source_guid), &body).await?.into_inner();
            let droplet = client.wait_for_copy(&copy.guid.to_string()).await?;
            out.droplet(&droplet)?;
            if droplet.state == types::DropletState::Failed {
                bail!("the copy failed: {}", droplet.error.as_deref().unwrap_or("no reason given"));
            }
            Ok(())
        }
        Command::Job { guid, wait } => {
            let job = match wait {
                true => client.wait_for_job(&guid).await?,
                false => client.job_get(&guid).await?.into_inner(),
            };
            out.job(&job)
        }
    }
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

async fn list(client: &Client, f: &ListArgs) -> anyhow::Result<types::DropletList> {
    let list = client
        .droplet_list(
            f.app_guids.as_deref(),
            None,
            f.guids.as_deref(),
            f.label_selector.as_deref(),
            f.order_by.as_deref(),
            f.page,
            f.per_page,
            f.states.as_deref(),
            None,
        )
        .await?;
    Ok(list.into_inner())
}
