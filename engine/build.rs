//! Build-time settings of l2c-engine:
//!
//! - Rebuild when a migration is added or changed: `sqlx::migrate!` embeds the migration
//!   folders at compile time, and cargo does not otherwise watch them.
//! - `cfg(l2c_postgres)` when `L2C_TEST_DATABASE_URL` is set (and not empty) at build time:
//!   the PostgreSQL twins of the conformance tests then run (and fail if the server cannot be
//!   reached); without it they are reported as ignored instead of passing without running.

fn main() {
    println!("cargo::rerun-if-changed=../migrations");
    println!("cargo::rerun-if-env-changed=L2C_TEST_DATABASE_URL");
    println!("cargo::rustc-check-cfg=cfg(l2c_postgres)");
    let postgres = std::env::var("L2C_TEST_DATABASE_URL").is_ok_and(|url| !url.trim().is_empty());
    if postgres {
        println!("cargo::rustc-cfg=l2c_postgres");
    }
}
