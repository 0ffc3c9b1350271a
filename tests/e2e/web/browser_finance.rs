//! Finance's run flow in a real Chromium (see [`super::browser`]): a dry run's preview, a
//! run and its page (with the progress bar moved by desk.js until the run ends), an export
//! link, and a credit note through its preview and confirmation. Screenshots go to
//! `target/ui-screenshots/finance-*.png`.

use super::browser::{served, Browser};
use crate::support::billing::{set_buyers, subscribe, Charge};
use std::time::Duration;

/// Runs `sql` with `id` bound, in a transaction of its own.
async fn update_run(site: &super::Site, sql: &'static str, id: &str) {
    let mut tx = site.world.app.db.begin_write().await.expect("tx");
    sqlx::query(sql)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .expect("update");
    tx.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(l2c_browser),
    ignore = "browser: set L2C_TEST_BROWSER to a Chromium binary"
)]
async fn a_billing_run_from_dry_run_to_credit_note_in_a_browser() {
    let (site, server) = served().await;
    set_buyers(&site.world.app).await;
    let port = Charge("port", "monthly", "100.00", 1, "2026-03-01", None);
    subscribe(&site.world.app, "ACME-EUR", "S1", "wan-link", &[port]).await;
    let mut b = Browser::open(&server, "finance").await;
    b.sign_in("fay").await;
    b.go("/billing/runs/new").await;
    b.shot("new-run").await;

    b.follow("button[value=dry]").await;
    let preview = b.source().await;
    assert!(
        preview.contains("Dry run: nothing was written"),
        "{preview}"
    );
    assert!(preview.contains("ACME-EUR"), "{preview}");
    b.shot("dry-run-preview").await;

    b.follow("button[value=run]").await;
    let run_page = b.path().await;
    assert!(run_page.starts_with("/billing/runs/"), "{run_page}");
    let path = run_page.split('?').next().unwrap_or_default().to_string();
    b.until(&path, "state-completed").await;
    b.shot("run").await;

    // The run ended before a page could show it running; catch it half way on purpose to
    // see the bar, then let it end: the script follows it and reloads the page.
    let id = path.trim_start_matches("/billing/runs/").to_string();
    update_run(
        &site,
        "UPDATE billing_runs SET status = 'running', finished_at = NULL, accounts = 1 WHERE id = $1",
        &id,
    )
    .await;
    b.go(&path).await;
    assert!(b.source().await.contains("<progress"), "a progress bar");
    b.shot("run-in-progress").await;
    b.mark().await;
    update_run(
        &site,
        "UPDATE billing_runs SET status = 'completed', finished_at = started_at, \
         accounts = (SELECT COUNT(*) FROM billing_accounts) WHERE id = $1",
        &id,
    )
    .await;
    b.settled().await;
    let ended = b.source().await;
    assert!(
        ended.contains("state-completed"),
        "desk.js reloaded the ended run"
    );
    assert!(!ended.contains("<progress"), "no bar once it ended");

    // An export link downloads (an error would have replaced the page).
    b.click("a[href$='format=csv']").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.path().await, path, "the download left the page as it was");

    b.follow("td a[href^='/invoices/']").await;
    assert!(b.source().await.contains("Payable"));
    b.shot("invoice").await;
    b.follow("a[href$='/credit-note']").await;
    assert!(b.source().await.contains("Issue the credit note"));
    b.shot("credit-note-preview").await;
    b.follow("form[action$='/credit-note'] button").await;
    let note = b.source().await;
    assert!(note.contains("The credit note was issued"), "{note}");
    b.shot("credit-note").await;
    b.go("/invoices?kind=credit_note").await;
    b.shot("invoices-filtered").await;

    b.go("/billing/schedules/new").await;
    b.fill("#name", "monthly").await;
    b.fill("#cron", "0 0 2 1 * *").await;
    b.follow("button[value=preview]").await;
    assert_eq!(b.source().await.matches("<li><time>").count(), 5);
    b.shot("schedule-preview").await;
    b.close().await;
    server.shutdown().await.expect("shutdown");
}

/// The operating report in a browser: every CSF with its sparklines and statuses.
/// Screenshot `report-01-report.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(l2c_browser),
    ignore = "browser: set L2C_TEST_BROWSER to a Chromium binary"
)]
async fn the_operating_report_in_a_browser() {
    let (site, server) = served().await;
    crate::report::january(&site.world).await;
    crate::report::set_clock(&site.world, crate::report::jan(24 * 30));
    let mut b = Browser::open(&server, "report").await;
    b.sign_in("fay").await;
    b.go("/report?month=2027-01").await;
    let page = b.source().await;
    for part in [
        "Operating report 2027-01",
        "Reliability",
        "spark",
        "kpi-met",
    ] {
        assert!(page.contains(part), "{part} in {page}");
    }
    b.shot("report").await;
    b.close().await;
    server.shutdown().await.expect("shutdown");
}
