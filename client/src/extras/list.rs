//! Listing droplets with named, typed filters instead of the generated method's nine positional
//! `Option`s.

use uuid::Uuid;

use super::error::ClientError;
use crate::generated::{Client, types};

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
    /// Update times, like `created_ats`.
    pub updated_ats: Option<String>,
    /// `created_at` (the default) or `updated_at`, with `-` first for descending order.
    pub order_by: Option<String>,
    /// The page to show, from 1.
    pub page: Option<u32>,
    /// Droplets per page, 1 to 5000 (50 by default).
    pub per_page: Option<u32>,
}

impl Client {
    /// One page of the droplets `query` selects (`GET /v3/droplets`); its `pagination` says how
    /// many there are and links the other pages.
    pub async fn list_droplets(
        &self,
        query: &DropletQuery,
    ) -> Result<types::DropletList, ClientError> {
        let list = |items: Vec<String>| (!items.is_empty()).then(|| items.join(","));
        let guids = list(query.guids.iter().map(Uuid::to_string).collect());
        let app_guids = list(query.app_guids.iter().map(Uuid::to_string).collect());
        let states = list(query.states.iter().map(ToString::to_string).collect());
        let page = self
            .droplet_list(
                app_guids.as_deref(),
                query.created_ats.as_deref(),
                guids.as_deref(),
                query.label_selector.as_deref(),
                query.order_by.as_deref(),
                query.page,
                query.per_page,
                states.as_deref(),
                query.updated_ats.as_deref(),
            )
            .await?;
        Ok(page.into_inner())
    }
}
