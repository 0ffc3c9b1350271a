//! Finance's pages through the router: billing runs (a dry run writes nothing, a real run is
//! created and followed to its end, its exports download, drafts are issued, a date ahead is
//! refused at its field), invoices (filters, voiding a draft, a credit note whose preview is
//! the note then issued) and billing schedules (five occurrences previewed, a bad cron at
//! its field, delete after a confirmation). Requesters get none of it.

use super::{hidden, Site};
use crate::support::billing::{set_buyers, subscribe, Charge};
use crate::support::Backend;
use axum::http::StatusCode;

scenarios!(
    finance_pages_render_for_fay_and_are_refused_to_rita,
    a_dry_run_writes_nothing_and_a_run_is_created_followed_and_exported,
    a_running_run_shows_its_progress_and_a_refresh_link,
    run_dates_are_checked_at_the_field,
    drafts_are_voided_and_issued_and_invoices_credited_as_previewed,
    invoices_are_paged_with_their_filters,
    schedules_are_previewed_created_and_deleted,
);

/// Fay's session on a site where ACME-EUR has a monthly port from 2026-03-01.
async fn billed_site(backend: Backend) -> (Site, String, String) {
    let site = Site::on(backend).await;
    set_buyers(&site.world.app).await;
    let port = Charge("port", "monthly", "100.00", 1, "2026-03-01", None);
    subscribe(&site.world.app, "ACME-EUR", "S1", "wan-link", &[port]).await;
    let (cookie, csrf) = site.session("fay", "/billing/runs/new").await;
    (site, cookie, csrf)
}

async fn count(site: &Site, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&site.world.app.db.pool)
        .await
        .expect("count")
}

/// Starts a run on `date` ("issue" or "draft") and waits for its page to say it completed;
/// returns the run's page path.
async fn run_billing(site: &Site, cookie: &str, csrf: &str, date: &str, issue: &str) -> String {
    let started = site
        .post(
            cookie,
            "/billing/runs/new",
            &[
                ("csrf", csrf),
                ("date", date),
                ("issue", issue),
                ("step", "run"),
            ],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let location = started.header("location").to_string();
    assert!(location.ends_with("?did=started"), "{location}");
    let path = location.trim_end_matches("?did=started").to_string();
    site.wait_for(cookie, &path, "state-completed").await;
    path
}

/// The first `/invoices/<id>` link of `html`.
fn first_invoice(html: &str) -> String {
    let start = html.find("href=\"/invoices/").expect("an invoice link") + "href=\"".len();
    let end = html[start..].find('"').expect("end") + start;
    html[start..end].to_string()
}

/// The text of the `<strong>` after `label` in the totals line of `html`.
fn total(html: &str, label: &str) -> String {
    let at = html.find("class=\"totals\"").expect("totals");
    let rest = &html[at..];
    let from = rest.find(&format!("{label} <strong>")).expect(label) + label.len() + 9;
    let to = rest[from..].find('<').expect("end") + from;
    rest[from..to].to_string()
}

async fn finance_pages_render_for_fay_and_are_refused_to_rita(backend: Backend) {
    let site = Site::on(backend).await;
    let fay = site.sign_in("fay").await;
    let rita = site.sign_in("rita").await;
    for path in [
        "/billing/runs",
        "/billing/runs/new",
        "/billing/schedules",
        "/billing/schedules/new",
        "/invoices",
    ] {
        let page = site.get(&fay, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        assert!(page.body.contains("<h1>"), "{path}");
    }
    for path in [
        "/billing/runs",
        "/billing/runs/new",
        "/billing/schedules",
        "/billing/schedules/new",
        "/billing/runs/nope/progress",
        "/billing/runs/nope/export?format=csv",
        "/invoices/nope/void",
        "/invoices/nope/credit-note",
    ] {
        let page = site.get(&rita, path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
    }
    let (rita, csrf) = site.session("rita", "/invoices").await;
    let post = site
        .post(
            &rita,
            "/billing/runs/new",
            &[("csrf", &csrf), ("step", "run")],
        )
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN, "{}", post.body);
    assert_eq!(
        count(&site, "billing_runs").await,
        0,
        "nothing ran for rita"
    );
    let missing = site.get(&fay, "/billing/runs/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

async fn a_dry_run_writes_nothing_and_a_run_is_created_followed_and_exported(backend: Backend) {
    let (site, cookie, csrf) = billed_site(backend).await;
    let dry = site
        .post(
            &cookie,
            "/billing/runs/new",
            &[
                ("csrf", &csrf),
                ("date", "2026-03-01"),
                ("issue", "issue"),
                ("step", "dry"),
            ],
        )
        .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.body);
    for part in [
        "Dry run: nothing was written",
        "ACME-EUR",
        "2026-03-01 to 2026-03-31",
        "EUR",
    ] {
        assert!(dry.body.contains(part), "{part} in {}", dry.body);
    }
    assert_eq!(
        count(&site, "billing_runs").await,
        0,
        "a dry run stores no run"
    );
    assert_eq!(count(&site, "invoices").await, 0, "nor invoices");

    let path = run_billing(&site, &cookie, &csrf, "2026-03-01", "issue").await;
    assert_eq!(count(&site, "billing_runs").await, 1);
    let page = site.get(&cookie, &path).await;
    for part in [
        "Totals",
        "Invoices",
        "/export?format=csv",
        "/export?format=ubl",
        "/invoices/",
    ] {
        assert!(page.body.contains(part), "{part} in {}", page.body);
    }
    assert!(!page.body.contains("Issue drafts"), "no drafts to issue");
    let list = site.get(&cookie, "/billing/runs").await;
    assert!(
        list.body.contains(&format!("href=\"{path}\"")),
        "{}",
        list.body
    );
    assert!(list.body.contains("in 1 invoice"), "{}", list.body);

    let csv = site
        .get(&cookie, &format!("{path}/export?format=csv"))
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    assert!(csv.header("content-type").starts_with("text/csv"));
    assert!(csv
        .header("content-disposition")
        .starts_with("attachment; filename=\"billing-run-"));
    assert!(csv.body.starts_with("invoice_number,"), "{}", csv.body);
    assert!(csv.body.contains("ACME-EUR"), "{}", csv.body);
    let json = site
        .get(&cookie, &format!("{path}/export?format=json"))
        .await;
    assert_eq!(json.status, StatusCode::OK);
    assert!(json.body.contains("ACME-EUR"), "{}", json.body);
    let ubl = site
        .get(&cookie, &format!("{path}/export?format=ubl"))
        .await;
    assert_eq!(ubl.status, StatusCode::OK);
    assert_eq!(ubl.header("content-type"), "application/zip");
    assert!(ubl.body.starts_with("PK"), "a zip");
    let bad = site
        .get(&cookie, &format!("{path}/export?format=xls"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);

    let progress = site.get(&cookie, &format!("{path}/progress")).await;
    let p: serde_json::Value = serde_json::from_str(&progress.body).expect("json");
    assert_eq!(p["status"], "completed", "{p}");
    assert_eq!(
        (p["done"].as_i64(), p["percent"].as_i64()),
        (p["total"].as_i64(), Some(100))
    );
}

async fn a_running_run_shows_its_progress_and_a_refresh_link(backend: Backend) {
    let (site, cookie, csrf) = billed_site(backend).await;
    let path = run_billing(&site, &cookie, &csrf, "2026-03-01", "issue").await;
    let id = path.trim_start_matches("/billing/runs/").to_string();
    // A run caught half way: one of the two accounts looked at, still running.
    crate::support::billing::account(&site.world.app, "ZZ-LATE", 1, "Europe/Berlin", "EUR").await;
    let mut tx = site.world.app.db.begin_write().await.expect("tx");
    sqlx::query("UPDATE billing_runs SET status = 'running', finished_at = NULL WHERE id = $1")
        .bind(id.clone())
        .execute(&mut *tx)
        .await
        .expect("running");
    tx.commit().await.expect("commit");
    let accounts = count(&site, "billing_accounts").await;
    let page = site.get(&cookie, &path).await;
    assert!(
        page.body
            .contains(&format!("data-progress=\"{path}/progress\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("<progress"), "{}", page.body);
    assert!(
        page.body.contains(&format!("href=\"{path}\">Refresh</a>")),
        "{}",
        page.body
    );
    let progress = site.get(&cookie, &format!("{path}/progress")).await;
    let p: serde_json::Value = serde_json::from_str(&progress.body).expect("json");
    assert_eq!(p["status"], "running");
    assert_eq!(p["total"].as_i64(), Some(accounts), "{p}");
    assert!(p["done"].as_i64() < Some(accounts), "{p}");
}

async fn run_dates_are_checked_at_the_field(backend: Backend) {
    let (site, cookie, csrf) = billed_site(backend).await;
    let ahead = (site.world.app.today() + chrono::Days::new(40)).to_string();
    let refused = site
        .post(
            &cookie,
            "/billing/runs/new",
            &[
                ("csrf", &csrf),
                ("date", &ahead),
                ("issue", "issue"),
                ("step", "run"),
            ],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    let field = refused.body.find("id=\"date\"").expect("the date input");
    let error = refused.body[field..]
        .find("class=\"error\"")
        .expect("an error")
        + field;
    let next_field = refused.body[field..].find("id=\"issue\"").expect("issue") + field;
    assert!(
        error < next_field,
        "the problem is at the date: {}",
        refused.body
    );
    assert!(refused.body.contains("is after today"), "{}", refused.body);
    assert!(
        refused.body.contains(&format!("value=\"{ahead}\"")),
        "what was typed stays"
    );
    assert_eq!(count(&site, "billing_runs").await, 0);
    let typo = site
        .post(
            &cookie,
            "/billing/runs/new",
            &[("csrf", &csrf), ("date", "2026-13-01"), ("step", "dry")],
        )
        .await;
    assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        typo.body.contains("write a date as YYYY-MM-DD"),
        "{}",
        typo.body
    );
    // Ticking "ahead" says it is on purpose.
    let on_purpose = site
        .post(
            &cookie,
            "/billing/runs/new",
            &[
                ("csrf", &csrf),
                ("date", &ahead),
                ("ahead", "on"),
                ("step", "run"),
            ],
        )
        .await;
    assert_eq!(
        on_purpose.status,
        StatusCode::SEE_OTHER,
        "{}",
        on_purpose.body
    );
}

async fn drafts_are_voided_and_issued_and_invoices_credited_as_previewed(backend: Backend) {
    let (site, cookie, csrf) = billed_site(backend).await;
    let march = run_billing(&site, &cookie, &csrf, "2026-03-01", "draft").await;
    let page = site.get(&cookie, &march).await;
    assert!(page.body.contains("Issue drafts"), "{}", page.body);
    let draft = first_invoice(&page.body);
    let doc = site.get(&cookie, &draft).await;
    assert!(doc.body.contains("Void draft"), "{}", doc.body);
    assert!(!doc.body.contains("Issue a credit note"));
    let rita = site.sign_in("rita").await;
    assert_eq!(site.get(&rita, &draft).await.status, StatusCode::NOT_FOUND);
    let confirm = site.get(&cookie, &format!("{draft}/void")).await;
    assert!(
        confirm.body.contains("Yes, void this draft"),
        "{}",
        confirm.body
    );
    let voided = site
        .post(&cookie, &format!("{draft}/void"), &[("csrf", &csrf)])
        .await;
    assert_eq!(voided.status, StatusCode::SEE_OTHER, "{}", voided.body);
    let after = site.get(&cookie, voided.header("location")).await;
    assert!(
        after.body.contains("The draft was voided"),
        "{}",
        after.body
    );
    assert!(
        after.body.contains("<span class=\"state\">void</span>"),
        "{}",
        after.body
    );
    let again = site
        .post(&cookie, &format!("{draft}/void"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "a void is not voided twice"
    );

    let april = run_billing(&site, &cookie, &csrf, "2026-04-01", "draft").await;
    let issued = site
        .post(&cookie, &format!("{april}/issue"), &[("csrf", &csrf)])
        .await;
    assert_eq!(issued.status, StatusCode::SEE_OTHER, "{}", issued.body);
    let page = site.get(&cookie, issued.header("location")).await;
    assert!(page.body.contains("drafts were issued"), "{}", page.body);
    assert!(!page.body.contains("Issue drafts"), "{}", page.body);
    let invoice = first_invoice(&page.body);
    let doc = site.get(&cookie, &invoice).await;
    assert!(doc.body.contains("Issue a credit note"), "{}", doc.body);

    let preview = site.get(&cookie, &format!("{invoice}/credit-note")).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview.body.contains("Issue the credit note"),
        "{}",
        preview.body
    );
    let previewed = total(&preview.body, "Payable");
    assert_eq!(
        previewed,
        total(&doc.body, "Payable"),
        "it gives back all of it"
    );
    assert_eq!(
        count(&site, "invoices").await,
        2,
        "a preview writes nothing"
    );
    let made = site
        .post(
            &cookie,
            &format!("{invoice}/credit-note"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let note = site.get(&cookie, made.header("location")).await;
    assert!(
        note.body.contains("The credit note was issued"),
        "{}",
        note.body
    );
    assert!(note.body.contains("Credit note"), "{}", note.body);
    assert_eq!(
        total(&note.body, "Payable"),
        previewed,
        "the note is its preview"
    );
    assert_eq!(total(&note.body, "Net"), total(&preview.body, "Net"));
    let twice = site.get(&cookie, &format!("{invoice}/credit-note")).await;
    assert!(twice.body.contains("already has a"), "{}", twice.body);
    assert!(
        !twice.body.contains("Issue the credit note"),
        "{}",
        twice.body
    );

    let notes = site.get(&cookie, "/invoices?kind=credit_note").await;
    assert_eq!(
        notes.body.matches("<td>Credit note</td>").count(),
        1,
        "{}",
        notes.body
    );
    let voids = site
        .get(&cookie, "/invoices?status=void&account=ACME-EUR")
        .await;
    assert!(
        voids.body.contains(&format!("href=\"{draft}\"")),
        "{}",
        voids.body
    );
    assert!(
        !voids.body.contains(&format!("href=\"{invoice}\"")),
        "{}",
        voids.body
    );
    let march_only = site.get(&cookie, "/invoices?period=2026-03").await;
    assert!(
        march_only.body.contains(&format!("href=\"{draft}\"")),
        "{}",
        march_only.body
    );
    let bad = site.get(&cookie, "/invoices?period=March").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("write a month as YYYY-MM"),
        "{}",
        bad.body
    );
    let theirs = site.get(&rita, "/invoices?status=void").await;
    assert!(
        !theirs.body.contains(&format!("href=\"{draft}\"")),
        "requesters see issued ones only"
    );
    assert_eq!(
        site.get(&rita, &format!("{invoice}/credit-note"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

async fn invoices_are_paged_with_their_filters(backend: Backend) {
    let (site, cookie, _) = billed_site(backend).await;
    crate::support::billing::many_accounts(&site.world.app, 30).await;
    crate::support::billing::run_on(&site.world.app, "2026-03-01").await;
    let first = site.get(&cookie, "/invoices?kind=invoice").await;
    assert_eq!(
        first.body.matches("<td>Invoice</td>").count(),
        25,
        "{}",
        first.body
    );
    let next = hidden_next(&first.body);
    assert!(next.contains("kind=invoice"), "the filter stays: {next}");
    let second = site.get(&cookie, &next).await;
    assert_eq!(
        second.body.matches("<td>Invoice</td>").count(),
        6,
        "{}",
        second.body
    );
}

/// The pager's next link of `html`, unescaped.
fn hidden_next(html: &str) -> String {
    let nav = html.find("<nav class=\"pager\"").expect("a next page");
    let start = html[nav..].find("href=\"").expect("a link") + nav + "href=\"".len();
    let end = html[start..].find('"').expect("end") + start;
    html[start..end]
        .replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&#61;", "=")
}

async fn schedules_are_previewed_created_and_deleted(backend: Backend) {
    let site = Site::on(backend).await;
    let (cookie, csrf) = site.session("fay", "/billing/schedules/new").await;
    let form = |name: &'static str, cron: &'static str, mode: &'static str, zone: &'static str| {
        vec![
            ("name", name),
            ("cron", cron),
            ("zone_mode", mode),
            ("time_zone", zone),
        ]
    };
    let send = |fields: Vec<(&'static str, &'static str)>, step: &'static str| {
        let mut all = vec![("csrf", csrf.as_str()), ("step", step)];
        all.extend(fields);
        let site = &site;
        let cookie = cookie.clone();
        async move { site.post(&cookie, "/billing/schedules/new", &all).await }
    };
    let preview = send(form("monthly", "0 0 2 1 * *", "account", ""), "preview").await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert_eq!(
        preview.body.matches("<li><time>").count(),
        5,
        "{}",
        preview.body
    );
    assert!(preview.body.contains("02:00 UTC") || preview.body.contains(":00 UTC"));
    assert_eq!(
        count(&site, "billing_schedules").await,
        0,
        "a preview saves nothing"
    );

    let bad = send(form("monthly", "every day", "account", ""), "preview").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    let field = bad.body.find("id=\"cron\"").expect("the cron input");
    let error = bad.body[field..].find("class=\"error\"").expect("an error") + field;
    let next_field = bad.body[field..].find("id=\"zone_mode\"").expect("next") + field;
    assert!(
        error < next_field,
        "the problem is at the cron: {}",
        bad.body
    );
    assert!(
        bad.body.contains("is not a cron expression"),
        "{}",
        bad.body
    );
    assert!(
        bad.body.contains("value=\"every day\""),
        "what was typed stays"
    );
    let zone = send(form("berlin", "0 0 2 1 * *", "zone", "Mars/Base"), "save").await;
    assert_eq!(zone.status, StatusCode::UNPROCESSABLE_ENTITY);
    let at = zone.body.find("id=\"time_zone\"").expect("zone input");
    assert!(
        zone.body[at..].contains("is neither an IANA zone"),
        "{}",
        zone.body
    );

    let saved = send(form("monthly", "0 0 2 1 * *", "account", ""), "save").await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let list = site.get(&cookie, saved.header("location")).await;
    assert!(
        list.body.contains("The schedule was added"),
        "{}",
        list.body
    );
    assert!(list.body.contains("monthly"), "{}", list.body);
    let taken = send(form("monthly", "0 0 2 1 * *", "account", ""), "save").await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.body.contains("already exists"), "{}", taken.body);

    let confirm = site.get(&cookie, "/billing/schedules/monthly/delete").await;
    assert!(
        confirm.body.contains("Yes, delete monthly"),
        "{}",
        confirm.body
    );
    assert_eq!(
        hidden(&confirm.body, "csrf").as_deref(),
        Some(csrf.as_str())
    );
    let gone = site
        .post(
            &cookie,
            "/billing/schedules/monthly/delete",
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER, "{}", gone.body);
    assert_eq!(count(&site, "billing_schedules").await, 0);
    let missing = site.get(&cookie, "/billing/schedules/monthly/delete").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
