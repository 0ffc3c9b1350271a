//! Database access shared by the engine and the application: connecting (SQLite in WAL mode or
//! PostgreSQL, chosen by URL), the embedded migrations, and the small dialect seam.
//!
//! All SQL goes through sqlx's `Any` driver so there is one code path for both backends; the
//! differences (row locks, `SKIP LOCKED`, `BEGIN IMMEDIATE`, `NOTIFY`) live in [`Backend`].

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migration;
use sqlx::Row;
use sqlx::{AnyConnection, AnyPool, Connection, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// The database behind a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (one writer at a time; WAL lets readers run alongside).
    Sqlite,
    /// PostgreSQL (several nodes; row locks with `SKIP LOCKED`).
    Postgres,
}

impl Backend {
    /// The backend a connection URL names.
    pub fn from_url(url: &str) -> Result<Backend, sqlx::Error> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(sqlx::Error::Configuration(
                format!("database URL must start with sqlite: or postgres:, got {url:?}").into(),
            ))
        }
    }

    /// Suffix for a `SELECT` whose rows a transaction is about to change.
    pub fn lock_rows(self) -> &'static str {
        match self {
            // SQLite takes the write lock for the whole database at `BEGIN IMMEDIATE`.
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// Conflict clause for the engine's bulk `INSERT`/`UPDATE` statements: `OR FAIL` on
    /// SQLite, nothing on PostgreSQL.
    ///
    /// With the default (`ABORT`) SQLite must be able to undo one statement inside its
    /// transaction, so it first copies every page a multi-row statement changes into a
    /// statement journal. With `FAIL` a constraint error keeps the statement's earlier rows,
    /// and the error rolls back the whole transaction (every engine write propagates it), so
    /// nothing partial is ever committed and the copies are not needed.
    pub fn or_fail(self) -> &'static str {
        match self {
            Backend::Sqlite => " OR FAIL",
            Backend::Postgres => "",
        }
    }

    /// Rows per multi-row statement of `columns` bound values each: `postgres` rows on
    /// PostgreSQL; on SQLite as many as its limit of 32,766 parameters allows (at most
    /// 2,048), because each statement is a round trip to the connection's thread.
    pub fn chunk_rows(self, postgres: usize, columns: usize) -> usize {
        match self {
            Backend::Sqlite => (32_000 / columns.max(1)).clamp(1, 2048),
            Backend::Postgres => postgres.max(1),
        }
    }

    /// Suffix for claiming rows that other workers may be claiming at the same moment.
    pub fn claim_rows(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// A pool and its backend.
#[derive(Debug, Clone)]
pub struct Db {
    /// The connection pool.
    pub pool: AnyPool,
    /// Which database it talks to.
    pub backend: Backend,
    /// The URL it was opened with (for PostgreSQL `LISTEN` connections).
    pub url: String,
    /// Where [`Db::begin_write`] takes its connection: on a SQLite file, one connection of
    /// its own (see [`Db::connect`]); otherwise `pool`.
    writer: AnyPool,
}

/// The channel on which PostgreSQL nodes announce new ready work to each other.
pub const NOTIFY_CHANNEL: &str = "l2c_engine_work";

/// Pragmas of every SQLite connection.
const SQLITE_PRAGMAS: [&str; 5] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA foreign_keys = ON",
    // Statement journals (the undo of one statement inside a transaction) and other
    // temporary data stay in memory instead of temporary files: a multi-row statement
    // otherwise writes every page it changes to a fresh file first. Nothing durable lives
    // there; the WAL and `synchronous` keep commits durable.
    "PRAGMA temp_store = MEMORY",
];

/// Extra pragmas of the SQLite write connection: a page cache that holds the engine's hot
/// pages (it stays valid between that connection's transactions), and checkpoints every
/// 10,000 WAL pages instead of 1,000, so a page changed by many commits in a row is copied
/// to the database file once instead of after nearly every batch.
const SQLITE_WRITER: [&str; 2] = [
    "PRAGMA cache_size = -65536",
    "PRAGMA wal_autocheckpoint = 10000",
];

/// The engine's own embedded migrations for `backend` (both backends' folders hold the same
/// schema): `migrations/<backend>/engine/`.
pub fn migrations(backend: Backend) -> Vec<Migration> {
    let migrator = match backend {
        Backend::Sqlite => sqlx::migrate!("../migrations/sqlite/engine"),
        Backend::Postgres => sqlx::migrate!("../migrations/postgres/engine"),
    };
    migrator.iter().cloned().collect()
}

impl Db {
    /// Connects to `url` (`sqlite://path?mode=rwc`, `sqlite::memory:` or `postgres://...`).
    ///
    /// SQLite connections use WAL, `synchronous = FULL` (a committed order survives a power
    /// cut; batching keeps the cost of that low), a 10 s busy timeout and foreign keys.
    ///
    /// On a SQLite file, write transactions ([`Db::begin_write`]) go through one connection
    /// of their own, outside `pool` (SQLite runs one writer at a time anyway). A connection's
    /// page cache is dropped whenever another connection has written in between, so
    /// alternating writers would re-read every page from the file; the dedicated writer
    /// keeps its cache. Waiting writers queue for that connection (up to 30 s).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let options = AnyConnectOptions::from_str(url)?;
        let pool_options = |max: u32, extra: &'static [&'static str]| {
            let pool = AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(30));
            if backend != Backend::Sqlite {
                return pool;
            }
            pool.after_connect(move |conn, _meta| {
                Box::pin(async move {
                    for pragma in SQLITE_PRAGMAS.iter().chain(extra) {
                        sqlx::query(*pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
        };
        let pool = pool_options(max_connections, &[])
            .connect_with(options.clone())
            .await?;
        // An in-memory database is private to its connection: keep everything on `pool`.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let writer = if backend == Backend::Sqlite && !in_memory {
            pool_options(1, &SQLITE_WRITER)
                .connect_with(options)
                .await?
        } else {
            pool.clone()
        };
        Ok(Db {
            pool,
            backend,
            url: url.to_string(),
            writer,
        })
    }

    /// Applies the engine's own migrations (its `wf_*` tables): what a program that embeds
    /// only the engine needs. An application with tables of its own applies every crate's
    /// migrations together with [`Db::apply_migrations`] instead.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        self.apply_migrations(migrations(self.backend)).await
    }

    /// Applies `migrations` (any crates', in version order) that are not applied yet.
    pub async fn apply_migrations(
        &self,
        migrations: Vec<Migration>,
    ) -> Result<(), sqlx::migrate::MigrateError> {
        sqlx::migrate::Migrator::with_migrations(migrations)
            .run(&self.pool)
            .await
    }

    /// Versions of `expected` not (successfully) applied to this database, for readiness
    /// probes; an unreadable migrations table is an error.
    pub async fn pending_migrations(
        &self,
        expected: &[Migration],
    ) -> Result<Vec<i64>, sqlx::Error> {
        let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_all(&self.pool)
            .await?;
        let applied = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("version"))
            .collect::<Result<std::collections::HashSet<i64>, _>>()?;
        Ok(expected
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect())
    }

    /// Begins a transaction that will write.
    ///
    /// On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a deferred transaction
    /// that reads first and writes later fails with "database is locked" under concurrency
    /// instead of waiting its turn.
    pub async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// A passive WAL checkpoint on a pool connection (SQLite; a no-op on PostgreSQL): copies
    /// what it can of the WAL into the database file without waiting for, or blocking,
    /// readers and the writer. The write connection still checkpoints on its own once the WAL
    /// passes `wal_autocheckpoint` pages, so the WAL stays bounded without this.
    pub(crate) async fn checkpoint(&self) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_all(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Announces new ready work to other nodes (PostgreSQL `NOTIFY`, delivered at commit).
    pub async fn announce(&self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(NOTIFY_CHANNEL)
                .execute(conn)
                .await?;
        }
        Ok(())
    }

    /// Checks the database answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        self.pool.acquire().await?.ping().await
    }
}

impl Backend {
    /// The placeholder for bound parameter `n` (1-based).
    ///
    /// SQLite gets anonymous `?`: sqlx resolves every *named* parameter (`$n` is a name to
    /// SQLite) through a linear lookup, which makes a statement with thousands of parameters
    /// quadratic. Anonymous ones bind in order, so callers bind in placeholder order.
    fn placeholder(self, n: usize, out: &mut String) {
        match self {
            Backend::Sqlite => out.push('?'),
            Backend::Postgres => {
                out.push('$');
                out.push_str(&n.to_string());
            }
        }
    }

    /// One placeholder; a statement that uses [`Backend::values_list`] or [`Backend::in_list`]
    /// takes all its placeholders from here, because sqlx cannot mix `$n` and `?` on SQLite.
    pub fn param(self, n: usize) -> String {
        let mut out = String::with_capacity(4);
        self.placeholder(n, &mut out);
        out
    }

    /// Placeholders for a multi-row `VALUES` list: `($1, $2), ($3, $4)` for 2 rows of 2
    /// columns numbered from `first` (`(?, ?), (?, ?)` on SQLite).
    pub fn values_list(self, rows: usize, columns: usize, first: usize) -> String {
        let mut out = String::with_capacity(rows * columns * 5);
        for r in 0..rows {
            if r > 0 {
                out.push_str(", ");
            }
            out.push('(');
            for c in 0..columns {
                if c > 0 {
                    out.push_str(", ");
                }
                self.placeholder(first + r * columns + c, &mut out);
            }
            out.push(')');
        }
        out
    }

    /// Placeholders for an `IN` list: `$1, $2, $3` numbered from `first` (`?, ?, ?` on SQLite).
    pub fn in_list(self, count: usize, first: usize) -> String {
        let mut out = String::with_capacity(count * 5);
        for i in first..first + count {
            if i > first {
                out.push_str(", ");
            }
            self.placeholder(i, &mut out);
        }
        out
    }
}

/// The rows `select` (a `SELECT ... FROM table` without `WHERE`) finds whose `key` is one of
/// `ids`, `chunk` ids per statement, in key order, locked for this transaction
/// ([`Backend::lock_rows`]): what a transaction reads before it changes those rows.
pub async fn locked_rows_by(
    conn: &mut AnyConnection,
    backend: Backend,
    select: &str,
    key: &str,
    ids: &[&str],
    chunk: usize,
) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error> {
    let mut rows = Vec::with_capacity(ids.len());
    for part in ids.chunks(chunk.max(1)) {
        let sql = format!(
            "{select} WHERE {key} IN ({}) ORDER BY {key}{}",
            backend.in_list(part.len(), 1),
            backend.lock_rows()
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in part {
            q = q.bind(id.to_string());
        }
        rows.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}

/// Creates an empty PostgreSQL database named `{prefix}_{uuid}` on the server `admin_url`
/// points at, and returns its URL (for tests and benchmarks that need a fresh database).
pub async fn create_postgres_database(
    admin_url: &str,
    prefix: &str,
) -> Result<String, sqlx::Error> {
    let admin = Db::connect(admin_url, 1).await?;
    let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin.pool)
        .await?;
    admin.pool.close().await;
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url, String::new()),
    };
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    Ok(format!("{server}/{name}{query}"))
}

/// Rows per multi-row statement: well under both backends' bound-parameter limits.
pub const CHUNK: usize = 400;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_row_order() {
        assert_eq!(Backend::Postgres.values_list(2, 2, 3), "($3, $4), ($5, $6)");
        assert_eq!(Backend::Postgres.in_list(3, 2), "$2, $3, $4");
        assert_eq!(Backend::Sqlite.values_list(2, 2, 3), "(?, ?), (?, ?)");
        assert_eq!(Backend::Sqlite.in_list(2, 1), "?, ?");
    }

    #[test]
    fn only_known_url_schemes_are_accepted() {
        assert_eq!(
            Backend::from_url("sqlite::memory:").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("postgres://x@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert!(Backend::from_url("mysql://x").is_err());
    }
}
