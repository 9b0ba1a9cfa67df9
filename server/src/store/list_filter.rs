//! Listing droplets: the list query the store answers (filters, order, page) and the SQL it
//! becomes. Parsing a request's query parameters into it is `crate::droplets::listing`'s.

use sqlx::Row;

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
        let (clause, binds) = where_clause(&query.filter);
        let count_sql = format!("SELECT COUNT(*) AS n FROM droplets d{clause}");
        let mut count = sqlx::query(&count_sql);
        for bind in &binds {
            count = bind.bind_to(count);
        }
        let total: i64 = count.fetch_one(&self.pool).await?.try_get("n")?;
        let direction = if query.descending { "DESC" } else { "ASC" };
        let column = match query.order_by {
            OrderBy::CreatedAt => "created_at",
            OrderBy::UpdatedAt => "updated_at",
        };
        let n = binds.len();
        let sql = format!(
            "SELECT d.* FROM droplets d{clause} ORDER BY d.{column} {direction}, d.guid {direction} \
             LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut page = sqlx::query(&sql);
        for bind in &binds {
            page = bind.bind_to(page);
        }
        let offset = (query.page - 1).saturating_mul(query.per_page);
        let rows = page
            .bind(query.per_page as i64)
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        let droplets = rows.iter().map(droplet_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok((total as u64, droplets))
    }
}

/// A value bound to a list query.
enum Bind {
    Text(String),
    Int(i64),
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

impl Bind {
    fn bind_to<'q>(&self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        match self {
            Bind::Text(text) => query.bind(text.clone()),
            Bind::Int(n) => query.bind(*n),
        }
    }
}

/// ` WHERE ...` (or nothing) over `droplets d` for a filter, with its bind values for `$1..`.
fn where_clause(filter: &DropletFilter) -> (String, Vec<Bind>) {
    let mut clauses = Vec::new();
    let mut binds = Vec::new();
    let placeholders = |binds: &mut Vec<Bind>, values: Vec<Bind>| -> String {
        let list: Vec<String> = values
            .into_iter()
            .map(|value| {
                binds.push(value);
                format!("${}", binds.len())
            })
            .collect();
        list.join(", ")
    };
    let text = |values: &[String]| values.iter().cloned().map(Bind::Text).collect::<Vec<_>>();
    for (column, values) in
        [("guid", &filter.guids), ("state", &filter.states), ("app_guid", &filter.app_guids)]
    {
        if let Some(values) = values {
            clauses.push(format!("d.{column} IN ({})", placeholders(&mut binds, text(values))));
        }
    }
    for (column, filters) in
        [("created_at", &filter.created_at), ("updated_at", &filter.updated_at)]
    {
        for time in filters {
            let (operator, values) = match time {
                TimeFilter::Equals(times) => ("IN", times.iter().map(|t| Bind::Int(*t)).collect()),
                TimeFilter::Before(t) => ("<", vec![Bind::Int(*t)]),
                TimeFilter::AtOrBefore(t) => ("<=", vec![Bind::Int(*t)]),
                TimeFilter::After(t) => (">", vec![Bind::Int(*t)]),
                TimeFilter::AtOrAfter(t) => (">=", vec![Bind::Int(*t)]),
            };
            let values = placeholders(&mut binds, values);
            clauses.push(match operator {
                "IN" => format!("d.{column} IN ({values})"),
                _ => format!("d.{column} {operator} {values}"),
            });
        }
    }
    for requirement in &filter.labels {
        let (negated, key, values) = match requirement {
            LabelRequirement::Exists(key) => (false, key, None),
            LabelRequirement::NotExists(key) => (true, key, None),
            LabelRequirement::In(key, values) => (false, key, Some(values)),
            LabelRequirement::NotIn(key, values) => (true, key, Some(values)),
        };
        let key = placeholders(&mut binds, vec![Bind::Text(key.clone())]);
        let mut exists = format!(
            "EXISTS (SELECT 1 FROM droplet_labels l WHERE l.droplet_guid = d.guid AND l.key = {key}"
        );
        if let Some(values) = values {
            exists
                .push_str(&format!(" AND l.value IN ({})", placeholders(&mut binds, text(values))));
        }
        exists.push(')');
        clauses.push(if negated { format!("NOT {exists}") } else { exists });
    }
    let clause = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (clause, binds)
}
