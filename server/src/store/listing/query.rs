//! The list query the store answers: filters, order, page.

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

/// The droplets (in `states`) whose `column` is within `from..=to` (unbounded where `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub column: &'static str,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub states: Option<Vec<String>>,
}

impl TimeRange {
    /// The filter as one time range, if it is one: comparisons on one of the times, with
    /// nothing else but states.
    pub fn of(filter: &DropletFilter) -> Option<TimeRange> {
        let others = filter.guids.is_some() || filter.app_guids.is_some();
        let (column, times) = match (&filter.created_at[..], &filter.updated_at[..]) {
            (times, []) if !times.is_empty() => ("created_at", times),
            ([], times) if !times.is_empty() => ("updated_at", times),
            _ => return None,
        };
        if others || !filter.labels.is_empty() {
            return None;
        }
        let mut range = TimeRange { column, from: None, to: None, states: filter.states.clone() };
        for time in times {
            let (from, to) = match *time {
                TimeFilter::Equals(_) => return None,
                TimeFilter::Before(t) => (None, Some(t.saturating_sub(1))),
                TimeFilter::AtOrBefore(t) => (None, Some(t)),
                TimeFilter::After(t) => (Some(t.saturating_add(1)), None),
                TimeFilter::AtOrAfter(t) => (Some(t), None),
            };
            range.from = range.from.max(from);
            range.to = match (range.to, to) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Some(range)
    }
}
