//! End-to-end tests of the `l2c` binary: catalog and workflow commands, the demo, and the
//! commands that run l2c on a database (migrate, user and account setup, serve).

use std::path::PathBuf;
use std::process::{Command, Output};

fn l2c(args: &[&str]) -> Output {
    l2c_with_stdin(args, "")
}

/// Runs l2c with `input` on its standard input (closed after it).
fn l2c_with_stdin(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_l2c"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the l2c binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write the input");
    child.wait_with_output().expect("l2c ends")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn catalog_check_accepts_the_shipped_catalog() {
    let out = l2c(&["catalog", "check"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(stdout.starts_with("catalog/catalog.toml: OK\n"), "{stdout}");
    assert!(
        stdout.contains("6 offering versions (4 active, 1 retired, 1 draft)"),
        "{stdout}"
    );
    assert!(stdout.contains("wan-link v2"), "{stdout}");
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalog/catalog.toml");
    let out = l2c(&["catalog", "check", file.to_str().expect("utf-8 path")]);
    assert!(
        out.status.success(),
        "the same file given by path: {}",
        text(&out.stderr)
    );
}

#[test]
fn catalog_check_rejects_a_broken_catalog_with_every_problem() {
    let out = l2c(&["catalog", "check", "catalog/tests/fixtures/broken.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no summary for a broken catalog");
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(
            "error: catalog/tests/fixtures/broken.toml: 15 problem(s) in the catalog:"
        ),
        "{stderr}"
    );
    for needle in [
        "offering `wan-link` v1: defined twice (entries 1 and 2)",
        "price `service`: currency `EUX` is not an ISO 4217 code",
        "tier 2 (250) can never apply",
        "default 0 is not a valid value: 0 is below the minimum 1",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
}

#[test]
fn catalog_check_reports_a_missing_file() {
    let out = l2c(&["catalog", "check", "no/such/catalog.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no/such/catalog.toml: cannot read the catalog"));
}

#[test]
fn catalog_show_lists_prices_and_service_definitions() {
    let out = l2c(&["catalog", "show", "--offering", "lan-setup"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.starts_with("lan-setup v1 — Managed LAN Setup [active, from 2025-01-01]"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "managed-ports      monthly   EUR by poe: false → 4.50, true → 6.90 per port_count"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("SLA: Next-business-day replacement of a failed switch"),
        "{stdout}"
    );
    assert!(
        stdout.contains("port_count       integer, required, 1..480, in ports"),
        "{stdout}"
    );
    let out = l2c(&["catalog", "show", "--offering", "moon-link"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn demo_walks_orders_through_the_desk() {
    let out = l2c(&["demo"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(stdout.matches(" is completed").count(), 3, "{stdout}");
    assert_eq!(stdout.matches(" is rejected").count(), 1, "{stdout}");
    for needle in [
        "task.reminder          install-cpe",
        "task.rejected          commercial-approval by sam: No budget for 10 Gbit/s",
        "task.approved          capacity-approval by nina",
        "\"bandwidth_mbps\":1000",
        "Monthly service                  450.00 monthly",
        "Monthly service                 1290.00 monthly",
        "(the sandbox clock moves there) finance (fay) runs billing",
        "Invoice INV-",
        "VAT S 19% on",
        "8. The web desk",
        "rita  password rita-demo-desk",
    ] {
        assert!(stdout.contains(needle), "{needle} in {stdout}");
    }
}

/// The value column of the report's text line titled `title` (`-` when it has none).
fn report_value<'a>(stdout: &'a str, title: &str) -> Option<&'a str> {
    let line = stdout.lines().find(|l| l.trim_start().starts_with(title))?;
    line[line.find(title)? + title.len()..]
        .split_whitespace()
        .next()
}

#[test]
fn demo_months_runs_history_months_into_the_report() {
    let out = l2c(&["demo", "--months", "2"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // One line per history month: "   2027-01  19 orders placed: ...".
    let months: Vec<(&str, u32)> = stdout
        .lines()
        .filter_map(|l| {
            let (head, _) = l.split_once(" orders placed:")?;
            let mut words = head.split_whitespace();
            Some((words.next()?, words.next()?.parse().ok()?))
        })
        .collect();
    assert_eq!(months.len(), 2, "{stdout}");
    assert!(months.iter().all(|(_, placed)| *placed >= 15), "{months:?}");
    let last = months[1].0;
    assert!(
        stdout.contains(&format!(
            "9. The Monthly Operating Report of {last}, the last of 2 months"
        )),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("Monthly Operating Report {last} (frozen)")));
    assert!(
        stdout.contains(&format!("/report?month={last}")),
        "{stdout}"
    );
    // Revenue billed in the second month, and recurring revenue at the end of both.
    for title in [
        "Revenue billed net of credit notes",
        "Monthly recurring revenue at month end",
    ] {
        let value = report_value(&stdout, title).unwrap_or("-");
        assert!(
            value.parse::<f64>().is_ok_and(|v| v > 0.0),
            "{title}: {value} in {stdout}"
        );
    }
    let mrr = stdout
        .lines()
        .find(|l| l.contains("Monthly recurring revenue at month end"))
        .unwrap_or_default();
    let previous = mrr
        .split("prev")
        .nth(1)
        .and_then(|p| p.split_whitespace().next());
    assert!(
        previous.is_some_and(|p| p.parse::<f64>().is_ok_and(|v| v > 0.0)),
        "the first month's MRR is the second's previous: {mrr}"
    );
    // The walk through the desk still follows the history, on empty queues.
    assert_eq!(stdout.matches(" is completed").count(), 3, "{stdout}");
    assert_eq!(stdout.matches(" is rejected").count(), 1, "{stdout}");
    assert!(stdout.contains("8. The web desk"), "{stdout}");
}

#[test]
fn demo_months_is_bounded() {
    let out = l2c(&["demo", "--months", "25"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("25 is not in 0..=24"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn workflow_check_accepts_the_shipped_directory_and_a_fixture_set() {
    let out = l2c(&["workflow", "check"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0], "workflows: OK, 7 definitions, 7 groups",
        "{stdout}"
    );
    let names: Vec<&str> = lines[1..]
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        [
            "bandwidth-upgrade",
            "billing-schedule",
            "disconnect",
            "lan-setup",
            "network-element-replacement",
            "order",
            "wan-link"
        ]
    );

    let out = l2c(&["workflow", "check", "engine/tests/fixtures/good"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("engine/tests/fixtures/good: OK, 2 definitions, 3 groups"),
        "{stdout}"
    );
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[1].starts_with("  order "), "{stdout}");
    assert!(lines[1].contains(" v2 "), "{stdout}");
    assert!(
        lines[1].contains("6 stages, 6 edges  Fixture order workflow"),
        "{stdout}"
    );
    assert!(lines[2].starts_with("  site-survey "), "{stdout}");
    assert!(lines[2].contains("3 stages, 2 edges"), "{stdout}");
}

#[test]
fn workflow_check_rejects_broken_definitions_with_every_problem() {
    let out = l2c(&["workflow", "check", "engine/tests/fixtures/bad"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no summary for broken definitions");
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: 8 problem(s) in workflow definitions:\n"),
        "{stderr}"
    );
    for needle in [
        "  - engine/tests/fixtures/bad/broken.toml: stage \"feasibility\": group `network-engineers` is not a known group",
        "  - engine/tests/fixtures/bad/broken.toml: stage \"configure\": handler `network.configure` is not a registered handler (registered: billing.activate, billing.change,",
        "  - engine/tests/fixtures/bad/broken.toml: stage \"configure\": cannot reach an end stage: add an edge from it to an end (or to a stage that reaches one)",
        "  - engine/tests/fixtures/bad/broken.toml: edge feasibility -> configure: when `input.mrc >` does not compile",
        "  - engine/tests/fixtures/bad/order.toml: stage \"items\": runs workflow `moon-link`",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
}

#[test]
fn workflow_check_reports_a_directory_without_groups() {
    let out = l2c(&["workflow", "check", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: no/such/dir/groups.toml: cannot read it: "),
        "{stderr}"
    );
    assert_eq!(stderr.matches("os error").count(), 1, "said once: {stderr}");
}

#[test]
fn workflow_show_draws_dot_mermaid_and_text() {
    let dir = "engine/tests/fixtures/good";
    let out = l2c(&["workflow", "show", "order", "--dir", dir, "--format", "dot"]);
    let dot = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dot.starts_with("digraph {\n"), "{dot}");
    assert!(
        dot.contains("0 [ label = \"commercial-approval\\l(approval)\\l\""),
        "{dot}"
    );
    assert!(
        dot.contains("0 -> 2 [ label = \"input.onsite == true\" style = dashed ]"),
        "{dot}"
    );

    let out = l2c(&[
        "workflow", "show", "order", "--dir", dir, "--format", "mermaid",
    ]);
    let mermaid = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(mermaid.starts_with("flowchart TD\n"), "{mermaid}");
    assert!(
        mermaid.contains("    s0 -->|\"input.onsite == true\"| s2\n"),
        "{mermaid}"
    );
    assert!(
        mermaid.contains("    s5([\"done<br/>end\"])\n"),
        "{mermaid}"
    );

    let out = l2c(&["workflow", "show", "site-survey", "--dir", dir]);
    let listing = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        listing.contains("1. survey [task]\n   handler noop, timeout 1m\n"),
        "{listing}"
    );
    assert!(
        listing.contains("2. cool-off [timer]\n   wait 2h\n"),
        "{listing}"
    );

    let out = l2c(&["workflow", "show", "moon-link", "--dir", dir]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(
            "no workflow `moon-link` in engine/tests/fixtures/good (it has order, site-survey)"
        ),
        "{}",
        text(&out.stderr)
    );
    let out = l2c(&["workflow", "show", "order", "--dir", dir, "--format", "png"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown format");
}

#[test]
fn workflow_show_draws_a_shipped_workflow_as_an_svg_document() {
    use quick_xml::events::Event;
    let out = l2c(&["workflow", "show", "wan-link", "--format", "svg"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let svg = text(&out.stdout);
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    let mut reader = quick_xml::Reader::from_str(&svg);
    let (mut depth, mut stages, mut ids) = (0usize, 0, Vec::new());
    let mut in_text = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                depth += 1;
                let class = e
                    .try_get_attribute("class")
                    .expect("well-formed attributes")
                    .map(|a| a.value.into_owned())
                    .unwrap_or_default();
                stages += usize::from(class.starts_with("stage "));
                in_text = e.name().as_ref() == "text";
            }
            Ok(Event::Text(t)) if in_text => ids.push(t.xml10_content().into_owned()),
            Ok(Event::End(_)) => {
                depth -= 1;
                in_text = false;
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed: {e}\n{svg}"),
        }
    }
    assert_eq!(depth, 0, "every element closed");
    assert_eq!(stages, 7, "one group per stage of wan-link: {svg}");
    for id in ["feasibility", "reserve-port", "install-cpe", "done"] {
        assert!(ids.iter().any(|t| t == id), "{id} drawn: {ids:?}");
    }
}

fn db_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display())
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn commands_set_up_a_database_that_serve_and_worker_run() {
    let dir = tempfile::tempdir().expect("dir");
    let url = db_url(&dir);
    let db = ["--database-url", url.as_str()];
    assert!(ok(&l2c(&[&["migrate"][..], &db].concat())).contains("migrations applied"));
    ok(&l2c(&[
        &[
            "account",
            "add-customer",
            "ACME",
            "--name",
            "Acme",
            "--segment",
            "enterprise",
            "--country",
            "DE",
        ][..],
        &db,
    ]
    .concat()));
    ok(&l2c(&[
        &[
            "account",
            "add-billing",
            "ACME-EUR",
            "--customer",
            "ACME",
            "--name",
            "Acme EUR",
            "--currency",
            "EUR",
        ][..],
        &db,
    ]
    .concat()));
    let added = ok(&l2c(&[
        &[
            "user",
            "add",
            "rita",
            "--role",
            "requester",
            "--account",
            "ACME",
        ][..],
        &db,
    ]
    .concat()));
    let token = added
        .lines()
        .find_map(|l| l.split("hash): ").nth(1))
        .expect("the token is printed")
        .trim()
        .to_string();

    let bad = l2c(&[
        &[
            "account",
            "add-billing",
            "X-1",
            "--customer",
            "ACME",
            "--name",
            "X",
            "--currency",
            "EURO",
        ][..],
        &db,
    ]
    .concat());
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("currency"),
        "{}",
        text(&bad.stderr)
    );
    let bad = l2c(&[&["user", "add", "bob", "--role", "wizard"][..], &db].concat());
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("unknown role \"wizard\""),
        "{}",
        text(&bad.stderr)
    );

    let (mut server, base) = crate::support::spawn_serve(
        &[&["serve", "--listen", "127.0.0.1:0"][..], &db].concat(),
        std::process::Stdio::piped(),
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (ready, placed) = runtime.block_on(async {
        let http = reqwest::Client::new();
        let ready = http.get(format!("{base}/readyz")).send().await.expect("readyz").status();
        let body = serde_json::json!({"billing_account": "ACME-EUR", "items": [{"action": "add", "offering": "lan-setup",
            "characteristics": {"site": "FRA-001", "port_count": 24, "poe": false}}]});
        let placed = http.post(format!("{base}/api/v1/orders")).bearer_auth(&token).json(&body).send().await.expect("order").status();
        (ready.as_u16(), placed.as_u16())
    });
    assert_eq!((ready, placed), (200, 201));
    // A workers-only node on the same database starts and stops gracefully beside it.
    let mut worker = Command::new(env!("CARGO_BIN_EXE_l2c"))
        .args([&["worker"][..], &db].concat())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("worker starts");
    let mut line = String::new();
    let stdout = worker.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("line");
    assert!(line.starts_with("l2c worker running"), "{line}");
    for process in [&mut worker, &mut server] {
        let killed = Command::new("kill")
            .args(["-TERM", &process.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let status = process.wait().expect("exits");
        assert!(status.success(), "a graceful shutdown exits 0: {status:?}");
    }
    let mut log = String::new();
    let stderr = server.stderr.take().expect("stderr");
    std::io::Read::read_to_string(&mut std::io::BufReader::new(stderr), &mut log).expect("log");
    assert!(
        log.contains("simulated network") && log.contains("wan-link/reserve-port"),
        "serve outside the sandbox warns that the shipped workflows run on the simulator: {log}"
    );
}

#[test]
fn without_the_simulator_the_shipped_workflows_name_their_missing_handlers() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("l2c.toml");
    std::fs::write(&config, "[network]\nsimulator = false\n").expect("config");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("l2c.db").display());
    let out = l2c(&[
        "account",
        "add-customer",
        "ACME",
        "--name",
        "Acme",
        "--segment",
        "enterprise",
        "--country",
        "DE",
        "--database-url",
        &url,
        "--config",
        config.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("network.reserve-port"),
        "the unknown handler is named: {}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn user_passwords_are_read_from_standard_input() {
    let dir = tempfile::tempdir().expect("dir");
    let url = db_url(&dir);
    let db = ["--database-url", url.as_str()];
    ok(&l2c(&[&["migrate"][..], &db].concat()));
    let add = [
        &[
            "user",
            "add",
            "fay",
            "--role",
            "finance",
            "--password-stdin",
        ][..],
        &db,
    ]
    .concat();
    ok(&l2c_with_stdin(&add, "fay's long secret\n"));
    let short = l2c_with_stdin(&[&["user", "passwd", "fay"][..], &db].concat(), "short\n");
    assert!(!short.status.success());
    assert!(
        text(&short.stderr).contains("password"),
        "{}",
        text(&short.stderr)
    );
    let ghost = l2c_with_stdin(
        &[&["user", "passwd", "ghost"][..], &db].concat(),
        "ghost's secret\n",
    );
    assert!(!ghost.status.success());
    assert!(
        text(&ghost.stderr).contains("ghost"),
        "{}",
        text(&ghost.stderr)
    );

    let pool = l2c_engine::db::Db::connect(&url, 1).await.expect("open");
    let fay = |p: &'static str| l2c_orders::users::user_by_password(&pool, "fay", p);
    assert!(fay("fay's long secret").await.expect("look up").is_some());
    assert!(
        fay("short").await.expect("look up").is_none(),
        "the refused change kept the old one"
    );
    ok(&l2c_with_stdin(
        &[&["user", "passwd", "fay"][..], &db].concat(),
        "fay's newer secret\r\n",
    ));
    assert!(fay("fay's newer secret").await.expect("look up").is_some());
    assert!(fay("fay's long secret").await.expect("look up").is_none());
}

/// The secret a `token add` or `rotate` prints.
fn secret_in(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.split("its hash): ").nth(1))
        .unwrap_or_else(|| panic!("a secret in {stdout}"))
        .trim()
        .to_string()
}

#[tokio::test]
async fn user_tokens_are_made_listed_revoked_and_users_deactivated() {
    let dir = tempfile::tempdir().expect("dir");
    let url = db_url(&dir);
    let db = ["--database-url", url.as_str()];
    let run = |args: &[&str]| l2c(&[args, &db].concat());
    ok(&run(&["migrate"]));
    ok(&run(&["user", "add", "fay", "--role", "finance"]));
    let added = ok(&run(&[
        "user",
        "token",
        "add",
        "fay",
        "ledger",
        "--expires-in",
        "30days",
    ]));
    let secret = secret_in(&added);
    let pool = l2c_engine::db::Db::connect(&url, 1).await.expect("open");
    let now = chrono::Utc::now().timestamp_millis();
    let works = |s: String| {
        let pool = pool.clone();
        async move {
            l2c_orders::tokens::authenticate(&pool, &s, now)
                .await
                .expect("look up")
                .is_some()
        }
    };
    assert!(works(secret.clone()).await);
    let listed = ok(&run(&["user", "token", "list", "fay"]));
    assert!(
        listed.contains("initial") && listed.contains("ledger"),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "no secret is listed");
    let id = listed
        .lines()
        .find(|l| l.contains("ledger"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the token's id")
        .to_string();
    let bad = run(&["user", "token", "add", "fay", "ledger"]);
    assert!(!bad.status.success(), "a second live token of the name");
    assert!(text(&bad.stderr).contains("name"), "{}", text(&bad.stderr));

    let rotated = ok(&run(&["user", "token", "rotate", "fay", &id]));
    let fresh = secret_in(&rotated);
    assert!(!works(secret).await, "rotated away");
    assert!(works(fresh.clone()).await);
    let listed = ok(&run(&["user", "token", "list", "fay"]));
    let new_id = listed
        .lines()
        .find(|l| l.contains("ledger") && l.contains(" live "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the live token")
        .to_string();
    ok(&run(&["user", "token", "revoke", "fay", &new_id]));
    assert!(!works(fresh).await, "revoked");

    let gone = ok(&run(&["user", "deactivate", "fay"]));
    assert!(
        gone.contains("fay deactivated: 1 token(s) revoked"),
        "{gone}"
    );
    assert!(ok(&run(&["user", "list"])).contains("deactivated"));
    let again = run(&["user", "deactivate", "fay"]);
    assert!(!again.status.success());
    ok(&run(&["user", "reactivate", "fay"]));
    let back = ok(&run(&["user", "token", "add", "fay", "again"]));
    assert!(works(secret_in(&back)).await);

    // Every change above is in the audit log, as made by the command line.
    let log = ok(&run(&["audit", "log", "--subject", "user:fay"]));
    for action in [
        "user.add",
        "token.add",
        "token.rotate",
        "token.revoke",
        "user.deactivate",
    ] {
        assert!(log.contains(action), "{action} in {log}");
    }
    assert!(log.contains("l2c-cli"), "{log}");
    assert!(ok(&run(&["audit", "verify"])).starts_with("ok"));
    sqlx::query("UPDATE audit_log SET subject = 'user:someone' WHERE position = 2")
        .execute(&pool.pool)
        .await
        .expect("tampered");
    let broken = run(&["audit", "verify"]);
    assert!(!broken.status.success(), "a broken chain fails the command");
    assert!(
        text(&broken.stdout).contains("broken: audit_log chain audit at row 2"),
        "{}",
        text(&broken.stdout)
    );
}

#[test]
fn serve_takes_a_certificate_only_with_its_key() {
    let alone = l2c(&["serve", "--tls-cert", "cert.pem"]);
    assert!(!alone.status.success());
    assert!(
        text(&alone.stderr).contains("--tls-key"),
        "{}",
        text(&alone.stderr)
    );
    let dir = tempfile::tempdir().expect("dir");
    let url = db_url(&dir);
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().expect("utf-8");
    let unreadable = l2c(&[
        "serve",
        "--database-url",
        &url,
        "--tls-cert",
        missing,
        "--tls-key",
        missing,
    ]);
    assert!(!unreadable.status.success());
    assert!(
        text(&unreadable.stderr).contains("--tls-cert"),
        "{}",
        text(&unreadable.stderr)
    );
}
