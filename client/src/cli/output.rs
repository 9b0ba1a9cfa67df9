//! What the `droplet` command line prints: a short summary, or the resource as JSON (`--json`),
//! and errors as one line.

use std::io::Write;
use std::path::Path;

use super::session::{Grant, Session};
use crate::{DownloadReport, UploadReport, types};

pub struct Printer<'a> {
    pub out: &'a mut (dyn Write + Send),
    pub json: bool,
}

impl Printer<'_> {
    fn json(&mut self, value: &impl serde::Serialize) -> anyhow::Result<()> {
        serde_json::to_writer_pretty(&mut *self.out, value)?;
        writeln!(self.out)?;
        Ok(())
    }

    pub fn droplet(&mut self, droplet: &types::Droplet) -> anyhow::Result<()> {
        if self.json {
            return self.json(droplet);
        }
        writeln!(self.out, "guid:     {}", droplet.guid)?;
        writeln!(self.out, "state:    {}", droplet.state)?;
        let checksum = droplet.checksum.as_ref();
        let checksum = checksum.map(|c| format!("{} {}", c.type_, c.value));
        writeln!(self.out, "checksum: {}", checksum.as_deref().unwrap_or("-"))?;
        if let Some(error) = &droplet.error {
            writeln!(self.out, "error:    {error}")?;
        }
        Ok(())
    }

    pub fn list(&mut self, list: &types::DropletList) -> anyhow::Result<()> {
        if self.json {
            return self.json(list);
        }
        for droplet in &list.resources {
            writeln!(self.out, "{}  {:<17}  {}", droplet.guid, droplet.state, droplet.created_at)?;
        }
        let p = &list.pagination;
        writeln!(self.out, "{} droplets, {} pages", p.total_results, p.total_pages)?;
        Ok(())
    }

    pub fn job(&mut self, job: &types::Job) -> anyhow::Result<()> {
        if self.json {
            return self.json(job);
        }
        writeln!(self.out, "guid:      {}", job.guid)?;
        writeln!(self.out, "operation: {}", job.operation)?;
        writeln!(self.out, "state:     {}", job.state)?;
        if !job.errors.is_empty() {
            writeln!(self.out, "errors:    {}", job_errors(job))?;
        }
        Ok(())
    }

    pub fn job_guid(&mut self, guid: uuid::Uuid) -> anyhow::Result<()> {
        if self.json {
            return self.json(&serde_json::json!({ "job": guid }));
        }
        writeln!(self.out, "job: {guid}")?;
        Ok(())
    }

    pub fn upload(&mut self, report: &UploadReport) -> anyhow::Result<()> {
        if self.json {
            return self.json(report);
        }
        self.droplet(&report.droplet)?;
        writeln!(
            self.out,
            "uploaded {} bytes with SHA-256 {}: the droplet was staged with the same checksum",
            report.bytes, report.sent_sha256
        )?;
        Ok(())
    }

    /// What a login stored; never the tokens or the secret.
    pub fn login(&mut self, login: &Session, path: &Path) -> anyhow::Result<()> {
        let who = login.user.as_deref().unwrap_or(&login.client_id);
        let expires_at = chrono::DateTime::from_timestamp(login.expires_at, 0).unwrap_or_default();
        if self.json {
            return self.json(&serde_json::json!({
                "api": login.api,
                "token_endpoint": login.token_endpoint,
                "grant": login.grant,
                "as": who,
                "expires_at": expires_at,
                "renewable": login.refresh_token.is_some() || login.grant == Grant::ClientCredentials,
                "token_file": path,
            }));
        }
        writeln!(self.out, "logged in to {} as {who} ({})", login.api, login.token_endpoint)?;
        writeln!(self.out, "token stored in {}, renewed when it expires", path.display())?;
        Ok(())
    }

    pub fn logout(&mut self, removed: bool, path: &Path) -> anyhow::Result<()> {
        if self.json {
            return self.json(&serde_json::json!({ "removed": removed, "token_file": path }));
        }
        match removed {
            true => writeln!(self.out, "logged out: removed {}", path.display())?,
            false => writeln!(self.out, "not logged in: no {}", path.display())?,
        }
        Ok(())
    }

    pub fn download(&mut self, report: &DownloadReport) -> anyhow::Result<()> {
        if self.json {
            return self.json(report);
        }
        writeln!(
            self.out,
            "downloaded {} bytes to {}, SHA-256 {} verified",
            report.bytes,
            report.path.display(),
            report.sha256
        )?;
        Ok(())
    }
}

pub fn job_errors(job: &types::Job) -> String {
    items(&job.errors)
}

fn items(errors: &[types::ErrorItem]) -> String {
    let each = errors.iter().map(|e| format!("{}: {}", e.title, e.detail));
    each.collect::<Vec<_>>().join("; ")
}

/// One line saying what went wrong: the context the CLI added, then the error itself; for API
/// errors ([`crate::ClientError`]) the CF titles and details and the status.
pub fn describe(error: &anyhow::Error) -> String {
    format!("{error:#}").replace('\n', " ")
}
