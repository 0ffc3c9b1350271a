//! Build script of the l2c package: the PostgreSQL twins of the end-to-end tests are built in
//! (cfg `l2c_postgres`) only when `L2C_TEST_DATABASE_URL` is set for the build, so a plain
//! `cargo test` reports them as ignored instead of as passes that ran nothing; likewise the
//! browser tests (cfg `l2c_browser`) with `L2C_TEST_BROWSER`. It also rebuilds
//! when a migration changes (`sqlx::migrate!` embeds `migrations/` at compile time).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(l2c_postgres)");
    println!("cargo::rustc-check-cfg=cfg(l2c_browser)");
    println!("cargo::rerun-if-env-changed=L2C_TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=L2C_TEST_BROWSER");
    println!("cargo::rerun-if-changed=migrations");
    if std::env::var("L2C_TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=l2c_postgres");
    }
    if std::env::var("L2C_TEST_BROWSER").is_ok_and(|b| !b.is_empty()) {
        println!("cargo::rustc-cfg=l2c_browser");
    }
}
