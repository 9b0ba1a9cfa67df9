//! The Cloud Controller's rules for request bodies that carry labels, annotations and process
//! types (its `MetadataValidatorHelper`, `MetadataValidator` and `DropletCreateMessage`), with
//! its error messages. Used by droplet creation, droplet updates and label selectors.

use std::collections::BTreeMap;

use droplet_api::{CfError, DropletCreate, MetadataUpdate};

const MAX_LABEL_VALUE_SIZE: usize = 63;
const MAX_METADATA_KEY_SIZE: usize = 63;
const MAX_METADATA_PREFIX_SIZE: usize = 253;
const MAX_ANNOTATION_VALUE_SIZE: usize = 5000;
const RESERVED_DOMAIN: &str = "cloudfoundry.org";

/// The first `n` characters, as Ruby's `s[0...n]`.
fn head(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Ruby's `present?`: not empty and not only whitespace.
fn present(s: &str) -> bool {
    !s.trim().is_empty()
}

/// Only `\w`, `-` and `.` (ASCII).
fn valid_characters(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn start_end_alphanumeric(s: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    alnum(s.chars().next()) && alnum(s.chars().last())
}

fn size(s: &str) -> usize {
    s.chars().count()
}

/// The reference's `DomainDecorator::DOMAIN_REGEX`: two or more dot-separated DNS labels.
fn valid_dns(prefix: &str) -> bool {
    let labels: Vec<&str> = prefix.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            let bytes = label.as_bytes();
            (1..=63).contains(&bytes.len())
                && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && bytes[0].is_ascii_alphanumeric()
                && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        })
}

/// What is wrong with a label or annotation key, if anything.
pub fn key_error(key: &str) -> Option<String> {
    if !present(key) {
        return Some("key cannot be empty string".into());
    }
    if key.matches('/').count() > 1 {
        return Some("key has more than one '/'".into());
    }
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if !valid_dns(prefix) {
            return Some(format!("prefix '{prefix}' must be in valid dns format"));
        }
        if size(prefix) > MAX_METADATA_PREFIX_SIZE {
            return Some(format!(
                "prefix '{}...' is greater than {MAX_METADATA_PREFIX_SIZE} characters",
                head(prefix, 8)
            ));
        }
        if prefix.eq_ignore_ascii_case(RESERVED_DOMAIN) {
            return Some(format!("prefix '{RESERVED_DOMAIN}' is reserved"));
        }
    }
    if !present(name) {
        return Some("key cannot be empty string".into());
    }
    if !valid_characters(name) {
        return Some(format!("'{name}' contains invalid characters"));
    }
    if !start_end_alphanumeric(name) {
        return Some(format!("'{name}' starts or ends with invalid characters"));
    }
    if size(name) > MAX_METADATA_KEY_SIZE {
        return Some(format!(
            "'{}...' is greater than {MAX_METADATA_KEY_SIZE} characters",
            head(name, 8)
        ));
    }
    None
}

/// What is wrong with a label value, if anything; the empty value is allowed.
pub fn value_error(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if !valid_characters(value) {
        return Some(format!("'{value}' contains invalid characters"));
    }
    if !start_end_alphanumeric(value) {
        return Some(format!("'{value}' starts or ends with invalid characters"));
    }
    if size(value) > MAX_LABEL_VALUE_SIZE {
        return Some(format!(
            "'{}...' is greater than {MAX_LABEL_VALUE_SIZE} characters",
            head(value, 8)
        ));
    }
    None
}

/// The reference's `MetadataValidator` messages for `metadata`, in its order.
pub fn metadata_errors(metadata: &MetadataUpdate) -> Vec<String> {
    let mut errors = Vec::new();
    for (key, value) in metadata.labels.iter().flatten() {
        if let Some(error) = key_error(key) {
            errors.push(format!("Metadata label key error: {error}"));
        }
        if let Some(error) = value_error(value.as_deref().unwrap_or("")) {
            errors.push(format!("Metadata label value error: {error}"));
        }
    }
    for (key, value) in metadata.annotations.iter().flatten() {
        let value = value.as_deref();
        if value.is_some_and(present)
            && let Some(error) = key_error(key)
        {
            errors.push(format!("Metadata annotation key error: {error}"));
        }
        if let Some(value) = value.filter(|v| size(v) > MAX_ANNOTATION_VALUE_SIZE) {
            errors.push(format!(
                "Metadata annotation value error: '{}...' is greater than \
                 {MAX_ANNOTATION_VALUE_SIZE} characters",
                head(value, 8)
            ));
        }
    }
    errors
}

/// The reference's `DropletCreateMessage` rule for `process_types`.
pub fn process_types_errors(process_types: Option<&BTreeMap<String, String>>) -> Vec<String> {
    match process_types {
        Some(types) if types.keys().any(String::is_empty) => {
            vec!["Process types key must not be empty".to_owned()]
        }
        _ => vec![],
    }
}

/// 422 with every message joined, as the reference renders `errors.full_messages`.
pub fn check(errors: Vec<String>) -> Result<(), CfError> {
    if errors.is_empty() { Ok(()) } else { Err(CfError::unprocessable(errors.join(", "))) }
}

type StringMap = BTreeMap<String, String>;

/// Checks a creation body as the reference does; returns the new droplet's labels and
/// annotations (null values are simply not set).
pub fn create_metadata(body: &DropletCreate) -> Result<(StringMap, StringMap), CfError> {
    let mut errors = process_types_errors(body.process_types.as_ref());
    let metadata = body.metadata.clone().unwrap_or_default();
    errors.extend(metadata_errors(&metadata));
    check(errors)?;
    let empty = BTreeMap::new();
    Ok((apply(&empty, metadata.labels.as_ref()), apply(&empty, metadata.annotations.as_ref())))
}

/// Applies an update to stored labels or annotations: a null value deletes the key.
pub fn apply(
    current: &BTreeMap<String, String>,
    update: Option<&BTreeMap<String, Option<String>>>,
) -> BTreeMap<String, String> {
    let mut result = current.clone();
    for (key, value) in update.into_iter().flatten() {
        match value {
            Some(value) => result.insert(key.clone(), value.clone()),
            None => result.remove(key),
        };
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(key_error("app"), None);
        assert_eq!(key_error("example.com/app-1.x_y"), None);
        assert_eq!(key_error("a"), None);
        assert_eq!(key_error("").unwrap(), "key cannot be empty string");
        assert_eq!(key_error("a/b/c").unwrap(), "key has more than one '/'");
        assert_eq!(key_error("-x.com/a").unwrap(), "prefix '-x.com' must be in valid dns format");
        assert_eq!(
            key_error("localhost/a").unwrap(),
            "prefix 'localhost' must be in valid dns format"
        );
        assert_eq!(
            key_error("CloudFoundry.org/a").unwrap(),
            "prefix 'cloudfoundry.org' is reserved"
        );
        assert_eq!(key_error("x.com/").unwrap(), "key cannot be empty string");
        assert_eq!(key_error("a b").unwrap(), "'a b' contains invalid characters");
        assert_eq!(key_error("-ab").unwrap(), "'-ab' starts or ends with invalid characters");
        assert_eq!(
            key_error(&"k".repeat(64)).unwrap(),
            "'kkkkkkkk...' is greater than 63 characters"
        );
        let long_prefix = vec!["a".repeat(60); 5].join(".");
        assert_eq!(
            key_error(&format!("{long_prefix}/a")).unwrap(),
            "prefix 'aaaaaaaa...' is greater than 253 characters"
        );
    }

    #[test]
    fn values() {
        assert_eq!(value_error(""), None);
        assert_eq!(value_error("v1.2_3-x"), None);
        assert_eq!(value_error("a/b").unwrap(), "'a/b' contains invalid characters");
        assert_eq!(value_error("x.").unwrap(), "'x.' starts or ends with invalid characters");
    }
}
