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
