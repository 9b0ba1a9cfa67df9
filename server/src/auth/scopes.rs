//! Which scopes allow what, as the reference's permission checks for droplets: reading,
//! downloading bits, writing, and seeing a droplet's secrets.

use std::collections::HashSet;

use droplet_api::CfError;

/// Scopes that allow reading.
const READ_SCOPES: &[&str] = &[
    "cloud_controller.read",
    "cloud_controller.admin",
    "cloud_controller.admin_read_only",
    "cloud_controller.global_auditor",
];
/// Scopes that allow downloading bits: reading, except as a global auditor.
const DOWNLOAD_SCOPES: &[&str] =
    &["cloud_controller.read", "cloud_controller.admin", "cloud_controller.admin_read_only"];
/// Scopes that see a droplet's secrets (`process_types`, `execution_metadata`) regardless of
/// space roles, as the reference's `can_read_secrets_globally?`.
const READ_SECRETS_SCOPES: &[&str] =
    &["cloud_controller.admin", "cloud_controller.admin_read_only"];
/// Scopes that allow writing.
const WRITE_SCOPES: &[&str] = &["cloud_controller.write", "cloud_controller.admin"];

/// What an operation needs of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Download,
    Write,
    /// Seeing secrets as an admin or read-only admin.
    ReadSecrets,
}

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    pub scopes: HashSet<String>,
}

impl Caller {
    pub fn may(&self, access: Access) -> bool {
        let allowed = match access {
            Access::Read => READ_SCOPES,
            Access::Download => DOWNLOAD_SCOPES,
            Access::Write => WRITE_SCOPES,
            Access::ReadSecrets => READ_SECRETS_SCOPES,
        };
        allowed.iter().any(|scope| self.scopes.contains(*scope))
    }

    /// Whether the caller sees a droplet's secrets (`process_types`, `execution_metadata`). The
    /// reference shows them to those who may read them in the droplet's space: admins,
    /// read-only admins and space developers (here: the write scope).
    pub fn sees_secrets(&self) -> bool {
        self.may(Access::Write) || self.may(Access::ReadSecrets)
    }

    /// 403 unless the caller's scopes allow `access`.
    pub fn require(&self, access: Access) -> Result<(), CfError> {
        if self.may(access) { Ok(()) } else { Err(CfError::not_authorized()) }
    }
}
