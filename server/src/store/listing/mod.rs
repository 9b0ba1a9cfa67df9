//! Listing droplets: the list query the store answers (filters, order, page), how it is
//! answered at hundreds of thousands of droplets (`plan`), and the SQL it becomes (`sql`).
//! Parsing a request's query parameters into it is `crate::droplets::listing`'s.
//!
//! A list costs what its page and its matches cost, not what the table holds: the total comes
//! from the counters (`super::counts`) or from the smallest set of droplets known to hold every
//! match, and the page from an index walked in the list's order, or from that set when a walk
//! would pass over more droplets than the set holds.

mod plan;
mod sql;
#[cfg(test)]
mod tests;

use super::records::{DropletRecord, droplet_from_row};
use super::{MetadataStore, StoreError};

/// One page of droplets, filtered and ordered.
#[derive(Clone, Debug)]
pub struct DropletListQuery {
    pub filter: DropletFilter,
    /// 1-based.
    pub page: u64,
    pub per_page: u64,
    pub order_by: OrderBy,
    pub descending: bool,
}

impl Default for DropletListQuery {
    fn default() -> Self {
        DropletListQuery {
            filter: DropletFilter::default(),
            page: 1,
            per_page: 50,
            order_by: OrderBy::CreatedAt,
            descending: false,
        }
    }
}

/// What droplets must satisfy to be listed: every requirement holds.
#[derive(Clone, Debug, Default)]
pub struct DropletFilter {
    pub guids: Option<Vec<String>>,
    pub states: Option<Vec<String>>,
    pub app_guids: Option<Vec<String>>,
    pub labels: Vec<LabelRequirement>,
    pub created_at: Vec<TimeFilter>,
    pub updated_at: Vec<TimeFilter>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderBy {
    CreatedAt,
    UpdatedAt,
}

/// One label selector requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelRequirement {
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A time filter on `created_at` or `updated_at` (Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeFilter {
    Equals(Vec<i64>),
    Before(i64),
    AtOrBefore(i64),
    After(i64),
    AtOrAfter(i64),
}

impl MetadataStore {
    /// One page of the droplets matching `query`, and the exact number of all matches.
    pub async fn list_droplets(
        &self,
        query: &DropletListQuery,
    ) -> Result<(u64, Vec<DropletRecord>), StoreError> {
        let known = plan::KnownCounts::read(self, &query.filter).await?;
        let total = match plan::count(&query.filter, &known) {
            plan::Count::Known(total) => total,
            plan::Count::Query(sql) => sql.count(&self.pool).await?,
            plan::Count::AllBut(all, sql) => all.saturating_sub(sql.count(&self.pool).await?),
        };
        let offset = (query.page - 1).saturating_mul(query.per_page);
        if offset >= total {
            return Ok((total, Vec::new()));
        }
        let page = plan::page(query, offset, total, &known);
        let rows = page.fetch_all(&self.pool).await?;
        let droplets = rows.iter().map(droplet_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok((total, droplets))
    }
}
