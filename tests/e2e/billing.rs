//! Billing runs on the real database (SQLite, and PostgreSQL when `L2C_TEST_DATABASE_URL` is
//! set): idempotent and resumed runs, accounts billed at their own local midnight, cycle day
//! 31 in a leap year, changes after a period was invoiced, VAT per rate on summed bases, dry
//! runs, gapless numbers, drafts, voids and credit notes, documents that keep what they were
//! made with, and accounts that fail alone.
//!
//! Subscriptions are stored directly, as the billing activation handlers store them (those
//! handlers are tested through whole orders in the `orders` and `api_billing` modules).

use crate::support;

use l2c::app::App;
use l2c_billing::{TaxCategory, TaxRate};
use l2c_invoicing::read;
use l2c_invoicing::run::run_interrupted;
use l2c_invoicing::{ops, resume, run, AsOf, RunOutcome};
use l2c_orders::accounts::{self, BillingAccount};
use l2c_orders::error::DeskError;
use rust_decimal::Decimal;
use sqlx::Row;
use support::billing::*;
use support::Backend;

scenarios!(
    a_run_repeated_three_times_invoices_once,
    an_interrupted_run_resumes_to_the_same_invoices,
    a_stalled_run_is_resumed_itself,
    accounts_are_billed_at_their_own_local_midnight,
    cycle_day_31_bills_leap_february,
    changes_after_invoicing_are_adjusted_on_the_next_invoice,
    vat_is_computed_per_rate_on_summed_bases,
    a_dry_run_writes_nothing,
    drafts_are_numbered_when_issued_and_voids_leave_no_gap,
    a_credit_note_corrects_an_invoice_and_the_next_run_bills_again,
    runs_for_two_periods_at_once_bill_each_day_once,
    issued_documents_keep_their_parties_and_rounding,
    an_account_that_cannot_be_read_fails_alone,
);

async fn a_run_repeated_three_times_invoices_once(backend: Backend) {
    let w = open(backend, 4).await;
    six_accounts(&w.app).await;
    let first = run_on(&w.app, "2026-03-01").await;
    let before = snapshot(&w.app).await;
    assert_eq!(before.len(), 6, "one invoice per account: {before:#?}");
    for _ in 0..2 {
        let again = run_on(&w.app, "2026-03-01").await;
        let view = read::run(&w.app.db, &again).await.expect("run");
        assert_eq!((view.invoices, view.status.as_str()), (0, "completed"));
        assert_ne!(again, first);
    }
    assert_eq!(snapshot(&w.app).await, before);
    let numbers: Vec<String> = all_invoices(&w.app)
        .await
        .into_iter()
        .filter_map(|i| i.number)
        .collect();
    let mut sorted = numbers.clone();
    sorted.sort();
    let expected: Vec<String> = (1..=6).map(|n| format!("INV-2026-{n:06}")).collect();
    assert_eq!(sorted, expected, "gapless numbers");
}

async fn an_interrupted_run_resumes_to_the_same_invoices(backend: Backend) {
    let w = open(backend, 2).await;
    six_accounts(&w.app).await;
    // The run is killed after its first page of two accounts (ACME-EUR, with nothing to
    // bill, and B0) committed.
    let req = request(AsOf::Date(d("2026-03-01")));
    let id = run_interrupted(&w.app.invoicing, &req, 1)
        .await
        .expect("first page");
    let half = read::run(&w.app.db, &id).await.expect("run");
    assert_eq!((half.status.as_str(), half.invoices), ("running", 1));
    // Two nodes resume it at once: they share its pages, and its counts stay true.
    let (a, b) = tokio::join!(run_on(&w.app, "2026-03-01"), run_on(&w.app, "2026-03-01"));
    assert_eq!(
        (a.as_str(), b.as_str()),
        (id.as_str(), id.as_str()),
        "resumed, not restarted"
    );
    let done = read::run(&w.app.db, &id).await.expect("run");
    assert_eq!(
        (done.status.as_str(), done.invoices, done.accounts),
        ("completed", 6, 8)
    );
    let interrupted = snapshot(&w.app).await;

    let u = open(backend, 2).await;
    six_accounts(&u.app).await;
    run_on(&u.app, "2026-03-01").await;
    let uninterrupted = snapshot(&u.app).await;
    // Numbers follow the order accounts were invoiced in, which both runs share.
    assert_eq!(interrupted, uninterrupted);
}

/// Two unfinished runs for one date (two requests that raced): the stalled one is claimed,
/// and that run — not the other — goes on to its end.
async fn a_stalled_run_is_resumed_itself(backend: Backend) {
    let w = open(backend, 2).await;
    six_accounts(&w.app).await;
    let req = request(AsOf::Date(d("2026-03-01")));
    let stalled = run_interrupted(&w.app.invoicing, &req, 1)
        .await
        .expect("first page");
    // An older unfinished run of the same date, still showing progress.
    let now = w.app.clock.now_ms();
    sqlx::query(
        "INSERT INTO billing_runs (id, as_of, trigger_name, issue, status, started_at, updated_at) \
         VALUES ('older', '2026-03-01', 'manual', 1, 'running', 0, $1)",
    )
    .bind(now)
    .execute(&w.app.db.pool)
    .await
    .expect("older run");
    sqlx::query("UPDATE billing_runs SET updated_at = 0 WHERE id = $1")
        .bind(stalled.clone())
        .execute(&w.app.db.pool)
        .await
        .expect("stall");
    assert_eq!(
        resume::resume_stalled(&w.app.invoicing)
            .await
            .expect("resume"),
        1
    );
    let mut done = read::run(&w.app.db, &stalled).await.expect("run");
    for _ in 0..500 {
        if done.status != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        done = read::run(&w.app.db, &stalled).await.expect("run");
    }
    assert_eq!(
        (done.status.as_str(), done.invoices, done.accounts),
        ("completed", 6, 8)
    );
    let older = read::run(&w.app.db, "older").await.expect("older");
    assert_eq!((older.status.as_str(), older.accounts), ("running", 0));
    assert_eq!(snapshot(&w.app).await.len(), 6, "one invoice per account");
}

async fn accounts_are_billed_at_their_own_local_midnight(backend: Backend) {
    let w = open(backend, 10).await;
    account(&w.app, "TONGA", 1, "Pacific/Tongatapu", "EUR").await; // UTC+13
    account(&w.app, "HAWAII", 1, "Pacific/Honolulu", "USD").await; // UTC-10
    for (acc, sub) in [("TONGA", "ST"), ("HAWAII", "SH")] {
        let port = Charge("port", "monthly", "31.00", 1, "2027-01-01", None);
        subscribe(&w.app, acc, sub, "wan-link", &[port]).await;
    }
    assert_eq!(
        run_at(&w.app, "2027-01-31T10:59:00Z").await,
        2,
        "both bill January"
    );
    // 11:00 UTC is midnight of February 1 in Tonga, still January 31 in Hawaii.
    assert_eq!(run_at(&w.app, "2027-01-31T11:00:00Z").await, 1);
    assert_eq!(run_at(&w.app, "2027-02-01T09:59:00Z").await, 0);
    // 10:00 UTC on February 1 is Hawaii's midnight.
    assert_eq!(run_at(&w.app, "2027-02-01T10:00:00Z").await, 1);
    let periods: Vec<(String, String)> = all_invoices(&w.app)
        .await
        .into_iter()
        .map(|i| (i.billing_account, i.period_start))
        .collect();
    for expected in [
        ("TONGA", "2027-01-01"),
        ("TONGA", "2027-02-01"),
        ("HAWAII", "2027-01-01"),
        ("HAWAII", "2027-02-01"),
    ] {
        assert!(
            periods.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {periods:?}"
        );
    }
}

async fn cycle_day_31_bills_leap_february(backend: Backend) {
    let w = open(backend, 10).await;
    account(&w.app, "EOM", 31, "UTC", "EUR").await;
    let port = Charge("port", "monthly", "29.00", 1, "2024-01-31", None);
    subscribe(&w.app, "EOM", "S", "wan-link", &[port]).await;
    for date in ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"] {
        run_on(&w.app, date).await;
    }
    let periods: Vec<(String, String)> = all_invoices(&w.app)
        .await
        .into_iter()
        .map(|i| (i.period_start, i.period_end))
        .collect();
    assert_eq!(
        periods,
        [
            ("2024-01-31".into(), "2024-02-29".into()),
            ("2024-02-29".into(), "2024-03-31".into()),
            ("2024-03-31".into(), "2024-04-30".into()),
            ("2024-04-30".into(), "2024-05-31".into()),
        ]
    );
}

async fn changes_after_invoicing_are_adjusted_on_the_next_invoice(backend: Backend) {
    let w = open(backend, 10).await;
    account(&w.app, "CHG", 1, "Europe/Berlin", "EUR").await;
    let up = Charge("port-100", "monthly", "300.00", 1, "2026-06-01", None);
    subscribe(&w.app, "CHG", "UP", "wan-link", &[up]).await;
    let gone = Charge("lan", "monthly", "62.00", 1, "2026-06-01", None);
    subscribe(&w.app, "CHG", "GONE", "lan-setup", &[gone]).await;
    run_on(&w.app, "2026-06-01").await;
    // After June was invoiced: an upgrade on June 16, a cancellation back-dated to June 11,
    // and a late activation from June 21.
    end_charges(&w.app, "UP", "2026-06-16").await;
    let mut tx = w.app.db.begin_write().await.expect("tx");
    sqlx::query(
        "INSERT INTO subscription_charges (subscription_id, order_id, item_id, price_id, name, kind, \
         period, unit_amount, units, amount, effective_from) VALUES ('UP', 'O2', 'I2', 'port-200', \
         'port-200 fee', 'recurring', 'monthly', '450.00', 1, '450.00', '2026-06-16')",
    )
    .execute(&mut *tx)
    .await
    .expect("upgrade");
    tx.commit().await.expect("commit");
    end_charges(&w.app, "GONE", "2026-06-11").await;
    let late = Charge("cpe", "monthly", "30.00", 1, "2026-06-21", None);
    subscribe(&w.app, "CHG", "LATE", "lan-setup", &[late]).await;

    run_on(&w.app, "2026-07-01").await;
    let july = all_invoices(&w.app)
        .await
        .into_iter()
        .find(|i| i.period_start == "2026-07-01")
        .expect("july invoice");
    let mut lines = lines_of(&w.app, &july).await;
    lines.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
    let expected = [
        // 10 of June's 30 days: 30.00 for the late CPE; July in full.
        ("cpe fee (lan-setup P-LATE)", "1", "10.00"),
        ("cpe fee (lan-setup P-LATE)", "1", "30.00"),
        // Cancelled from June 11: 20 of 30 days of 62.00 back.
        ("lan fee (lan-setup P-GONE) (credit)", "-1", "-41.33"),
        // Upgraded on June 16: 15 days of the old price back, 15 of the new one charged.
        ("port-100 fee (wan-link P-UP) (credit)", "-1", "-150.00"),
        ("port-200 fee (wan-link P-UP)", "1", "225.00"),
        ("port-200 fee (wan-link P-UP)", "1", "450.00"),
    ];
    let expected: Vec<(String, Decimal, Decimal)> = expected
        .iter()
        .map(|(d, q, n)| (d.to_string(), dec(q), dec(n)))
        .collect();
    assert_eq!(lines, expected);
    assert_eq!(dec(&july.line_net_total), dec("523.67"));
}

async fn vat_is_computed_per_rate_on_summed_bases(backend: Backend) {
    let w = open(backend, 10).await;
    let mut reduced = BillingAccount {
        id: "VAT".into(),
        customer_account: "ACME".into(),
        name: "Acme VAT".into(),
        currency: "EUR".into(),
        ..Default::default()
    };
    reduced.tax_by_offering.insert(
        "lan-setup".into(),
        TaxRate::new(TaxCategory::Standard, dec("7")).expect("rate"),
    );
    accounts::add_billing(&w.app.db, "test", &reduced, w.app.now_ms())
        .await
        .expect("account");
    // Five lines of 0.04 at 19%: 0.0076 each would round to 0.01 per line (0.05 in all);
    // on the summed base 0.20 the tax is 0.038 -> 0.04.
    for n in 0..5 {
        let tiny = Charge("mini", "monthly", "0.04", 1, "2026-01-01", None);
        subscribe(&w.app, "VAT", &format!("T{n}"), "wan-link", &[tiny]).await;
    }
    let lan = Charge("lan", "monthly", "100.00", 1, "2026-01-01", None);
    subscribe(&w.app, "VAT", "L", "lan-setup", &[lan]).await;
    run_on(&w.app, "2026-01-01").await;
    let invoice = all_invoices(&w.app).await.remove(0);
    let (_, doc) = read::document_of(&w.app.db, &invoice.id)
        .await
        .expect("document");
    let subtotals: Vec<(String, Decimal, Decimal)> = doc
        .invoice
        .tax_subtotals()
        .iter()
        .map(|s| (s.rate.to_string(), s.taxable.amount(), s.tax.amount()))
        .collect();
    assert_eq!(
        subtotals,
        [
            ("S 7%".to_string(), dec("100.00"), dec("7.00")),
            ("S 19%".to_string(), dec("0.20"), dec("0.04")),
        ]
    );
    assert_eq!(dec(&invoice.tax_total), dec("7.04"));
    assert_eq!(dec(&invoice.payable), dec("107.24"));
    assert!(doc.invoice.check_rules().is_empty());
}

async fn a_dry_run_writes_nothing(backend: Backend) {
    let w = open(backend, 4).await;
    six_accounts(&w.app).await;
    let mut req = request(AsOf::Date(d("2026-03-01")));
    req.dry_run = true;
    let RunOutcome::Dry(dry) = run(&w.app.invoicing, req).await.expect("dry run") else {
        panic!("a dry run")
    };
    // The world's own two accounts have no subscriptions.
    assert_eq!((dry.accounts, dry.documents, dry.lines), (8, 6, 9));
    let drafts = dry.drafts;
    assert!(all_invoices(&w.app).await.is_empty());
    assert!(read::runs(&w.app.db, 10).await.expect("runs").is_empty());
    // The real run issues exactly what the dry run showed.
    run_on(&w.app, "2026-03-01").await;
    let mut shown: Vec<(String, Decimal)> = drafts
        .iter()
        .map(|d| (d.account.clone(), d.invoice.totals().payable.amount()))
        .collect();
    let mut issued: Vec<(String, Decimal)> = all_invoices(&w.app)
        .await
        .into_iter()
        .map(|i| (i.billing_account, dec(&i.payable)))
        .collect();
    shown.sort();
    issued.sort();
    assert_eq!(shown, issued);
    let stored = read::run_totals(
        &w.app.db,
        &read::runs(&w.app.db, 1).await.expect("runs")[0].id,
    )
    .await
    .expect("totals");
    let dry_totals: Vec<(String, u64, String)> = dry
        .totals
        .iter()
        .map(|t| (t.kind.clone(), t.documents, t.payable.clone()))
        .collect();
    let run_totals: Vec<(String, u64, String)> = stored
        .iter()
        .map(|t| (t.kind.clone(), t.documents, t.payable.clone()))
        .collect();
    assert_eq!(dry_totals, run_totals, "the dry run's totals are the run's");
    // The totals were kept when the run ended; a run without them is summed when read.
    let run_id = read::runs(&w.app.db, 1).await.expect("runs")[0].id.clone();
    let kept: Option<String> = sqlx::query("SELECT totals FROM billing_runs WHERE id = $1")
        .bind(run_id.clone())
        .fetch_one(&w.app.db.pool)
        .await
        .expect("run")
        .get::<Option<String>, _>(0);
    assert!(
        kept.is_some_and(|k| k.contains("\"documents\"")),
        "kept at the end"
    );
    let summed = read::sum_run_totals(&w.app.db, &run_id).await.expect("sum");
    assert_eq!(stored, summed);
    sqlx::query("UPDATE billing_runs SET totals = NULL WHERE id = $1")
        .bind(run_id.clone())
        .execute(&w.app.db.pool)
        .await
        .expect("forget");
    let read_again = read::run_totals(&w.app.db, &run_id).await.expect("totals");
    assert_eq!(read_again, summed);
}

async fn drafts_are_numbered_when_issued_and_voids_leave_no_gap(backend: Backend) {
    let w = open(backend, 4).await;
    six_accounts(&w.app).await;
    let mut req = request(AsOf::Date(d("2026-03-01")));
    req.issue = false;
    let RunOutcome::Stored(id) = run(&w.app.invoicing, req).await.expect("run") else {
        panic!("stored")
    };
    let drafts = all_invoices(&w.app).await;
    assert!(drafts
        .iter()
        .all(|i| i.status == "draft" && i.number.is_none()));
    let voided = ops::void_draft(&w.app.invoicing, &drafts[0].id)
        .await
        .expect("void");
    assert_eq!(voided.status, "void");
    assert!(matches!(
        ops::void_draft(&w.app.invoicing, &drafts[0].id).await,
        Err(DeskError::Conflict(_))
    ));
    // Drafts count as billed: a second run does not bill those periods again.
    let again = run_on(&w.app, "2026-03-01").await;
    assert_eq!(read::run(&w.app.db, &again).await.expect("run").invoices, 0);
    assert_eq!(all_invoices(&w.app).await.len(), 6);
    assert_eq!(
        ops::issue_drafts(&w.app.invoicing, &id)
            .await
            .expect("issue"),
        5
    );
    let mut numbers: Vec<String> = all_invoices(&w.app)
        .await
        .into_iter()
        .filter_map(|i| i.number)
        .collect();
    numbers.sort();
    let expected: Vec<String> = (1..=5).map(|n| format!("INV-2026-{n:06}")).collect();
    assert_eq!(numbers, expected);
    // An issued invoice cannot be voided.
    let issued = all_invoices(&w.app)
        .await
        .into_iter()
        .find(|i| i.status == "issued")
        .expect("issued");
    assert!(matches!(
        ops::void_draft(&w.app.invoicing, &issued.id).await,
        Err(DeskError::Conflict(_))
    ));
}

async fn a_credit_note_corrects_an_invoice_and_the_next_run_bills_again(backend: Backend) {
    let w = open(backend, 4).await;
    account(&w.app, "CN", 1, "UTC", "EUR").await;
    let port = Charge("port", "monthly", "100.00", 1, "2026-03-01", None);
    subscribe(&w.app, "CN", "S", "wan-link", &[port]).await;
    run_on(&w.app, "2026-03-01").await;
    let invoice = all_invoices(&w.app).await.remove(0);
    let note = ops::credit_invoice(&w.app.invoicing, &invoice.id)
        .await
        .expect("credit note");
    assert_eq!(
        (
            note.kind.as_str(),
            note.number.as_deref(),
            note.payable.as_str()
        ),
        (
            "credit_note",
            Some("CN-2026-000001"),
            invoice.payable.as_str()
        )
    );
    assert_eq!(note.preceding_id.as_deref(), Some(invoice.id.as_str()));
    assert!(matches!(
        ops::credit_invoice(&w.app.invoicing, &invoice.id).await,
        Err(DeskError::Conflict(_))
    ));
    let (_, doc) = read::document_of(&w.app.db, &note.id)
        .await
        .expect("document");
    assert_eq!(
        doc.preceding.map(|p| p.number),
        invoice.number.clone(),
        "the credit note names the invoice it corrects"
    );
    // April's invoice bills March again (the credit gave it back) and April.
    run_on(&w.app, "2026-04-01").await;
    let april = all_invoices(&w.app)
        .await
        .into_iter()
        .find(|i| i.period_start == "2026-04-01")
        .expect("april");
    assert_eq!(dec(&april.line_net_total), dec("200.00"));
    assert_eq!(april.number.as_deref(), Some("INV-2026-000002"));
}

async fn runs_for_two_periods_at_once_bill_each_day_once(backend: Backend) {
    let w = open(backend, 2).await;
    six_accounts(&w.app).await;
    let (march, april) = tokio::join!(
        run(&w.app.invoicing, request(AsOf::Date(d("2026-03-01")))),
        run(&w.app.invoicing, request(AsOf::Date(d("2026-04-01"))))
    );
    march.expect("march");
    april.expect("april");
    // Whichever went first, each account is billed March and April once, and the setup once.
    for n in 0..6 {
        let account = format!("B{n}");
        let billed: Decimal = all_invoices(&w.app)
            .await
            .iter()
            .filter(|i| i.billing_account == account)
            .map(|i| dec(&i.line_net_total))
            .sum();
        let setup = if n % 2 == 0 {
            dec("250")
        } else {
            Decimal::ZERO
        };
        assert_eq!(billed, Decimal::from(200 * (1 + n)) + setup, "{account}");
    }
    // A run for an earlier date after a later one finds nothing due.
    let id = run_on(&w.app, "2026-03-15").await;
    assert_eq!(read::run(&w.app.db, &id).await.expect("run").invoices, 0);
}

async fn issued_documents_keep_their_parties_and_rounding(backend: Backend) {
    let w = open(backend, 4).await;
    account(&w.app, "KEEP", 1, "UTC", "EUR").await;
    set_buyers(&w.app).await;
    let port = Charge("port", "monthly", "100.00", 1, "2026-03-01", None);
    subscribe(&w.app, "KEEP", "S", "wan-link", &[port]).await;
    run_on(&w.app, "2026-03-01").await;
    let invoice = all_invoices(&w.app).await.remove(0);
    let (_, before) = read::document_of(&w.app.db, &invoice.id)
        .await
        .expect("document");
    assert_eq!(before.buyer.name, "Acme Corp");
    assert_eq!(before.payment_terms.as_deref(), Some("Net 30 days"));
    // The account's buyer moves, and another node runs with another seller and rounding.
    let mut tx = w.app.db.begin_write().await.expect("tx");
    sqlx::query("UPDATE billing_accounts SET buyer = NULL, payment_terms_days = 10")
        .execute(&mut *tx)
        .await
        .expect("update");
    tx.commit().await.expect("commit");
    let mut options = l2c::app::AppOptions::new(w.url.clone());
    options.settings.billing.seller.name = "Someone Else AG".into();
    options.settings.billing.rounding = l2c_billing::Rounding::HalfEven;
    let other = App::open(options).await.expect("second node");
    let (_, after) = read::document_of(&other.db, &invoice.id)
        .await
        .expect("document");
    assert_eq!(after, before, "an issued document never changes");
}

async fn an_account_that_cannot_be_read_fails_alone(backend: Backend) {
    let w = open(backend, 4).await;
    six_accounts(&w.app).await;
    // B2's stored charge is damaged: its amount is not a number.
    let mut tx = w.app.db.begin_write().await.expect("tx");
    sqlx::query(
        "UPDATE subscription_charges SET unit_amount = 'lots' WHERE subscription_id = 'S2'",
    )
    .execute(&mut *tx)
    .await
    .expect("damage");
    // And B4's account row: its VAT is not a tax rate.
    sqlx::query("UPDATE billing_accounts SET tax = '{\"category\": \"S\"}' WHERE id = 'B4'")
        .execute(&mut *tx)
        .await
        .expect("damage");
    tx.commit().await.expect("commit");
    let mut req = request(AsOf::Date(d("2026-03-01")));
    req.dry_run = true;
    let RunOutcome::Dry(dry) = run(&w.app.invoicing, req).await.expect("dry run") else {
        panic!("a dry run")
    };
    assert_eq!(dry.documents, 4);
    let failed: Vec<&str> = dry.failures.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(failed, ["B2", "B4"]);
    let id = run_on(&w.app, "2026-03-01").await;
    let view = read::run(&w.app.db, &id).await.expect("run");
    assert_eq!(
        (view.status.as_str(), view.invoices, view.failed),
        ("completed", 4, 2)
    );
    let error = view.error.unwrap_or_default();
    assert!(error.contains("B2") && error.contains("lots"), "{error}");
    // Repaired, the next run bills it.
    let mut tx = w.app.db.begin_write().await.expect("tx");
    sqlx::query(
        "UPDATE subscription_charges SET unit_amount = '100.00' WHERE subscription_id = 'S2'",
    )
    .execute(&mut *tx)
    .await
    .expect("repair");
    sqlx::query("UPDATE billing_accounts SET tax = NULL WHERE id = 'B4'")
        .execute(&mut *tx)
        .await
        .expect("repair");
    tx.commit().await.expect("commit");
    let again = run_on(&w.app, "2026-03-01").await;
    let view = read::run(&w.app.db, &again).await.expect("run");
    assert_eq!((view.invoices, view.failed), (2, 0));
}
