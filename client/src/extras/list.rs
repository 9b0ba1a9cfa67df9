//! Listing droplets with named, typed filters instead of the generated method's positional
//! `Option`s.

use std::num::NonZeroU32;

use uuid::Uuid;

use super::error::ClientError;
use crate::generated::{Client, Error, types};

/// Which droplets [`Client::list_droplets`] asks for. Set only what you need and take the rest
/// from `Default`, which sends no filter (the server's first page of 50, oldest first):
///
/// ```
/// # use droplet_client::{DropletQuery, types::DropletState};
/// # let app = uuid::Uuid::new_v4();
/// let query = DropletQuery {
///     app_guids: vec![app],
///     states: vec![DropletState::Staged],
///     order_by: Some("-created_at".to_owned()),
///     ..DropletQuery::default()
/// };
/// # assert_eq!(query.per_page, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DropletQuery {
    /// Only these droplets.
    pub guids: Vec<Uuid>,
    /// Only droplets of these apps.
    pub app_guids: Vec<Uuid>,
    /// Only droplets in these states.
    pub states: Vec<types::DropletState>,
    /// Label requirements, joined by commas: `key`, `!key`, `key=value`, `key!=value`,
    /// `key in (v1,v2)`, `key notin (v1,v2)`.
    pub label_selector: Option<String>,
    /// Creation times as the API takes them: `YYYY-MM-DDThh:mm:ssZ` values joined by commas.
    pub created_ats: Option<String>,
    /// Creation times before or after a time (`created_ats[lt]` and the like).
    pub created: TimeBounds,
    /// Update times, like `created_ats`.
    pub updated_ats: Option<String>,
    /// Update times before or after a time (`updated_ats[lt]` and the like).
    pub updated: TimeBounds,
    /// `created_at` (the default) or `updated_at`, with `-` first for descending order.
    pub order_by: Option<String>,
    /// The page to show, from 1.
    pub page: Option<u32>,
    /// Droplets per page, 1 to 5000 (50 by default).
    pub per_page: Option<u32>,
}

/// Bounds on a droplet's creation or update time, each a `YYYY-MM-DDThh:mm:ssZ` time; set any of
/// them, and the droplets must meet all that are set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeBounds {
    /// Strictly before this time (`[lt]`).
    pub before: Option<String>,
    /// At or before this time (`[lte]`).
    pub at_or_before: Option<String>,
    /// Strictly after this time (`[gt]`).
    pub after: Option<String>,
    /// At or after this time (`[gte]`).
    pub at_or_after: Option<String>,
}

/// A [`TimeBounds`] in the types the generated method takes: `[gt]`, `[gte]`, `[lt]`, `[lte]`.
type Bounds = [Option<types::UtcTime>; 4];

impl TimeBounds {
    fn parse(&self, name: &str) -> Result<Bounds, ClientError> {
        let one =
            |op: &str, value: &Option<String>| parse(&format!("{name}[{op}]"), value.as_deref());
        Ok([
            one("gt", &self.after)?,
            one("gte", &self.at_or_after)?,
            one("lt", &self.before)?,
            one("lte", &self.at_or_before)?,
        ])
    }
}

impl Client {
    /// One page of the droplets `query` selects (`GET /v3/droplets`); its `pagination` says how
    /// many there are and links the other pages. A filter the API's syntax does not allow is
    /// refused before anything is sent.
    pub async fn list_droplets(
        &self,
        query: &DropletQuery,
    ) -> Result<types::DropletList, ClientError> {
        let list = |items: Vec<String>| (!items.is_empty()).then(|| items.join(","));
        let guids = list(query.guids.iter().map(Uuid::to_string).collect());
        let app_guids = list(query.app_guids.iter().map(Uuid::to_string).collect());
        let states = list(query.states.iter().map(ToString::to_string).collect());
        let states: Option<types::StateList> = parse("states", states.as_deref())?;
        let label_selector = parse("label_selector", query.label_selector.as_deref())?;
        let created_ats = parse("created_ats", query.created_ats.as_deref())?;
        let updated_ats = parse("updated_ats", query.updated_ats.as_deref())?;
        let [created_gt, created_gte, created_lt, created_lte] =
            query.created.parse("created_ats")?;
        let [updated_gt, updated_gte, updated_lt, updated_lte] =
            query.updated.parse("updated_ats")?;
        let order_by = parse("order_by", query.order_by.as_deref())?;
        let page = positive("page", query.page)?;
        let per_page = positive("per_page", query.per_page)?;
        let page = self
            .droplet_list(
                app_guids.as_deref(),
                created_ats.as_ref(),
                created_gt.as_ref(),
                created_gte.as_ref(),
                created_lt.as_ref(),
                created_lte.as_ref(),
                guids.as_deref(),
                label_selector.as_ref(),
                order_by.as_ref(),
                page,
                per_page,
                states.as_ref(),
                updated_ats.as_ref(),
                updated_gt.as_ref(),
                updated_gte.as_ref(),
                updated_lt.as_ref(),
                updated_lte.as_ref(),
            )
            .await?;
        Ok(page.into_inner())
    }
}

fn invalid(name: &str, why: impl std::fmt::Display) -> ClientError {
    ClientError::from(Error::InvalidRequest(format!("{name}: {why}")))
}

/// A filter in the type the generated method takes, which checks the API's syntax.
fn parse<T>(name: &str, value: Option<&str>) -> Result<Option<T>, ClientError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    value.map(str::parse).transpose().map_err(|e| invalid(name, e))
}

fn positive(name: &str, value: Option<u32>) -> Result<Option<NonZeroU32>, ClientError> {
    value.map(|v| NonZeroU32::new(v).ok_or_else(|| invalid(name, "must be 1 or more"))).transpose()
}
