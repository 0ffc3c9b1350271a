//! The schema: both backends' migrations make the same tables and columns, and a database
//! migrated before the crates split their migrations opens with its data.

use crate::support::{database_url, Backend};
use l2c::app::{App, AppOptions};
use l2c_engine::db::Db;
use sqlx::Row;
use std::collections::BTreeSet;

scenarios!(a_database_migrated_before_the_split_opens_with_its_data);

/// Every (table, column) of the application's schema, without sqlx's own table.
async fn columns(db: &Db) -> BTreeSet<(String, String)> {
    let sql = match db.backend {
        l2c_engine::db::Backend::Sqlite => {
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'"
        }
        l2c_engine::db::Backend::Postgres => {
            "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'"
        }
    };
    sqlx::query(sql)
        .fetch_all(&db.pool)
        .await
        .expect("columns")
        .iter()
        .map(|r| (r.get("t"), r.get("c")))
        .collect()
}

async fn migrated(backend: Backend) -> (Db, Option<tempfile::TempDir>) {
    let (url, dir) = database_url(backend).await;
    let db = Db::connect(&url, 2).await.expect("connect");
    l2c::schema::migrate(&db).await.expect("migrations apply");
    (db, dir)
}

/// The newest migration at the time of the split; later ones change the schema on purpose.
const AT_SPLIT: i64 = 20261129000004;

/// A new database with today's migrations up to the split only.
async fn migrated_at_split(backend: Backend) -> (Db, Option<tempfile::TempDir>) {
    let (url, dir) = database_url(backend).await;
    let db = Db::connect(&url, 2).await.expect("connect");
    let upto: Vec<_> = l2c::schema::migrations(db.backend)
        .into_iter()
        .filter(|m| m.version <= AT_SPLIT)
        .collect();
    db.apply_migrations(upto).await.expect("migrations apply");
    (db, dir)
}

#[tokio::test]
#[cfg_attr(
    not(l2c_postgres),
    ignore = "PostgreSQL: set L2C_TEST_DATABASE_URL when building and running the tests"
)]
async fn both_backends_make_the_same_tables_and_columns() {
    let (sqlite, _dir) = migrated(Backend::Sqlite).await;
    let (postgres, _) = migrated(Backend::Postgres).await;
    let (s, p) = (columns(&sqlite).await, columns(&postgres).await);
    assert!(s.len() > 50, "the schema has its tables: {s:?}");
    let only_sqlite: Vec<_> = s.difference(&p).collect();
    let only_postgres: Vec<_> = p.difference(&s).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "only on SQLite: {only_sqlite:?}; only on PostgreSQL: {only_postgres:?}"
    );
}

/// Versions whose files the split left as they were: the old schema takes them from today's
/// folders, and only the two files that were split come from the fixture.
const UNCHANGED: [i64; 3] = [20261123000001, 20261129000001, 20261129000003];

/// The schema as it was before the crates split.
async fn migrate_before_split(db: &Db, backend: Backend) {
    let folder = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schema-before-split")
        .join(folder);
    let split = sqlx::migrate::Migrator::new(path.as_path())
        .await
        .expect("old migrations");
    let mut old: Vec<_> = split.iter().cloned().collect();
    old.extend(
        l2c::schema::migrations(db.backend)
            .into_iter()
            .filter(|m| UNCHANGED.contains(&m.version)),
    );
    db.apply_migrations(old)
        .await
        .expect("old migrations apply");
}

async fn a_database_migrated_before_the_split_opens_with_its_data(backend: Backend) {
    let (url, _dir) = database_url(backend).await;
    let old = Db::connect(&url, 2).await.expect("connect");
    migrate_before_split(&old, backend).await;
    sqlx::query(
        "INSERT INTO customer_accounts (id, name, segment, country, created_at) \
         VALUES ('OLD', 'Old Customer', 'enterprise', 'DE', 0)",
    )
    .execute(&old.pool)
    .await
    .expect("a customer of before");
    let before = columns(&old).await;
    old.pool.close().await;

    let app = App::open(AppOptions::new(url.clone()))
        .await
        .expect("the app opens a database migrated before the split");
    let mut conn = app.db.pool.acquire().await.expect("connection");
    let customer = l2c_orders::accounts::customer(&mut conn, "OLD")
        .await
        .expect("read")
        .expect("the customer of before is kept");
    assert_eq!(customer.name, "Old Customer");
    drop(conn);
    let pending = app
        .db
        .pending_migrations(&l2c::schema::migrations(app.db.backend))
        .await
        .expect("migrations table");
    assert!(
        pending.is_empty(),
        "every split file is recorded: {pending:?}"
    );
    let (at_split, _split_dir) = migrated_at_split(backend).await;
    assert_eq!(
        before,
        columns(&at_split).await,
        "the same schema as a new database had at the split"
    );
    let (fresh, _fresh_dir) = migrated(backend).await;
    assert_eq!(
        columns(&app.db).await,
        columns(&fresh).await,
        "nothing of before was dropped, and the migrations after the split were applied"
    );
}
