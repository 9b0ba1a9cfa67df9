//! The droplet list: its query parameters and a page of it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::droplet::Droplet;
use super::query_syntax::{self, LabelSelector, ListOrder, StateList, UtcTime, UtcTimeList};

/// Query of `GET /v3/droplets`. Lists are comma-separated; a parameter not named here is 400.
///
/// The server reads the raw query (`ListQuery`); this struct documents it.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct DropletListParams {
    /// Droplet guids to include.
    pub guids: Option<String>,
    /// Droplet states to include, e.g. `STAGED,FAILED`.
    pub states: Option<StateList>,
    /// App guids whose droplets to include.
    pub app_guids: Option<String>,
    #[serde(flatten)]
    pub filters: ListFilters,
}

/// Query of `GET /v3/apps/{guid}/droplets`: the filters of `GET /v3/droplets` but `app_guids`
/// (the app is in the path), and `current`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct AppDropletListParams {
    /// Droplet guids to include.
    pub guids: Option<String>,
    /// Droplet states to include, e.g. `STAGED,FAILED`.
    pub states: Option<StateList>,
    /// `true`: only the app's current droplet. This service keeps no apps, so no droplet is an
    /// app's current one and the list is empty; `false` (the default) lists them all.
    pub current: Option<bool>,
    #[serde(flatten)]
    pub filters: ListFilters,
}

/// The parameters both droplet lists take: labels, timestamps, paging and order.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct ListFilters {
    /// Droplets whose labels meet every requirement.
    pub label_selector: Option<LabelSelector>,
    /// Droplets created at one of these times.
    pub created_ats: Option<UtcTimeList>,
    /// Droplets created before this time.
    #[serde(rename = "created_ats[lt]")]
    pub created_before: Option<UtcTime>,
    /// Droplets created at or before this time.
    #[serde(rename = "created_ats[lte]")]
    pub created_at_or_before: Option<UtcTime>,
    /// Droplets created after this time.
    #[serde(rename = "created_ats[gt]")]
    pub created_after: Option<UtcTime>,
    /// Droplets created at or after this time.
    #[serde(rename = "created_ats[gte]")]
    pub created_at_or_after: Option<UtcTime>,
    /// Droplets last updated at one of these times.
    pub updated_ats: Option<UtcTimeList>,
    /// Droplets last updated before this time.
    #[serde(rename = "updated_ats[lt]")]
    pub updated_before: Option<UtcTime>,
    /// Droplets last updated at or before this time.
    #[serde(rename = "updated_ats[lte]")]
    pub updated_at_or_before: Option<UtcTime>,
    /// Droplets last updated after this time.
    #[serde(rename = "updated_ats[gt]")]
    pub updated_after: Option<UtcTime>,
    /// Droplets last updated at or after this time.
    #[serde(rename = "updated_ats[gte]")]
    pub updated_at_or_after: Option<UtcTime>,
    /// Page to show, from 1 (the default) to 2147483647.
    #[serde(default)]
    #[schemars(schema_with = "query_syntax::page")]
    pub page: Option<u64>,
    /// Droplets per page, 1 to 5000; 50 by default.
    #[serde(default)]
    #[schemars(schema_with = "query_syntax::per_page")]
    pub per_page: Option<u64>,
    /// The order, `created_at` by default.
    pub order_by: Option<ListOrder>,
}

/// A page of droplets.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct DropletList {
    pub pagination: Pagination,
    pub resources: Vec<Droplet>,
}

/// Where a page is in a list; every href is absolute and carries the list's query.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Pagination {
    pub total_results: u64,
    pub total_pages: u64,
    pub first: PageLink,
    pub last: PageLink,
    pub next: Option<PageLink>,
    pub previous: Option<PageLink>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct PageLink {
    /// Absolute URL.
    pub href: String,
}
