//! Billing over HTTP, after a real order: the WAN link is delivered through its workflow,
//! finance runs billing, the requester sees the issued invoice (and nobody else's), finance
//! exports the run (UBL once the buyer is known), and bad requests get problems with their
//! field paths.

use crate::support;

use l2c_invoicing::run::run_interrupted;
use l2c_invoicing::{resume, AsOf};
use serde_json::{json, Value};
use support::client::Api;
use support::{world, Backend};

scenarios!(
    an_order_is_billed_over_http,
    a_run_goes_on_in_the_background,
    a_stalled_run_is_resumed_by_the_scheduler,
    bad_billing_requests_are_problems,
    ubl_documents_over_http,
    a_run_takes_no_body_and_refuses_a_date_still_ahead,
);

async fn start(backend: Backend) -> Api {
    Api::start(world(backend).await).await
}

async fn deliver(api: &Api) {
    let order = json!({"billing_account": "ACME-EUR", "items": [{"action": "add",
        "offering": "wan-link", "characteristics": {"bandwidth_mbps": 100,
        "a_end_site": "FRA-001", "b_end_site": "MUC-002"}}]});
    let placed = api.post("rita", "/api/v1/orders", order).await;
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    for (user, group, action, body) in [
        ("nina", "network-engineering", "approve", json!({})),
        (
            "fred",
            "field-engineers",
            "complete",
            json!({"data": {"cpe_serial": "C1"}}),
        ),
    ] {
        let task = api.task(user, group).await;
        let id = task["id"].as_str().expect("task");
        let r = api
            .post(user, &format!("/api/v1/tasks/{id}/{action}"), body)
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let id = placed.body["id"].as_str().expect("id");
    api.order_state("rita", id, "completed").await;
}

async fn an_order_is_billed_over_http(backend: Backend) {
    let api = start(backend).await;
    deliver(&api).await;
    let dry = api
        .post("fay", "/api/v1/billing-runs", json!({"dry_run": true}))
        .await;
    assert_eq!(dry.status, 200, "{:?}", dry.body);
    assert_eq!(dry.body["invoices"].as_array().map(Vec::len), Some(1));
    let run = api.post("fay", "/api/v1/billing-runs", json!({})).await;
    assert_eq!(run.status, 201, "{:?}", run.body);
    assert_eq!(
        (run.body["invoices"].as_i64(), run.body["status"].as_str()),
        (Some(1), Some("completed"))
    );
    let totals = &run.body["totals"][0];
    assert_eq!(
        (totals["currency"].as_str(), totals["kind"].as_str()),
        (Some("EUR"), Some("invoice"))
    );
    let run_id = run.body["id"].as_str().expect("run id").to_string();
    let again = api.post("fay", "/api/v1/billing-runs", json!({})).await;
    assert_eq!(
        again.body["invoices"], 0,
        "a repeated run bills nothing: {:?}",
        again.body
    );

    let mine = api.ok("rita", "/api/v1/invoices").await;
    let invoice = mine[0].clone();
    assert_eq!(mine.as_array().map(Vec::len), Some(1));
    assert_eq!(invoice["billing_account"], "ACME-EUR");
    assert_eq!(invoice["status"], "issued");
    let number = invoice["number"].as_str().expect("number");
    assert!(number.starts_with("INV-"), "{number}");
    let id = invoice["id"].as_str().expect("id");
    let detail = api.ok("rita", &format!("/api/v1/invoices/{id}")).await;
    let lines = detail["document"]["invoice"]["lines"]
        .as_array()
        .expect("lines");
    let nets: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["net"]["amount"].as_str())
        .collect();
    assert!(
        nets.contains(&"1500.00"),
        "the one-time installation fee: {lines:?}"
    );
    assert_eq!(
        detail["document"]["invoice"]["totals"]["payable"]["amount"],
        invoice["payable"]
    );
    // Another customer sees neither the list entry nor the invoice.
    assert_eq!(api.ok("gus", "/api/v1/invoices").await, json!([]));
    assert_eq!(
        api.get("gus", &format!("/api/v1/invoices/{id}"))
            .await
            .status,
        404
    );

    let csv = api
        .get(
            "fay",
            &format!("/api/v1/billing-runs/{run_id}/export?format=csv"),
        )
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    let rows: Vec<&str> = csv.text.lines().collect();
    assert!(rows[0].starts_with("invoice_number,document_kind,status,issue_date"));
    assert_eq!(rows.len(), 1 + lines.len(), "{}", csv.text);
    assert!(rows[1].starts_with(number));
    // Compressed, the same stream (a streamed body ends once, also through the encoder).
    let gzipped = api
        .send(
            Some("fay"),
            api.http
                .get(api.url(&format!("/api/v1/billing-runs/{run_id}/export?format=csv")))
                .header("accept-encoding", "gzip"),
        )
        .await;
    assert_eq!(gzipped.headers["content-encoding"], "gzip");
    let mut unzipped = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(gzipped.bytes.as_slice()),
        &mut unzipped,
    )
    .expect("a whole gzip stream");
    assert_eq!(unzipped, csv.text);
    let json = api
        .get(
            "fay",
            &format!("/api/v1/billing-runs/{run_id}/export?format=json"),
        )
        .await;
    assert_eq!(json.body["invoices"][0]["number"], number);
    // ACME-EUR has no buyer party: a UBL document would lack mandatory fields.
    let ubl = api
        .get(
            "fay",
            &format!("/api/v1/billing-runs/{run_id}/export?format=ubl"),
        )
        .await;
    assert_eq!(ubl.status, 422, "{:?}", ubl.body);
    assert_eq!(ubl.body["errors"][0]["path"], "format");
    let single = api.get("rita", &format!("/api/v1/invoices/{id}/ubl")).await;
    assert_eq!(single.status, 422, "{:?}", single.body);
    let paths: Vec<&str> = single.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert!(paths.contains(&"buyer.street"), "{paths:?}");

    let by_number = api
        .get("rita", &format!("/api/v1/invoices?number={number}"))
        .await;
    assert_eq!(by_number.body[0]["id"], id);
    let credit = api
        .post(
            "fay",
            &format!("/api/v1/invoices/{id}/credit-note"),
            Value::Null,
        )
        .await;
    assert_eq!(credit.status, 201, "{:?}", credit.body);
    assert_eq!(credit.body["kind"], "credit_note");
    // Pages: the invoice, then the credit note after it.
    let first = api.ok("fay", "/api/v1/invoices?limit=1").await;
    assert_eq!(first.as_array().map(Vec::len), Some(1));
    assert_eq!(first[0]["id"], id);
    let next = api
        .ok("fay", &format!("/api/v1/invoices?limit=1&after={id}"))
        .await;
    assert_eq!(next[0]["kind"], "credit_note");
    let bad = api.get("fay", "/api/v1/invoices?limit=0").await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    let twice = api
        .post(
            "fay",
            &format!("/api/v1/invoices/{id}/credit-note"),
            Value::Null,
        )
        .await;
    assert_eq!(twice.status, 409);
    api.stop().await;
}

async fn a_run_goes_on_in_the_background(backend: Backend) {
    let api = start(backend).await;
    deliver(&api).await;
    let dry = api
        .post(
            "fay",
            "/api/v1/billing-runs",
            json!({"dry_run": true, "wait": false}),
        )
        .await;
    assert_eq!(dry.status, 422, "{:?}", dry.body);
    assert_eq!(dry.body["errors"][0]["path"], "wait");
    let run = api
        .post("fay", "/api/v1/billing-runs", json!({"wait": false}))
        .await;
    assert_eq!(run.status, 202, "{:?}", run.body);
    let id = run.body["id"].as_str().expect("run id");
    let location = format!("/api/v1/billing-runs/{id}");
    assert_eq!(run.location.as_deref(), Some(location.as_str()));
    let done = api
        .wait("fay", &location, "the run to end", |r| {
            r["status"] != "running"
        })
        .await;
    assert_eq!(
        (done["status"].as_str(), done["invoices"].as_i64()),
        (Some("completed"), Some(1)),
        "{done:?}"
    );
    let mine = api.ok("rita", "/api/v1/invoices").await;
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine:?}");
    api.stop().await;
}

async fn a_stalled_run_is_resumed_by_the_scheduler(backend: Backend) {
    let api = start(backend).await;
    deliver(&api).await;
    let app = &api.world.app;
    // A run whose process died right after it began: running, no page billed.
    let request = support::billing::request(AsOf::Instant(app.clock.now()));
    let id = run_interrupted(&app.invoicing, &request, 0)
        .await
        .expect("begun");
    let path = format!("/api/v1/billing-runs/{id}");
    let begun = api.ok("fay", &path).await;
    assert_eq!(
        (begun["status"].as_str(), begun["invoices"].as_i64()),
        (Some("running"), Some(0))
    );
    let fresh = resume::claim_stalled(&app.invoicing).await.expect("claim");
    assert!(fresh.is_empty(), "a run that just began is not stalled");
    api.advance("2m").await;
    let done = api
        .wait("fay", &path, "the scheduler to resume the run", |r| {
            r["status"] != "running"
        })
        .await;
    assert_eq!(
        (done["status"].as_str(), done["invoices"].as_i64()),
        (Some("completed"), Some(1)),
        "{done:?}"
    );
    let runs = api.ok("fay", "/api/v1/billing-runs").await;
    assert_eq!(
        runs.as_array().map(Vec::len),
        Some(1),
        "resumed, not restarted: {runs:?}"
    );
    api.stop().await;
}

async fn bad_billing_requests_are_problems(backend: Backend) {
    let api = start(backend).await;
    let bad_date = api
        .post("fay", "/api/v1/billing-runs", json!({"date": "2026-02-30"}))
        .await;
    assert_eq!(bad_date.status, 422, "{:?}", bad_date.body);
    let far = api
        .post("fay", "/api/v1/billing-runs", json!({"date": "2206-12-01"}))
        .await;
    assert_eq!(far.status, 422, "{:?}", far.body);
    assert_eq!(far.body["errors"][0]["path"], "date");
    let unknown = api
        .post("fay", "/api/v1/billing-runs", json!({"when": "now"}))
        .await;
    assert_eq!(unknown.status, 422, "{:?}", unknown.body);
    let schedule = api
        .post(
            "fay",
            "/api/v1/billing-schedules",
            json!({"name": "bad name", "cron": "every day", "time_zone": "Mars/Base"}),
        )
        .await;
    assert_eq!(schedule.status, 422);
    let paths: Vec<&str> = schedule.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(paths, ["name", "cron", "time_zone"]);
    let format = api
        .get("fay", "/api/v1/billing-runs/x/export?format=docx")
        .await;
    assert_eq!(format.status, 400, "{:?}", format.body);
    let account = api
        .post(
            "ada",
            "/api/v1/billing-accounts",
            json!({"id": "X", "customer_account": "ACME", "name": "X",
            "currency": "EUR", "cycle_day": 1, "time_zone": "UTC", "payment_terms_days": 30,
            "invoice_series": "inv", "tax": {"category": "S", "percent": "0"},
            "buyer": {"name": "", "street": "s", "city": "c", "postcode": "p", "country": "Germany",
                "endpoint_scheme": "0088", "endpoint_id": "1"}}),
        )
        .await;
    assert_eq!(account.status, 422, "{:?}", account.body);
    api.stop().await;
}

async fn ubl_documents_over_http(backend: Backend) {
    let api = start(backend).await;
    let app = api.world.app.clone();
    support::billing::set_buyers(&app).await;
    let port = support::billing::Charge("port", "monthly", "100.00", 1, "2026-03-01", None);
    support::billing::subscribe(&app, "ACME-EUR", "S1", "wan-link", &[port]).await;
    let run = api
        .post("fay", "/api/v1/billing-runs", json!({"date": "2026-03-01"}))
        .await;
    assert_eq!(run.status, 201, "{:?}", run.body);
    let run_id = run.body["id"].as_str().expect("run id").to_string();
    let invoice = api.ok("rita", "/api/v1/invoices").await[0].clone();
    let number = invoice["number"].as_str().expect("number").to_string();
    // One document by number, from the run's export, and the requester's own by id.
    let one = api
        .get(
            "fay",
            &format!("/api/v1/billing-runs/{run_id}/export?format=ubl&invoice={number}"),
        )
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert!(
        one.content_type.starts_with("application/xml"),
        "{}",
        one.content_type
    );
    assert!(
        one.text.contains(&format!("<cbc:ID>{number}</cbc:ID>")),
        "{}",
        one.text
    );
    assert!(
        one.text
            .contains("<cbc:PayableAmount currencyID=\"EUR\">119.00</cbc:PayableAmount>"),
        "{}",
        one.text
    );
    let id = invoice["id"].as_str().expect("id");
    let mine = api.get("rita", &format!("/api/v1/invoices/{id}/ubl")).await;
    assert_eq!((mine.status, mine.text.as_str()), (200, one.text.as_str()));
    let zip = api
        .get(
            "fay",
            &format!("/api/v1/billing-runs/{run_id}/export?format=ubl"),
        )
        .await;
    assert_eq!(zip.status, 200);
    assert_eq!(zip.content_type, "application/zip");
    // The same document as a PDF a person reads: its number, its total and where to pay.
    let pdf = api.get("rita", &format!("/api/v1/invoices/{id}/pdf")).await;
    assert_eq!(pdf.status, 200, "{}", pdf.text);
    assert_eq!(pdf.content_type, "application/pdf");
    let text = pdf_extract::extract_text_from_mem(&pdf.bytes).expect("a readable PDF");
    for wanted in [number.as_str(), "119.00", "DE89 3704 0044 0532 0130 00"] {
        assert!(text.contains(wanted), "{wanted} in {text}");
    }
    let pdfs = api
        .get(
            "fay",
            &format!("/api/v1/billing-runs/{run_id}/export?format=pdf"),
        )
        .await;
    assert_eq!(
        (pdfs.status, pdfs.content_type.as_str()),
        (200, "application/zip")
    );
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(pdfs.bytes)).expect("zip");
    let mut first = Vec::new();
    std::io::Read::read_to_end(
        &mut archive.by_name(&format!("{number}.pdf")).expect("entry"),
        &mut first,
    )
    .expect("pdf");
    assert_eq!(first, pdf.bytes, "the export holds the same PDF");
    let one = api
        .get(
            "fay",
            &format!("/api/v1/billing-runs/{run_id}/export?format=pdf&invoice={number}"),
        )
        .await;
    assert_eq!((one.status, one.bytes), (200, pdf.bytes));
    api.stop().await;
}

/// `POST /billing-runs` with no body runs with every default; a date after some account's
/// today is refused (422 naming `date`) unless it says `ahead`; a dry run may take any date.
async fn a_run_takes_no_body_and_refuses_a_date_still_ahead(backend: Backend) {
    let api = start(backend).await;
    let bare = api
        .send(Some("fay"), api.http.post(api.url("/api/v1/billing-runs")))
        .await;
    assert_eq!(bare.status, 201, "{:?}", bare.body);
    assert_eq!(bare.body["status"], "completed");

    let tomorrow = (api.world.app.clock.now() + chrono::Duration::days(2))
        .date_naive()
        .to_string();
    let ahead = api
        .post("fay", "/api/v1/billing-runs", json!({ "date": tomorrow }))
        .await;
    assert_eq!(ahead.status, 422, "{:?}", ahead.body);
    assert_eq!(ahead.body["errors"][0]["path"], "date");
    assert_eq!(ahead.body["errors"][0]["rule"], "future");
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM billing_runs")
        .fetch_one(&api.world.app.db.pool)
        .await
        .expect("runs");
    assert_eq!(runs, 1, "the refused run was not stored");
    let dry = api
        .post(
            "fay",
            "/api/v1/billing-runs",
            json!({ "date": tomorrow, "dry_run": true }),
        )
        .await;
    assert_eq!(dry.status, 200, "{:?}", dry.body);
    let meant = api
        .post(
            "fay",
            "/api/v1/billing-runs",
            json!({ "date": tomorrow, "ahead": true }),
        )
        .await;
    assert_eq!(meant.status, 201, "{:?}", meant.body);
    api.stop().await;
}
