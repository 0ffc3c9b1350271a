//! What the bench binaries share: the database they run on (a fresh SQLite file or
//! PostgreSQL database), and what they measure about their own process, from /proc: CPU
//! time, resident memory and its peak (which a bench can reset to measure one phase alone).

// Each bench binary includes this module and uses what it measures.
#![allow(dead_code)]

use std::time::Duration;

/// A bench's error.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// A fresh database for a bench: a SQLite file `file` in a temporary folder (returned, so it
/// lives as long as the bench needs it), or, for `postgres`, a new database named
/// `{prefix}_<uuid>` on the server `admin_url` names.
pub async fn fresh_database(
    backend: &str,
    admin_url: Option<&str>,
    file: &str,
    prefix: &str,
) -> Result<(String, Option<tempfile::TempDir>), Failure> {
    if backend == "sqlite" {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}?mode=rwc", dir.path().join(file).display());
        return Ok((url, Some(dir)));
    }
    let admin = admin_url.ok_or("postgres needs --database-url or L2C_TEST_DATABASE_URL")?;
    Ok((
        l2c_engine::db::create_postgres_database(admin, prefix).await?,
        None,
    ))
}

/// An enterprise customer in Germany, `id`, with one EUR billing account `<id>-EUR`.
pub async fn eur_customer(app: &l2c::app::App, id: &str) -> Result<(), Failure> {
    use l2c_orders::accounts::{self, BillingAccount, CustomerAccount};
    let now = app.now_ms();
    let customer = CustomerAccount {
        id: id.to_string(),
        name: id.to_string(),
        segment: "enterprise".into(),
        country: "DE".into(),
    };
    accounts::add_customer(&app.db, "test", &customer, now).await?;
    let billing = BillingAccount {
        id: format!("{id}-EUR"),
        customer_account: id.to_string(),
        name: id.to_string(),
        currency: "EUR".into(),
        cycle_day: 1,
        time_zone: "Europe/Berlin".into(),
        payment_terms_days: 30,
        ..Default::default()
    };
    accounts::add_billing(&app.db, "test", &billing, now).await?;
    Ok(())
}

/// The fields of the line a child process of this bench printed after `prefix`, or why
/// there is none (the child failed, or printed no such line).
pub fn child_result(
    command: &mut std::process::Command,
    prefix: &str,
) -> Result<Vec<String>, Failure> {
    let output = command.stderr(std::process::Stdio::inherit()).output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("the measured child failed ({}): {stdout}", output.status).into());
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .ok_or_else(|| format!("the measured child printed no {prefix:?} line: {stdout}"))?;
    Ok(line.split_whitespace().map(str::to_string).collect())
}

/// Resets VmHWM to the current RSS (Linux 4.0 and later); false where that is refused.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A `/proc/self/status` memory field (e.g. `VmRSS:`) in MiB.
pub fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// CPU time this process has used (user + system), from /proc.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 (1-based), 11 and 12 here; 100 ticks per second.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The peak resident memory (VmHWM) in MiB.
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// A local hub listener on 127.0.0.1 that answers 204 to every event and counts them;
/// answers its callback URL and the count.
pub async fn receiver() -> Result<(String, std::sync::Arc<std::sync::atomic::AtomicU64>), Failure> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let count = std::sync::Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(move |_body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://{addr}/events"), count))
}

/// An admin `hub-admin` on `app` and its token.
pub async fn hub_admin(app: &l2c::app::App) -> Result<String, Failure> {
    let admin = l2c_orders::users::NewUser {
        name: "hub-admin".into(),
        role: l2c_orders::users::Role::Admin,
        account: None,
        groups: vec![],
        password: None,
    };
    Ok(app.add_user("bench", &admin).await?.1)
}
