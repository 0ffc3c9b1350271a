//! A run's exports parsed back (CSV, JSON, zips of UBL and of PDF documents), and `l2c billing run`
//! killed in the middle of a run and started again, then exported with `l2c billing export`.

use crate::support;

use l2c_invoicing::export::{self, Format};
use l2c_invoicing::read;
use l2c_orders::error::DeskError;
use rust_decimal::Decimal;
use support::billing::*;
use support::Backend;

scenarios!(exports_carry_every_line,);

async fn exports_carry_every_line(backend: Backend) {
    let w = open(backend, 4).await;
    six_accounts(&w.app).await;
    let id = run_on(&w.app, "2026-03-01").await;
    let view = read::run(&w.app.db, &id).await.expect("run");
    assert_eq!(view.lines, 9);

    let csv = export_bytes(&w.app, &id, Format::Csv).await;
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(header, export::CSV_COLUMNS);
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows");
    assert_eq!(rows.len(), 9);
    let net: Decimal = rows.iter().map(|r| dec(&r[14])).sum();
    let invoiced: Decimal = all_invoices(&w.app)
        .await
        .iter()
        .map(|i| dec(&i.line_net_total))
        .sum();
    assert_eq!(net, invoiced);
    assert_eq!(&rows[0][0], "INV-2026-000001");

    let json: serde_json::Value =
        serde_json::from_slice(&export_bytes(&w.app, &id, Format::Json).await).expect("json");
    let invoices = json["invoices"].as_array().expect("invoices");
    assert_eq!(invoices.len(), 6);
    assert_eq!(json["run"]["id"], id.as_str());
    for i in invoices {
        assert_eq!(i["totals"]["payable"]["amount"], i["payable"], "{i}");
    }

    // UBL needs each buyer's party: the export says which account lacked it when its
    // invoice was made. April's invoices, made after the buyers were set, have it.
    let refused = export::check_documents_ready(&w.app.db, &id, None).await;
    assert!(matches!(refused, Err(DeskError::Validation(ref p)) if p[0].message.contains("B0")));
    set_buyers(&w.app).await;
    let id = run_on(&w.app, "2026-04-01").await;
    let zip = export_bytes(&w.app, &id, Format::Ubl).await;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("zip");
    assert_eq!(archive.len(), 6);
    let mut first = String::new();
    std::io::Read::read_to_string(
        &mut archive.by_name("INV-2026-000007.xml").expect("entry"),
        &mut first,
    )
    .expect("xml");
    assert!(
        first.contains("<cbc:ID>INV-2026-000007</cbc:ID>"),
        "{first}"
    );
    assert!(first.contains("urn:fdc:peppol.eu:2017:poacc:billing:3.0"));

    let zip = export_bytes(&w.app, &id, Format::Pdf).await;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("zip");
    assert_eq!(archive.len(), 6);
    let mut pdf = Vec::new();
    std::io::Read::read_to_end(
        &mut archive.by_name("INV-2026-000007.pdf").expect("entry"),
        &mut pdf,
    )
    .expect("pdf");
    let text = pdf_extract::extract_text_from_mem(&pdf).expect("a readable PDF");
    assert!(text.contains("INV-2026-000007"), "{text}");

    // The same document from the command line, by number, into a file.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("INV-2026-000007.pdf");
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_l2c"))
        .args(["billing", "export", &id, "--format", "pdf", "--invoice"])
        .args(["INV-2026-000007", "--database-url", &w.url, "--output"])
        .arg(&file)
        .output()
        .expect("l2c billing export --format pdf");
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert_eq!(std::fs::read(&file).expect("written"), pdf);
}

/// The real thing: `l2c billing run` is killed (SIGKILL) in the middle of a run and started
/// again; the result equals an uninterrupted run's, numbers included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_billing_process_resumes_to_the_same_invoices() {
    const ACCOUNTS: usize = 1500;
    let w = open(Backend::Sqlite, 1).await;
    many_accounts(&w.app, ACCOUNTS).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("l2c.toml");
    std::fs::write(&config, "[billing]\naccounts_per_chunk = 1\n").expect("config");
    let cli = |url: &str| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_l2c"));
        c.args([
            "billing",
            "run",
            "--date",
            "2026-03-01",
            "--database-url",
            url,
            "--config",
        ])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        c
    };
    // A dry run first: it shows every document and writes nothing.
    let dry = cli(&w.url)
        .arg("--dry-run")
        .stdout(std::process::Stdio::piped())
        .output()
        .expect("l2c billing run --dry-run");
    let shown = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success());
    assert!(
        shown.contains(&format!(
            "{ACCOUNTS} documents with {ACCOUNTS} lines would be issued"
        )),
        "{shown}"
    );
    assert!(all_invoices(&w.app).await.is_empty());
    assert!(read::runs(&w.app.db, 1).await.expect("runs").is_empty());
    let mut child = cli(&w.url).spawn().expect("l2c billing run");
    let started = std::time::Instant::now();
    loop {
        let n = all_invoices(&w.app).await.len();
        if n >= 20 {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "the run wrote {n} invoices in a minute"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().expect("kill");
    child.wait().expect("reaped");
    let runs = read::runs(&w.app.db, 10).await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, "running", "killed mid-run");
    assert!(
        (runs[0].invoices as usize) < ACCOUNTS,
        "the kill came before the end: {} invoices",
        runs[0].invoices
    );
    let status = cli(&w.url).status().expect("second run");
    assert!(status.success());
    let runs = read::runs(&w.app.db, 10).await.expect("runs");
    assert_eq!(runs.len(), 1, "resumed, not restarted");
    assert_eq!(
        (runs[0].status.as_str(), runs[0].invoices as usize),
        ("completed", ACCOUNTS)
    );
    let killed = snapshot(&w.app).await;
    let csv = dir.path().join("run.csv");
    let export = std::process::Command::new(env!("CARGO_BIN_EXE_l2c"))
        .args([
            "billing",
            "export",
            &runs[0].id,
            "--format",
            "csv",
            "--database-url",
            &w.url,
        ])
        .arg("--output")
        .arg(&csv)
        .output()
        .expect("l2c billing export");
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let text = std::fs::read_to_string(&csv).expect("csv written");
    assert_eq!(text.lines().count(), ACCOUNTS + 1);

    let u = open(Backend::Sqlite, 1).await;
    many_accounts(&u.app, ACCOUNTS).await;
    run_on(&u.app, "2026-03-01").await;
    assert_eq!(killed, snapshot(&u.app).await);
}
