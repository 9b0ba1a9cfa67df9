//! Listing droplets: the list query the store answers (filters, order, page), how it is
//! answered at hundreds of thousands of droplets (`plan`, with what a droplet's two times rule
//! out in `times`), and the SQL it becomes (`sql`).
//! Parsing a request's query parameters into it is `crate::droplets::listing`'s.
//!
//! A list costs what its page and its matches cost, not what the table holds: the total comes
//! from the counters (`super::counts`) or from the smallest set of droplets known to hold every
//! match, and the page from an index walked in the list's order, or from that set when a walk
//! would pass over more droplets than the set holds.

mod plan;
pub mod query;
mod sql;
#[cfg(test)]
mod tests;
mod times;

pub use query::{DropletListQuery, LabelRequirement, OrderBy, TimeFilter};

use super::records::{DropletRecord, droplet_from_row};
use super::{MetadataStore, StoreError};

impl MetadataStore {
    /// One page of the droplets matching `query`, and the exact number of all matches.
    pub async fn list_droplets(
        &self,
        query: &DropletListQuery,
    ) -> Result<(u64, Vec<DropletRecord>), StoreError> {
        let known = plan::KnownCounts::read(self, query).await?;
        let total = match plan::count(&query.filter, &known) {
            plan::Count::Known(total) => total,
            plan::Count::Range(range) => self.count_in_range(&range).await?,
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
