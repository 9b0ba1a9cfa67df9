//! A statement being written, with the values bound to its `$N` placeholders, for the
//! statements the store writes from parts (lists, counts).

use sqlx::Row;
use sqlx::any::AnyRow;

/// A value bound to a statement.
#[derive(Clone, Debug)]
enum Bind {
    Text(String),
    Int(i64),
}

/// A statement being written, with the values bound to its `$N` placeholders.
#[derive(Clone, Debug)]
pub struct Sql {
    pub text: String,
    binds: Vec<Bind>,
    /// SQLite, or else PostgreSQL: where their planners need telling apart.
    pub sqlite: bool,
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

impl Sql {
    pub fn new(sqlite: bool) -> Sql {
        Sql { text: String::new(), binds: Vec::new(), sqlite }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Binds a text value; returns its placeholder.
    pub fn text(&mut self, value: &str) -> String {
        self.binds.push(Bind::Text(value.to_owned()));
        format!("${}", self.binds.len())
    }

    pub fn int(&mut self, value: i64) -> String {
        self.binds.push(Bind::Int(value));
        format!("${}", self.binds.len())
    }

    /// Binds a list of text values; returns `$a, $b, ...`.
    pub fn texts(&mut self, values: &[String]) -> String {
        values.iter().map(|value| self.text(value)).collect::<Vec<_>>().join(", ")
    }

    /// The same statement behind `prefix` (`EXPLAIN ...`).
    #[cfg(test)]
    pub fn prefixed(&self, prefix: &str) -> Sql {
        Sql { text: format!("{prefix}{}", self.text), ..self.clone() }
    }

    pub fn query(&self) -> AnyQuery<'_> {
        let mut query = sqlx::query(&self.text);
        for bind in &self.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.clone()),
                Bind::Int(n) => query.bind(*n),
            };
        }
        query
    }

    /// Runs a `SELECT COUNT(*) AS n ...`.
    pub async fn count(&self, pool: &sqlx::AnyPool) -> Result<u64, sqlx::Error> {
        let n: i64 = self.query().fetch_one(pool).await?.try_get("n")?;
        Ok(n.max(0) as u64)
    }

    pub async fn fetch_all(&self, pool: &sqlx::AnyPool) -> Result<Vec<AnyRow>, sqlx::Error> {
        self.query().fetch_all(pool).await
    }
}
