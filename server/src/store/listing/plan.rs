//! How a list is answered. The counters give, for nothing, how many droplets are in the
//! filter's states and how many hold each label requirement's positive form (`key`, or `key`
//! with one of its values); from those this picks statements whose cost is bounded by the page
//! or by the smallest of those sets, never by the table:
//!
//! - the total is a counter, or a counter less another (a negated requirement), or a count of
//!   the smallest set known to hold every match (a label's droplets, a state's, the guids or
//!   the app asked for, a time range), checked against the rest of the filter;
//! - the page walks the index of the list's order (with the state in front for one state) and
//!   stops after the page, unless the matches are so sparse that the walk would pass over more
//!   droplets than the smallest label set holds: then the page is that set, sorted.
//!
//! Either way only the page's guids are ordered and paged (from an index, for a walk), and the
//! page's rows are read last, by guid.

use super::query::{DropletFilter, DropletListQuery, OrderBy};
use super::sql::{Index, Sql, conditions, labelled};
use crate::store::{MetadataStore, StoreError};

/// What the counters say about a filter (and which database said it).
#[derive(Clone, Debug)]
pub struct KnownCounts {
    pub sqlite: bool,
    pub all: u64,
    /// Droplets in the filter's states (all of them when it names none).
    pub in_states: u64,
    /// For each label requirement, in order, the droplets holding its positive form.
    pub labelled: Vec<u64>,
}

impl KnownCounts {
    pub async fn read(store: &MetadataStore, filter: &DropletFilter) -> Result<Self, StoreError> {
        let all = store.count_in_states(None).await?;
        let in_states = match &filter.states {
            Some(states) => store.count_in_states(Some(states)).await?,
            None => all,
        };
        let mut labelled = Vec::with_capacity(filter.labels.len());
        for requirement in &filter.labels {
            let (_, key, values) = requirement.parts();
            labelled.push(store.count_labelled(key, values).await?);
        }
        Ok(KnownCounts { sqlite: store.single_process, all, in_states, labelled })
    }
}

/// How a list's total is found.
pub enum Count {
    Known(u64),
    /// `SELECT COUNT(*) AS n ...`.
    Query(Sql),
    /// The first number less what the statement counts.
    AllBut(u64, Sql),
}

/// Whether the filter narrows by something the counters do not count: these droplets or apps,
/// or a time.
fn narrows_rows(filter: &DropletFilter) -> bool {
    filter.guids.is_some()
        || filter.app_guids.is_some()
        || !filter.created_at.is_empty()
        || !filter.updated_at.is_empty()
}

/// The positive label requirement held by the fewest droplets, with their number.
fn smallest_label_set(filter: &DropletFilter, known: &KnownCounts) -> Option<(usize, u64)> {
    let positive = filter.labels.iter().zip(&known.labelled).enumerate();
    positive.filter(|(_, (r, _))| !r.parts().0).map(|(i, (_, n))| (i, *n)).min_by_key(|(_, n)| *n)
}

pub fn count(filter: &DropletFilter, known: &KnownCounts) -> Count {
    let by_guid = filter.guids.is_some() || filter.app_guids.is_some();
    if !narrows_rows(filter) {
        match filter.labels.as_slice() {
            [] => return Count::Known(known.in_states),
            [requirement] if filter.states.is_none() => {
                let held = known.labelled[0];
                let negated = requirement.parts().0;
                return Count::Known(if negated { known.all.saturating_sub(held) } else { held });
            }
            _ => {}
        }
    }
    if !by_guid && let Some((driver, held)) = smallest_label_set(filter, known) {
        if held <= known.in_states {
            return Count::Query(count_from_label(filter, driver, known));
        }
    } else if !by_guid && !narrows_rows(filter) {
        // Only negated requirements (and maybe states): the droplets in the states, less those
        // in the states that hold any of the requirements' positive forms, which costs the
        // size of those label sets and never a walk of the table.
        return Count::AllBut(known.in_states, count_holding_any(filter, known));
    }
    // The guids, the apps, a state or a time range: the database takes the narrowest index.
    let mut sql = Sql::new(known.sqlite);
    let conditions = conditions(&mut sql, filter, None, Index::Any);
    sql.push(&format!("SELECT COUNT(*) AS n FROM droplets d WHERE {conditions}"));
    Count::Query(sql)
}

/// Counts the droplets of label requirement `driver` that meet the rest of the filter.
fn count_from_label(filter: &DropletFilter, driver: usize, known: &KnownCounts) -> Sql {
    let mut sql = Sql::new(known.sqlite);
    let rest = DropletFilter { labels: Vec::new(), ..filter.clone() };
    let column = (narrows_rows(&rest) || rest.states.is_some()).then_some("created_at");
    let from = from_label(&mut sql, filter, driver, column);
    sql.push(&format!("SELECT COUNT(*) AS n FROM ({from}) x"));
    sql
}

/// The droplets of label requirement `driver` that meet the rest of the filter, as rows `guid`
/// (and `column`, if asked for, read with the conditions on the droplet's own row): each
/// droplet is read by key, row by row, as a scalar subquery, which no planner turns into a
/// read of the whole table to hash it.
fn from_label(
    sql: &mut Sql,
    filter: &DropletFilter,
    driver: usize,
    column: Option<&str>,
) -> String {
    let (_, key, values) = filter.labels[driver].parts();
    let set = labelled(sql, key, values);
    let labels = DropletFilter { labels: filter.labels.clone(), ..DropletFilter::default() };
    let label_conditions = conditions(sql, &labels, Some(driver), Index::None("m.droplet_guid"));
    let selected = format!("SELECT m.droplet_guid AS guid FROM ({set}) m WHERE {label_conditions}");
    let Some(column) = column else { return selected };
    let rest = DropletFilter { labels: Vec::new(), ..filter.clone() };
    let row_conditions = conditions(sql, &rest, None, Index::Any);
    format!(
        "SELECT * FROM (
            SELECT m.droplet_guid AS guid,
                (SELECT d.{column} FROM droplets d
                 WHERE d.guid = m.droplet_guid AND {row_conditions}) AS {column}
            FROM ({set}) m WHERE {label_conditions}) r
         WHERE r.{column} IS NOT NULL"
    )
}

/// Counts the droplets in the filter's states that hold the positive form of any of its
/// (negated) label requirements.
fn count_holding_any(filter: &DropletFilter, known: &KnownCounts) -> Sql {
    let mut sql = Sql::new(known.sqlite);
    let sets: Vec<String> = filter
        .labels
        .iter()
        .map(|requirement| {
            let (_, key, values) = requirement.parts();
            labelled(&mut sql, key, values)
        })
        .collect();
    let union = sets.join(" UNION ");
    match &filter.states {
        None => sql.push(&format!("SELECT COUNT(*) AS n FROM ({union}) m")),
        Some(states) => {
            // Each droplet's state read by key, row by row (see `from_label`).
            let states = sql.texts(states);
            sql.push(&format!(
                "SELECT COUNT(*) AS n FROM ({union}) m
                 WHERE (SELECT 1 FROM droplets d
                        WHERE d.guid = m.droplet_guid AND d.state IN ({states})) IS NOT NULL"
            ))
        }
    };
    sql
}

/// Where a page's droplets are drawn from.
/// (Ordered by preference when two cost the same: a walk first.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// The index of the list's order, walked until the page is full (with one state, the
    /// index with that state in front); every other condition is checked on the way.
    Walk,
    /// The droplets holding label requirement `i`'s positive form, sorted.
    Label(usize),
    /// The droplets in the filter's states (more than one), sorted.
    States,
    /// The guids or the app asked for (few droplets), sorted.
    Named,
}

/// Picks where the page comes from: a walk passes over about `(offset + per_page) × walked /
/// total` droplets (the matches spread evenly over the walked index), a set costs its size.
pub fn source(query: &DropletListQuery, offset: u64, total: u64, known: &KnownCounts) -> Source {
    let filter = &query.filter;
    if filter.guids.is_some() || filter.app_guids.is_some() {
        return Source::Named;
    }
    let states = filter.states.as_ref().map_or(0, Vec::len);
    let walked = if states == 1 { known.in_states } else { known.all };
    let walk = (offset + query.per_page).saturating_mul(walked) / total.max(1);
    let mut best = (walk, Source::Walk);
    if let Some((driver, held)) = smallest_label_set(filter, known) {
        best = best.min((held, Source::Label(driver)));
    }
    if states > 1 {
        best = best.min((known.in_states, Source::States));
    }
    best.1
}

/// The statement that reads page `offset / per_page` of `total` matches.
pub fn page(query: &DropletListQuery, offset: u64, total: u64, known: &KnownCounts) -> Sql {
    let filter = &query.filter;
    let mut sql = Sql::new(known.sqlite);
    let (column, direction) = order(query);
    let inner = match source(query, offset, total, known) {
        Source::Label(driver) => {
            let from = from_label(&mut sql, filter, driver, Some(column));
            // The rows come out of the subquery as `d`, for the order below.
            format!("SELECT d.guid FROM ({from}) d WHERE 1 = 1")
        }
        Source::States | Source::Named => {
            let conditions = conditions(&mut sql, filter, None, Index::Any);
            format!("SELECT d.guid FROM droplets d WHERE {conditions}")
        }
        Source::Walk => {
            let conditions = conditions(&mut sql, filter, None, Index::Order(column));
            format!("SELECT d.guid FROM droplets d WHERE {conditions}")
        }
    };
    let (limit, offset) = (sql.int(query.per_page as i64), sql.int(offset as i64));
    sql.push(&format!(
        "SELECT o.* FROM ({inner} ORDER BY d.{column} {direction}, d.guid {direction}
            LIMIT {limit} OFFSET {offset}) p
         CROSS JOIN droplets o WHERE o.guid = p.guid
         ORDER BY o.{column} {direction}, o.guid {direction}"
    ));
    sql
}

fn order(query: &DropletListQuery) -> (&'static str, &'static str) {
    let column = match query.order_by {
        OrderBy::CreatedAt => "created_at",
        OrderBy::UpdatedAt => "updated_at",
    };
    (column, if query.descending { "DESC" } else { "ASC" })
}
