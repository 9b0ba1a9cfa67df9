//! What a droplet's two times let a list skip. A droplet is updated at or after its creation
//! (the store's writes keep `updated_at >= created_at`), and most are updated within a day of it
//! (uploaded, staged or failed); those updated later ("late": a label changed, an upload days
//! after the droplet) are indexed apart (migration 11). So a range on one time bounds the other:
//!
//! - none created after a range of update times ends was updated in it, and none updated before
//!   a range of creation times begins was created in it (`implied`);
//! - of the droplets created before a range of update times begins, only those created within
//!   the day before it and the late ones can be in it; likewise, of those updated after a range
//!   of creation times ends, those updated within the day after it and the late ones (`arms`).

use super::query::{DropletFilter, DropletListQuery, OrderBy, TimeFilter};
use crate::store::counts::TimeRange;

/// A droplet updated more than this many seconds after its creation is late. Migration 11's
/// partial indexes hold the late droplets with `updated_at > created_at + 86400`, and a
/// statement must spell the condition the same way for the databases to use them ([`LATE`]).
pub const LATE_AFTER_SECONDS: i64 = 86_400;

/// The late droplets' condition, as the partial indexes spell it.
pub const LATE: &str = "d.updated_at > d.created_at + 86400";

/// The filter as one time range, if it is one: comparisons on one of the times, with
/// nothing else but states.
pub fn time_range(filter: &DropletFilter) -> Option<TimeRange> {
    let others = filter.guids.is_some() || filter.app_guids.is_some();
    let (column, times) = match (&filter.created_at[..], &filter.updated_at[..]) {
        (times, []) if !times.is_empty() => ("created_at", times),
        ([], times) if !times.is_empty() => ("updated_at", times),
        _ => return None,
    };
    if others
        || !filter.labels.is_empty()
        || times.iter().any(|t| matches!(t, TimeFilter::Equals(_)))
    {
        return None;
    }
    let (from, to) = bounds(times);
    Some(TimeRange { column, from, to, states: filter.states.clone() })
}

/// The first and last time that meet every one of `times`, where they bound it.
fn bounds(times: &[TimeFilter]) -> (Option<i64>, Option<i64>) {
    let (mut from, mut to) = (None::<i64>, None::<i64>);
    for time in times {
        let (first, last) = match time {
            TimeFilter::Equals(times) => (times.iter().min().copied(), times.iter().max().copied()),
            TimeFilter::Before(t) => (None, Some(t.saturating_sub(1))),
            TimeFilter::AtOrBefore(t) => (None, Some(*t)),
            TimeFilter::After(t) => (Some(t.saturating_add(1)), None),
            TimeFilter::AtOrAfter(t) => (Some(*t), None),
        };
        from = from.max(first);
        to = match (to, last) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    (from, to)
}

/// The filter with the bounds its times imply for the other time: created at or before the
/// last update time it allows, updated at or after the first creation time. A walk of either
/// time's index then starts and ends where matches can be.
pub fn implied(filter: &DropletFilter) -> DropletFilter {
    let mut filter = filter.clone();
    if let (_, Some(last)) = bounds(&filter.updated_at) {
        filter.created_at.push(TimeFilter::AtOrBefore(last));
    }
    if let (Some(first), _) = bounds(&filter.created_at) {
        filter.updated_at.push(TimeFilter::AtOrAfter(first));
    }
    filter
}

/// Whether the filter is time ranges alone, all on the column the list is not ordered by.
pub fn only_ranges_off_the_order(query: &DropletListQuery) -> bool {
    let filter = &query.filter;
    let (on_order, off_order) = match query.order_by {
        OrderBy::CreatedAt => (&filter.created_at, &filter.updated_at),
        OrderBy::UpdatedAt => (&filter.updated_at, &filter.created_at),
    };
    let others = filter.guids.is_some()
        || filter.app_guids.is_some()
        || filter.states.is_some()
        || !filter.labels.is_empty();
    !others && on_order.is_empty() && !off_order.is_empty()
}

/// With only a time range off the list's order, the range of the order's column that holds the
/// droplets outside the range's implied bounds (`implied`) that a walk passes before the first
/// match: those created before the range of update times begins (ordered by creation,
/// ascending), or updated after the range of creation times ends (by update, descending).
pub fn passed_by_walk(query: &DropletListQuery) -> Option<TimeRange> {
    let range = time_range(&query.filter).filter(|_| only_ranges_off_the_order(query))?;
    let (from, to) = match (query.order_by, query.descending) {
        (OrderBy::CreatedAt, false) => (None, Some(range.from?.saturating_sub(1))),
        (OrderBy::UpdatedAt, true) => (Some(range.to?.saturating_add(1)), None),
        _ => return None,
    };
    Some(TimeRange { column: order_column(query.order_by), from, to, states: None })
}

/// One part of a list's matches, a range of the order's column (and the late droplets alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arm {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub late: bool,
}

/// With only a time range off the list's order that has the bound a walk would pass droplets
/// to reach (see `passed_by_walk`), its matches as three disjoint ranges of the order's column:
/// inside the range's implied bounds (nearly all of it matches), the day beyond the bound
/// (droplets updated within a day of their creation), and past that, the late droplets alone.
pub fn arms(query: &DropletListQuery) -> Option<[Arm; 3]> {
    let range = time_range(&query.filter).filter(|_| only_ranges_off_the_order(query))?;
    let inside = Arm { from: range.from, to: range.to, late: false };
    let day = LATE_AFTER_SECONDS;
    Some(match query.order_by {
        OrderBy::CreatedAt => {
            let first = range.from?;
            [
                inside,
                Arm { from: Some(first - day), to: Some(first - 1), late: false },
                Arm { from: None, to: Some(first - day - 1), late: true },
            ]
        }
        OrderBy::UpdatedAt => {
            let last = range.to?;
            [
                inside,
                Arm { from: Some(last + 1), to: Some(last + day), late: false },
                Arm { from: Some(last + day + 1), to: None, late: true },
            ]
        }
    })
}

pub fn order_column(order_by: OrderBy) -> &'static str {
    match order_by {
        OrderBy::CreatedAt => "created_at",
        OrderBy::UpdatedAt => "updated_at",
    }
}
