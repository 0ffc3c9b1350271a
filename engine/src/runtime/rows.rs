//! Reading rows that a query returns in the backend's shape: on SQLite one aggregated JSON
//! array per query (one round trip to the connection's thread), on PostgreSQL plain rows.

use crate::db::Backend;
use crate::error::Result;
use sqlx::Row;

/// Rows of a query that returns one aggregated `rows` JSON array on SQLite (see
/// [`Tx::load`] for why) and plain rows on PostgreSQL. On SQLite each row is itself a JSON
/// array of the columns in the order of `T`'s fields (shorter than an object with keys).
///
/// [`Tx::load`]: super::state::Tx::load
pub(crate) fn decode_rows<T: serde::de::DeserializeOwned>(
    backend: Backend,
    rows: &[sqlx::any::AnyRow],
    from_row: fn(&sqlx::any::AnyRow) -> Result<T>,
) -> Result<Vec<T>> {
    match backend {
        Backend::Sqlite => match rows.first() {
            Some(row) => Ok(serde_json::from_str(&row.try_get::<String, _>("rows")?)?),
            None => Ok(Vec::new()),
        },
        Backend::Postgres => rows.iter().map(from_row).collect(),
    }
}
