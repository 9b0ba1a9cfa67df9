//! The SQL of a list: each filter requirement as a condition on a droplet row `d`.

use super::query::{DropletFilter, LabelRequirement, TimeFilter};
pub use crate::store::statement::Sql;

/// Which of the droplets' indexes a statement's conditions may lead the database to.
#[derive(Clone, Copy)]
pub enum Index {
    /// Whichever the database finds best.
    Any,
    /// Only the list order's (`created_at` or `updated_at`), and the one with the state in
    /// front when the filter names one state: a walk in order, which stops at the page's end.
    /// SQLite plans without statistics and would take a state or time index for any condition
    /// on one, and sort all its matches: there conditions on other columns are written with
    /// its documented unary `+`, which keeps a term from any index. PostgreSQL's statistics
    /// tell it when a walk is cheaper (and an expression would hide them from it).
    Order(&'static str),
    /// No droplet row: the statement reads label rows of the droplet named here.
    None(&'static str),
}

/// The conditions that every listed droplet meets, joined by `AND` (or `1 = 1`), but for
/// `skip`: the label requirement the statement already draws its droplets from.
pub fn conditions(
    sql: &mut Sql,
    filter: &DropletFilter,
    skip: Option<usize>,
    index: Index,
) -> String {
    let mut clauses = Vec::new();
    let one_state = filter.states.as_ref().is_some_and(|states| states.len() == 1);
    let (walked, guid) = match index {
        Index::Any => (None, "d.guid"),
        Index::Order(column) => (Some(column), "d.guid"),
        Index::None(guid) => (Some(""), guid),
    };
    for (column, values) in
        [("guid", &filter.guids), ("app_guid", &filter.app_guids), ("state", &filter.states)]
    {
        if let Some(values) = values {
            let served = walked.is_none() || (column == "state" && one_state) || !sql.sqlite;
            let unary = if served { "" } else { "+" };
            clauses.push(format!("{unary}d.{column} IN ({})", sql.texts(values)));
        }
    }
    for (column, filters) in
        [("created_at", &filter.created_at), ("updated_at", &filter.updated_at)]
    {
        let served = walked.is_none_or(|walked| walked == column) || !sql.sqlite;
        let column = if served { format!("d.{column}") } else { format!("+d.{column}") };
        for time in filters {
            clauses.push(match time {
                TimeFilter::Equals(times) => {
                    let list: Vec<String> = times.iter().map(|t| sql.int(*t)).collect();
                    format!("{column} IN ({})", list.join(", "))
                }
                TimeFilter::Before(t) => format!("{column} < {}", sql.int(*t)),
                TimeFilter::AtOrBefore(t) => format!("{column} <= {}", sql.int(*t)),
                TimeFilter::After(t) => format!("{column} > {}", sql.int(*t)),
                TimeFilter::AtOrAfter(t) => format!("{column} >= {}", sql.int(*t)),
            });
        }
    }
    for (index, requirement) in filter.labels.iter().enumerate() {
        if Some(index) != skip {
            clauses.push(label_condition(sql, requirement, guid));
        }
    }
    if clauses.is_empty() { "1 = 1".to_owned() } else { clauses.join(" AND ") }
}

/// A label requirement on the droplet `guid`: a look-up of its label by key. It is written as a
/// scalar subquery (a droplet has at most one label per key), which both databases run row by
/// row: as `EXISTS`, PostgreSQL may turn it into a join that reads every droplet to hash it.
/// SQLite would look a value up by the primary key `(droplet_guid, key)` and then read the row
/// for the value; the selector index `(key, value, droplet_guid)` answers from the index alone,
/// in half the time (`INDEXED BY` is SQLite's documented way to name it).
fn label_condition(sql: &mut Sql, requirement: &LabelRequirement, guid: &str) -> String {
    let (negated, key, values) = requirement.parts();
    let by_value =
        if sql.sqlite && values.is_some() { " INDEXED BY droplet_labels_selector" } else { "" };
    let mut lookup = format!(
        "(SELECT 1 FROM droplet_labels l{by_value} WHERE l.droplet_guid = {guid} AND l.key = {}",
        sql.text(key)
    );
    if let Some(values) = values {
        lookup.push_str(&format!(" AND l.value IN ({})", sql.texts(values)));
    }
    lookup.push(')');
    format!("{lookup} IS {}NULL", if negated { "" } else { "NOT " })
}

/// The droplets that hold a label requirement's positive form (`key`, or `key` with one of the
/// values), from the label index alone: `SELECT droplet_guid ...`.
pub fn labelled(sql: &mut Sql, key: &str, values: Option<&[String]>) -> String {
    let mut select =
        format!("SELECT droplet_guid FROM droplet_labels WHERE key = {}", sql.text(key));
    if let Some(values) = values {
        select.push_str(&format!(" AND value IN ({})", sql.texts(values)));
    }
    select
}

impl LabelRequirement {
    /// Whether it is negated, its key, and its values (none for a bare key).
    pub fn parts(&self) -> (bool, &str, Option<&[String]>) {
        match self {
            LabelRequirement::Exists(key) => (false, key, None),
            LabelRequirement::NotExists(key) => (true, key, None),
            LabelRequirement::In(key, values) => (false, key, Some(values)),
            LabelRequirement::NotIn(key, values) => (true, key, Some(values)),
        }
    }
}
