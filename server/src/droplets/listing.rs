//! `GET /v3/droplets` and `GET /v3/apps/{guid}/droplets`: the query parameters validated the way
//! the reference's `DropletsListMessage` and `AppsDropletsListMessage` do (unknown or malformed
//! ones are 400 `CF-BadQueryParameter`) and parsed into the store's list query, label selectors
//! included; and the pagination links built.

use droplet_api::{CfError, DropletState, PageLink, Pagination};

use super::labels::{key_error, value_error};
use crate::store::listing::{DropletListQuery, LabelRequirement, OrderBy, TimeFilter};

const ALLOWED: &[&str] = &[
    "page",
    "per_page",
    "order_by",
    "created_ats",
    "updated_ats",
    "guids",
    "app_guids",
    "states",
    "label_selector",
];
/// Which droplets a list is of.
#[derive(Clone, Copy)]
pub enum ListScope<'a> {
    All,
    /// One app's, by the guid in the path (an opaque reference: an app nothing refers to has no
    /// droplets).
    App(&'a str),
}
const MAX_REQUIREMENTS: usize = 50;
/// The largest page number (a signed 32-bit integer); the spec states it too.
const MAX_PAGE: u64 = droplet_api::MAX_PAGE;
const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// A list request: the store's query, and the parameters its pagination links carry.
#[derive(Clone, Debug)]
pub struct ListRequest {
    pub query: DropletListQuery,
    /// `current=true` on an app's droplets: only its current droplet. This server keeps no apps,
    /// so no droplet is any app's current one, and the list is empty.
    pub current_only: bool,
    /// The list's path, and the parameters that carry into its pagination links (all but
    /// `page`).
    path: String,
    link_params: Vec<(String, String)>,
}

fn list(value: &str) -> Vec<String> {
    value.split(',').map(str::to_owned).collect()
}

fn parse_timestamp(value: &str) -> Option<i64> {
    use chrono::Timelike;
    chrono::NaiveDateTime::parse_from_str(value, TIMESTAMP_FORMAT)
        .ok()
        // Whole seconds, and no leap second (`:60`), which chrono would take.
        .filter(|t| t.nanosecond() == 0 && t.format(TIMESTAMP_FORMAT).to_string() == value)
        .map(|t| t.and_utc().timestamp())
}

fn humanize(name: &str) -> String {
    let mut text = name.replace('_', " ");
    if let Some(first) = text.get(0..1) {
        let upper = first.to_uppercase();
        text.replace_range(0..1, &upper);
    }
    text
}

fn time_filter(name: &str, operator: Option<&str>, value: &str) -> Result<TimeFilter, String> {
    let invalid = || {
        format!(
            "{} has an invalid timestamp format. Timestamps should be formatted as \
             'YYYY-MM-DDThh:mm:ssZ'",
            humanize(name)
        )
    };
    match operator {
        None => value
            .split(',')
            .map(|t| parse_timestamp(t).ok_or_else(invalid))
            .collect::<Result<Vec<_>, _>>()
            .map(TimeFilter::Equals),
        Some(op) => {
            let compare = match op {
                "lt" => TimeFilter::Before,
                "lte" => TimeFilter::AtOrBefore,
                "gt" => TimeFilter::After,
                "gte" => TimeFilter::AtOrAfter,
                _ => {
                    return Err(format!(
                        "{} has an invalid relational operator '{op}'",
                        humanize(name)
                    ));
                }
            };
            parse_timestamp(value).map(compare).ok_or_else(invalid)
        }
    }
}

/// Splits a selector into requirements at commas outside parentheses, as the reference's
/// `REQUIREMENT_SPLITTER` does.
fn split_requirements(selector: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&selector[start..]);
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

fn key_characters(key: &str) -> bool {
    !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
}

fn parse_requirement(text: &str) -> Option<(String, &'static str, Vec<String>)> {
    let set = |rest: &str, op| {
        let values = rest.strip_prefix('(')?.strip_suffix(')')?;
        Some(list(values)).map(|v| (op, v))
    };
    if let Some((key, rest)) = text.split_once(" in ")
        && let Some((op, values)) = set(rest, "in")
    {
        return Some((key.to_owned(), op, values));
    }
    if let Some((key, rest)) = text.split_once(" notin ")
        && let Some((op, values)) = set(rest, "notin")
    {
        return Some((key.to_owned(), op, values));
    }
    let key_end = text.find(|c: char| !(c.is_ascii_alphanumeric() || "_-./".contains(c)));
    if let Some(end) = key_end {
        let (key, rest) = text.split_at(end);
        if key_characters(key) {
            if let Some(value) = rest.strip_prefix("==").or_else(|| rest.strip_prefix('=')) {
                return Some((key.to_owned(), "equal", vec![value.to_owned()]));
            }
            if let Some(value) = rest.strip_prefix("!=") {
                return Some((key.to_owned(), "not_equal", vec![value.to_owned()]));
            }
        }
    } else if key_characters(text) {
        return Some((text.to_owned(), "exists", vec![]));
    }
    let key = text.strip_prefix('!')?;
    key_characters(key).then(|| (key.to_owned(), "not_exists", vec![]))
}

/// Parses and checks a `label_selector` as the reference's `LabelSelectorRequirementValidator`.
pub fn parse_label_selector(selector: &str) -> Result<Vec<LabelRequirement>, String> {
    let parts = split_requirements(selector);
    if parts.is_empty() {
        return Err("Missing label_selector value".into());
    }
    if parts.len() > MAX_REQUIREMENTS {
        return Err(format!(
            "Too many label_selector requirements (maximum is {MAX_REQUIREMENTS})"
        ));
    }
    let mut requirements = Vec::new();
    for part in parts {
        let (key, op, values) =
            parse_requirement(part).ok_or_else(|| "Invalid label_selector value".to_owned())?;
        if let Some(error) = key_error(&key) {
            return Err(error);
        }
        if let Some(error) = values.iter().find_map(|v| value_error(v)) {
            return Err(error);
        }
        requirements.push(match op {
            "in" | "equal" => LabelRequirement::In(key, values),
            "notin" | "not_equal" => LabelRequirement::NotIn(key, values),
            "exists" => LabelRequirement::Exists(key),
            _ => LabelRequirement::NotExists(key),
        });
    }
    Ok(requirements)
}

/// Validates every query parameter; all problems are reported together in one 400.
pub fn parse(pairs: &[(String, String)], scope: ListScope<'_>) -> Result<ListRequest, CfError> {
    // An app's droplets: the app is in the path, and `current` asks for its current droplet.
    let (allowed, path): (Vec<&str>, _) = match scope {
        ListScope::All => (ALLOWED.to_vec(), "/v3/droplets".to_owned()),
        ListScope::App(app) => {
            let allowed = ALLOWED.iter().copied().filter(|name| *name != "app_guids");
            (allowed.chain(["current"]).collect(), format!("/v3/apps/{}/droplets", encode(app)))
        }
    };
    let mut errors = Vec::new();
    let mut query = DropletListQuery::default();
    let mut current_only = false;
    let mut link_params = Vec::new();
    let unknown: Vec<&str> = pairs
        .iter()
        .map(|(name, _)| name.split_once('[').map_or(name.as_str(), |(base, _)| base))
        .filter(|name| !allowed.contains(name))
        .collect();
    if !unknown.is_empty() {
        errors.push(format!(
            "Unknown query parameter(s): '{}'. Valid parameters are: '{}'",
            unknown.join("', '"),
            allowed.join("', '")
        ));
    }
    for (name, value) in pairs {
        let (base, operator) = match name.split_once('[') {
            Some((base, rest)) => match rest.strip_suffix(']') {
                Some(op) => (base, Some(op)),
                None => {
                    errors.push(format!("Unknown query parameter(s): '{name}'"));
                    continue;
                }
            },
            None => (name.as_str(), None),
        };
        if !allowed.contains(&base) {
            continue;
        }
        if operator.is_some() && !matches!(base, "created_ats" | "updated_ats") {
            errors.push(format!("Unknown query parameter(s): '{name}'"));
            continue;
        }
        if !matches!(base, "page") {
            link_params.push((name.clone(), value.clone()));
        }
        match base {
            "page" => match value.parse::<u64>() {
                Ok(page) if (1..=MAX_PAGE).contains(&page) => query.page = page,
                Ok(page) if page > 0 => errors.push(format!("Page must be at most {MAX_PAGE}")),
                _ => errors.push("Page must be a positive integer".into()),
            },
            "per_page" => match value.parse::<u64>() {
                Ok(n) if (1..=5000).contains(&n) => query.per_page = n,
                Ok(n) if n > 0 => errors.push("Per page must be between 1 and 5000".into()),
                _ => errors.push("Per page must be a positive integer".into()),
            },
            "order_by" => {
                let (descending, column) = match value.strip_prefix('-') {
                    Some(column) => (true, column),
                    None => (false, value.strip_prefix('+').unwrap_or(value)),
                };
                match column {
                    "created_at" => query.order_by = OrderBy::CreatedAt,
                    "updated_at" => query.order_by = OrderBy::UpdatedAt,
                    _ => {
                        errors.push("Order by can only be: 'created_at', 'updated_at'".into());
                        continue;
                    }
                }
                query.descending = descending;
            }
            "created_ats" | "updated_ats" => match time_filter(base, operator, value) {
                Ok(filter) if base == "created_ats" => query.filter.created_at.push(filter),
                Ok(filter) => query.filter.updated_at.push(filter),
                Err(error) => errors.push(error),
            },
            "current" => match value.as_str() {
                "true" => current_only = true,
                "false" => current_only = false,
                _ => errors.push("Current must be a boolean".into()),
            },
            "guids" => query.filter.guids = Some(list(value)),
            "app_guids" => query.filter.app_guids = Some(list(value)),
            "states" => {
                let states = list(value);
                if let Some(bad) = states.iter().find(|s| DropletState::parse(s).is_none()) {
                    errors.push(format!(
                        "States has an invalid value '{bad}'; valid states are: \
                         AWAITING_UPLOAD, PROCESSING_UPLOAD, STAGED, FAILED, COPYING, EXPIRED"
                    ));
                }
                query.filter.states = Some(states);
            }
            "label_selector" => match parse_label_selector(value) {
                Ok(requirements) => query.filter.labels.extend(requirements),
                Err(error) => errors.push(format!("Label selector: {error}")),
            },
            _ => {}
        }
    }
    if errors.is_empty() {
        if let ListScope::App(app) = scope {
            query.filter.app_guids = Some(vec![app.to_owned()]);
        }
        Ok(ListRequest { query, current_only, path, link_params })
    } else {
        Err(CfError::bad_query_parameter(errors.join(", ")))
    }
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl ListRequest {
    fn page_link(&self, url: &dyn Fn(&str) -> String, page: u64) -> PageLink {
        let mut params = self.link_params.clone();
        params.push(("page".to_owned(), page.to_string()));
        if !params.iter().any(|(name, _)| name == "per_page") {
            params.push(("per_page".to_owned(), self.query.per_page.to_string()));
        }
        params.sort();
        let query: Vec<String> =
            params.iter().map(|(n, v)| format!("{}={}", encode(n), encode(v))).collect();
        PageLink { href: url(&format!("{}?{}", self.path, query.join("&"))) }
    }

    /// The pagination block of a page of this list, given the total number of matches.
    pub fn pagination(&self, url: &dyn Fn(&str) -> String, total: u64) -> Pagination {
        let (page, total_pages) = (self.query.page, total.div_ceil(self.query.per_page).max(1));
        Pagination {
            total_results: total,
            total_pages,
            first: self.page_link(url, 1),
            last: self.page_link(url, total_pages),
            next: (page < total_pages).then(|| self.page_link(url, page + 1)),
            previous: (page > 1).then(|| self.page_link(url, page - 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        let parsed =
            parse_label_selector("env=prod,!old,tier in (a,b),x notin (c),y!=z,k==v,q").unwrap();
        assert_eq!(
            parsed,
            vec![
                LabelRequirement::In("env".into(), vec!["prod".into()]),
                LabelRequirement::NotExists("old".into()),
                LabelRequirement::In("tier".into(), vec!["a".into(), "b".into()]),
                LabelRequirement::NotIn("x".into(), vec!["c".into()]),
                LabelRequirement::NotIn("y".into(), vec!["z".into()]),
                LabelRequirement::In("k".into(), vec!["v".into()]),
                LabelRequirement::Exists("q".into()),
            ]
        );
        assert!(parse_label_selector("a b").is_err());
        assert!(parse_label_selector("").is_err());
        assert!(parse_label_selector("a=b/c").is_err());
    }
}
