//! The login `droplet login` stores for later commands: where it lives, and how it is written so
//! that only the user can read it (a directory of mode 0700, a file of mode 0600, replaced whole
//! by a rename so that no reader ever sees half of it).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The file in the configuration directory.
const FILE_NAME: &str = "token.json";
/// A token this close to its expiry, in seconds, is renewed before it is used, so that it does
/// not expire on its way or during a long upload's first request.
const RENEW_MARGIN_SECS: i64 = 60;

/// How the token was obtained, and so how it is renewed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// A user's name and password; renewed with the refresh token.
    Password,
    /// A UAA client's id and secret; renewed with the refresh token if the UAA gave one, else by
    /// asking again with the stored client secret.
    ClientCredentials,
}

/// A login: the API it is for, the UAA that issued it, and the tokens.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    /// The API's base URL, without a trailing `/`.
    pub api: String,
    /// The UAA's token endpoint, `<links.login>/oauth/token`.
    pub token_endpoint: String,
    pub grant: Grant,
    pub client_id: String,
    /// Empty for the password grant's public client `cf`; a client credentials login keeps its
    /// secret to renew the token (as the cf CLI does), which is why the file is the user's only.
    pub client_secret: String,
    /// The user name, for a password login.
    pub user: Option<String>,
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// When the access token expires, in seconds since the Unix epoch.
    pub expires_at: i64,
}

impl Session {
    /// Whether the access token has expired or will within the renewal margin.
    pub fn needs_renewal(&self) -> bool {
        chrono::Utc::now().timestamp() + RENEW_MARGIN_SECS >= self.expires_at
    }
}

/// The configuration directory: `flag` (`--config-dir` or `DROPLET_CONFIG_DIR`), else
/// `$XDG_CONFIG_HOME/droplet`, else `$HOME/.config/droplet`.
pub fn config_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    let absolute =
        |name: &str| std::env::var_os(name).map(PathBuf::from).filter(|path| path.is_absolute());
    if let Some(config) = absolute("XDG_CONFIG_HOME") {
        return Ok(config.join("droplet"));
    }
    let home = absolute("HOME").context(
        "no configuration directory for the token: set HOME, XDG_CONFIG_HOME or \
         DROPLET_CONFIG_DIR, or pass --config-dir",
    )?;
    Ok(home.join(".config").join("droplet"))
}

/// The file a login is stored in.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// The stored login, if there is one.
pub fn load(dir: &Path) -> anyhow::Result<Option<Session>> {
    let path = path(dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    };
    let session = serde_json::from_str(&text).with_context(|| {
        format!("{} is not a droplet login; run `droplet login` again", path.display())
    })?;
    Ok(Some(session))
}

/// Stores `session`, readable by the user only; returns the file's path.
pub fn save(dir: &Path, session: &Session) -> anyhow::Result<PathBuf> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let path = path(dir);
    let temporary = dir.join(format!(".{FILE_NAME}.{}", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(&serde_json::to_vec_pretty(session)?)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Removes the stored login; false if there was none.
pub fn remove(dir: &Path) -> anyhow::Result<bool> {
    let path = path(dir);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error).with_context(|| format!("removing {}", path.display())),
    }
}
