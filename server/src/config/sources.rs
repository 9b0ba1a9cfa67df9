//! Where the configuration comes from, in increasing precedence: the defaults, the TOML file,
//! `DROPLET_<KEY>` environment variables, then the command line's flags (applied by the caller).
//!
//! Every key of [`Config`] has its variable: the key's path with `.` as `_`, upper-cased
//! (`max_upload_bytes` is `DROPLET_MAX_UPLOAD_BYTES`, `blobstore.redirect_downloads` is
//! `DROPLET_BLOBSTORE_REDIRECT_DOWNLOADS`). The keys are read off the serialized defaults, so a key
//! added to [`Config`] gets its variable without a change here. A value is read as a TOML value
//! (`true`, `42`, `[{kid = "a", secret = "b"}]`), or as a string when it is not one. Variables
//! that name no key are ignored: `DROPLET_API` and `DROPLET_TOKEN` belong to the `droplet` CLI.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};

use super::Config;

/// The configuration from the defaults, `file` and the `DROPLET_*` variables in `env`.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> anyhow::Result<Config> {
    let mut table = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading configuration file {}", path.display()))?;
            // Parsing into the typed configuration first reports unknown keys and bad values with
            // the key's name and line.
            toml::from_str::<Config>(&text)
                .with_context(|| format!("invalid configuration file {}", path.display()))?;
            toml::from_str::<toml::Table>(&text)?
        }
        None => toml::Table::new(),
    };
    let keys = env_keys()?;
    for (name, value) in env {
        let Some((key, default)) = keys.get(&name) else { continue };
        let parsed = parse_value(&value, default);
        // A key without a default (an optional string such as a secret) takes text that happens
        // to look like a TOML number or boolean as the string it is.
        let value = match (fits(key, &parsed), default.is_null()) {
            (Ok(()), _) => parsed,
            (Err(_), true) if fits(key, &toml::Value::String(value.clone())).is_ok() => {
                toml::Value::String(value)
            }
            (Err(error), _) => {
                bail!("invalid value of {name} (configuration key `{key}`): {error}")
            }
        };
        insert(&mut table, key, value);
    }
    toml::Value::Table(table).try_into().context("invalid configuration")
}

/// Whether `value` is a valid value of `key` on its own.
fn fits(key: &str, value: &toml::Value) -> Result<(), toml::de::Error> {
    let mut alone = toml::Table::new();
    insert(&mut alone, key, value.clone());
    toml::Value::Table(alone).try_into::<Config>().map(drop)
}

/// Every configuration key, by its variable's name, with its default.
fn env_keys() -> anyhow::Result<BTreeMap<String, (String, serde_json::Value)>> {
    let defaults = serde_json::to_value(Config::default())?;
    let mut keys = BTreeMap::new();
    collect(&defaults, "", &mut keys);
    Ok(keys)
}

fn collect(
    value: &serde_json::Value,
    prefix: &str,
    keys: &mut BTreeMap<String, (String, serde_json::Value)>,
) {
    let serde_json::Value::Object(fields) = value else { return };
    for (name, value) in fields {
        let key = match prefix {
            "" => name.clone(),
            _ => format!("{prefix}.{name}"),
        };
        if value.is_object() {
            collect(value, &key, keys);
        } else {
            let variable = format!("DROPLET_{}", key.replace('.', "_").to_uppercase());
            keys.insert(variable, (key, value.clone()));
        }
    }
}

/// A variable's text as a TOML value: a string where the key's default is one, otherwise TOML
/// when it parses as such, else a string.
fn parse_value(text: &str, default: &serde_json::Value) -> toml::Value {
    if default.is_string() {
        return toml::Value::String(text.to_owned());
    }
    match toml::from_str::<toml::Table>(&format!("value = {text}")) {
        Ok(mut table) => table.remove("value").unwrap_or_else(|| toml::Value::String(text.into())),
        Err(_) => toml::Value::String(text.to_owned()),
    }
}

/// Sets `key` (a dotted path) in `table`, creating the tables on the way.
fn insert(table: &mut toml::Table, key: &str, value: toml::Value) {
    match key.split_once('.') {
        None => {
            table.insert(key.to_owned(), value);
        }
        Some((section, rest)) => {
            let entry = table
                .entry(section.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn every_key_has_a_variable() {
        let keys = env_keys().unwrap();
        for variable in [
            "DROPLET_BIND",
            "DROPLET_DATA_DIR",
            "DROPLET_EXTERNAL_URL",
            "DROPLET_MAX_UPLOAD_BYTES",
            "DROPLET_UPLOAD_IDLE_TIMEOUT_SECS",
            "DROPLET_MAX_CONCURRENT_UPLOADS",
            "DROPLET_METRICS_BIND",
            "DROPLET_METRICS_REQUIRE_TOKEN",
            "DROPLET_DATABASE_URL",
            "DROPLET_LOG_LEVEL",
            "DROPLET_LOG_FORMAT",
            "DROPLET_SHUTDOWN_GRACE_SECS",
            "DROPLET_BLOBSTORE_PATH",
            "DROPLET_BLOBSTORE_REDIRECT_DOWNLOADS",
            "DROPLET_BLOBSTORE_SIGNED_URL_TTL_SECS",
            "DROPLET_BLOBSTORE_X_ACCEL_REDIRECT_LOCATION",
            "DROPLET_AUTH_ISSUER",
            "DROPLET_AUTH_AUDIENCE",
            "DROPLET_AUTH_HMAC_KEYS",
            "DROPLET_AUTH_RSA_PUBLIC_KEYS",
        ] {
            assert!(keys.contains_key(variable), "{variable}");
        }
    }

    /// The README's configuration table lists every key with its variable.
    #[test]
    fn every_key_is_in_the_readme() {
        let readme = include_str!("../../../README.md");
        for (variable, (key, _)) in env_keys().unwrap() {
            let row = format!("| `{key}` | `{variable}` |");
            assert!(readme.contains(&row), "README.md has no row starting {row}");
        }
    }

    #[test]
    fn variables_override_the_file_which_overrides_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "max_upload_bytes = 10\nlog_level = \"debug\"\n[blobstore]\nsigned_url_ttl_secs = 5\n",
        )
        .unwrap();
        let config = load(
            Some(&file),
            vars(&[
                ("DROPLET_MAX_UPLOAD_BYTES", "20"),
                ("DROPLET_BLOBSTORE_REDIRECT_DOWNLOADS", "true"),
                ("DROPLET_AUTH_HMAC_KEYS", r#"[{kid = "k", secret = "s"}]"#),
                ("DROPLET_EXTERNAL_URL", "https://droplets.example.com"),
                ("DROPLET_LOG_FORMAT", "json"),
                ("DROPLET_API", "not a server key"),
            ]),
        )
        .unwrap();
        assert_eq!(config.max_upload_bytes, 20);
        assert_eq!(config.log_level, "debug");
        assert_eq!(config.blobstore.signed_url_ttl_secs, 5);
        assert!(config.blobstore.redirect_downloads);
        assert_eq!(config.auth.hmac_keys[0].secret, "s");
        assert_eq!(config.external_url.as_deref(), Some("https://droplets.example.com"));
        assert_eq!(config.log_format, crate::config::LogFormat::Json);
        assert_eq!(config.auth.audience, "cloud_controller");
    }

    #[test]
    fn a_bad_variable_names_the_variable_and_the_key() {
        let error = load(None, vars(&[("DROPLET_BLOBSTORE_REDIRECT_DOWNLOADS", "maybe")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("DROPLET_BLOBSTORE_REDIRECT_DOWNLOADS"), "{error}");
        assert!(error.contains("blobstore.redirect_downloads"), "{error}");
    }
}
