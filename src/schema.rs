//! The application's schema: every crate's migrations (`migrations/<backend>/<crate>/`),
//! applied together in version order on start and by `l2c migrate`.
//!
//! When the domain moved into crates of their own, two migrations that held tables of
//! several crates were split: `20261123000002` (orders, subscriptions and the simulated
//! network) and `20261129000002` (billing runs, and new columns of billing accounts). A
//! database migrated before the split has the old files' checksums recorded and every table
//! already; [`migrate`] recognises exactly those checksums and records the split files as
//! applied, in one transaction, before sqlx checks what is applied. Nothing else is rewritten.

use l2c_engine::db::{Backend, Db};
use sqlx::migrate::Migration;
use sqlx::Row;

/// l2c's own embedded migrations (the simulated network's tables).
fn own(backend: Backend) -> Vec<Migration> {
    let migrator = match backend {
        Backend::Sqlite => sqlx::migrate!("migrations/sqlite/l2c"),
        Backend::Postgres => sqlx::migrate!("migrations/postgres/l2c"),
    };
    migrator.iter().cloned().collect()
}

/// Every crate's migrations for `backend`, in version order.
pub fn migrations(backend: Backend) -> Vec<Migration> {
    let mut all = l2c_engine::db::migrations(backend);
    all.extend(l2c_orders::migrations(backend));
    all.extend(l2c_invoicing::migrations(backend));
    all.extend(own(backend));
    all.sort_by_key(|m| m.version);
    all
}

/// Applies every migration not applied yet (recording a split of the pre-crate schema first).
pub async fn migrate(db: &Db) -> Result<(), sqlx::migrate::MigrateError> {
    record_split(db).await?;
    db.apply_migrations(migrations(db.backend)).await
}

/// A migration as it was before the split: its version, its checksum (SHA-384, hex) per
/// backend, and the versions carved out of it.
struct Split {
    version: i64,
    sqlite: &'static str,
    postgres: &'static str,
    carved: &'static [i64],
}

const SPLITS: [Split; 2] = [
    Split {
        version: 20261123000002,
        sqlite: "35f4b441d5849f0e0a0ee7805b35082993228caf7cf4ed1d4659c49f61bf2da6d792cd0cb544c0b64cac3be41fe0e5de",
        postgres: "7c270c702cca6e5fe1a4f540af95b566f407b477970f4fbf70bb374166650d0c6acfe658c4db95f0541b7c455d182494",
        carved: &[20261123000003, 20261123000004],
    },
    Split {
        version: 20261129000002,
        sqlite: "b6312d66499b9ca12af1c8b151b0ccfbb21d387d1492a8bca56913cc9d02e32029a459153b8a0509410a16e29b53384d",
        postgres: "98f086cb0392ed1990ef8cbf575ac0cd97deec064185197a7e7e8db65daadb3438e705c052c22f7fe724601c45480daa",
        carved: &[20261129000004],
    },
];

async fn has_migrations_table(db: &Db) -> Result<bool, sqlx::Error> {
    let sql = match db.backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
        }
    };
    let n: i64 = sqlx::query(sql).fetch_one(&db.pool).await?.try_get("n")?;
    Ok(n > 0)
}

/// Records the split files as applied where the pre-split file was.
async fn record_split(db: &Db) -> Result<(), sqlx::migrate::MigrateError> {
    if !has_migrations_table(db).await? {
        return Ok(());
    }
    let current = migrations(db.backend);
    let find = |version: i64| current.iter().find(|m| m.version == version);
    let mut tx = db.begin_write().await?;
    for split in &SPLITS {
        let old = match db.backend {
            Backend::Sqlite => split.sqlite,
            Backend::Postgres => split.postgres,
        };
        let row = sqlx::query("SELECT checksum FROM _sqlx_migrations WHERE version = $1")
            .bind(split.version)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { continue };
        let recorded: Vec<u8> = row.try_get("checksum")?;
        if hex::encode(&recorded) != old {
            continue;
        }
        let Some(kept) = find(split.version) else {
            continue;
        };
        sqlx::query(
            "UPDATE _sqlx_migrations SET checksum = $1, description = $2 WHERE version = $3",
        )
        .bind(kept.checksum.to_vec())
        .bind(kept.description.to_string())
        .bind(split.version)
        .execute(&mut *tx)
        .await?;
        for version in split.carved {
            let Some(carved) = find(*version) else {
                continue;
            };
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES ($1, $2, TRUE, $3, 0) ON CONFLICT DO NOTHING",
            )
            .bind(carved.version)
            .bind(carved.description.to_string())
            .bind(carved.checksum.to_vec())
            .execute(&mut *tx)
            .await?;
        }
        tracing::info!(
            version = split.version,
            "recorded the split of a migration applied before the crates split"
        );
    }
    tx.commit().await?;
    Ok(())
}
