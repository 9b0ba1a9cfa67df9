//! The droplet list: its query parameters and a page of it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::droplet::Droplet;

/// Query of `GET /v3/droplets`. Lists are comma-separated; a parameter not named here is 400.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct DropletListParams {
    /// Droplet guids to include.
    pub guids: Option<String>,
    /// Droplet states to include, e.g. `STAGED,FAILED`.
    pub states: Option<String>,
    /// App guids whose droplets to include.
    pub app_guids: Option<String>,
    /// Label requirements, joined by commas: `key`, `!key`, `key=value`, `key==value`,
    /// `key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`.
    pub label_selector: Option<String>,
    /// Creation times (`YYYY-MM-DDThh:mm:ssZ`) to include, comma-separated; or a single time as
    /// `created_ats[lt]`, `created_ats[lte]`, `created_ats[gt]` or `created_ats[gte]`.
    pub created_ats: Option<String>,
    /// Update times, like `created_ats`: a list, or `updated_ats[lt|lte|gt|gte]`.
    pub updated_ats: Option<String>,
    /// Page to show, from 1 (the default).
    pub page: Option<u32>,
    /// Droplets per page, 1 to 5000; 50 by default.
    pub per_page: Option<u32>,
    /// `created_at` (the default), `updated_at`, or either with `-` for descending order.
    pub order_by: Option<String>,
}

/// Query of `GET /v3/apps/{guid}/droplets`: the filters of `GET /v3/droplets` but `app_guids`
/// (the app is in the path), and `current`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct AppDropletListParams {
    /// Droplet guids to include.
    pub guids: Option<String>,
    /// Droplet states to include, e.g. `STAGED,FAILED`.
    pub states: Option<String>,
    /// `true`: only the app's current droplet. This service keeps no apps, so no droplet is an
    /// app's current one and the list is empty; `false` (the default) lists them all.
    pub current: Option<bool>,
    /// Label requirements, as for `GET /v3/droplets`.
    pub label_selector: Option<String>,
    /// Creation times, as for `GET /v3/droplets`: a list, or `created_ats[lt|lte|gt|gte]`.
    pub created_ats: Option<String>,
    /// Update times, as for `GET /v3/droplets`: a list, or `updated_ats[lt|lte|gt|gte]`.
    pub updated_ats: Option<String>,
    /// Page to show, from 1 (the default).
    pub page: Option<u32>,
    /// Droplets per page, 1 to 5000; 50 by default.
    pub per_page: Option<u32>,
    /// `created_at` (the default), `updated_at`, or either with `-` for descending order.
    pub order_by: Option<String>,
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
