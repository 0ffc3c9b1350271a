//! `l2c demo`: a newcomer's first look at the whole order desk. It starts the real server on a
//! fresh temporary SQLite database with the sandbox clock, and then, over the HTTP API as the
//! people involved: a requester orders a WAN link and a LAN setup, approvers and field
//! engineers work their queues (the clock moves two days so an SLA reminder fires), a
//! commercial approver rejects an oversized order with a reason, the running link is upgraded,
//! and each order's timeline and the resulting subscriptions are printed. Finance then runs
//! billing on the first of the next month and the invoice is printed. With `--months N`,
//! [`demo_history`] first runs N months of history, and the last of them is reported.

use crate::demo_desk::{demo_password, options, set_up, As, Desk};
use crate::demo_history;
use anyhow::{bail, Context, Result};
use chrono::Datelike;
use l2c::app::App;
use l2c::server::Server;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Runs the demo and prints it, after `months` months of history on the sandbox clock (none:
/// the scenario alone); with `serve`, keeps serving there until Ctrl-C.
pub async fn run(serve: Option<SocketAddr>, months: u32) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
    let mut served = options(&url, 0.0);
    if months > 0 {
        served.settings.network.routers = demo_history::ROUTERS;
    }
    let app = App::open(served).await?;
    let history = match months {
        0 => None,
        n => Some(demo_history::run(&app, &url, n).await?),
    };
    let listen = serve.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let server = Server::start(app.clone(), listen, 2).await?;
    println!(
        "l2c demo: the server runs on {} with a fresh SQLite database and a sandbox clock\n",
        server.url()
    );
    let desk = match &history {
        Some(h) => h.desk.at(&server.url()),
        None => set_up(&app, &server.url()).await?,
    };
    scenario(&desk).await?;
    print_web(&server.url(), serve.is_some());
    if let Some(h) = &history {
        demo_history::print_report(&app, h, serve.is_some()).await?;
    }
    if serve.is_some() {
        tokio::signal::ctrl_c().await?;
    }
    server.shutdown().await
}

/// The walk through the desk, sections 1 to 7.
async fn scenario(desk: &Desk) -> Result<()> {
    let wan = wan_link(desk).await?;
    let lan = lan(desk).await?;
    let big = rejected(desk).await?;
    let up = upgrade(desk, &wan).await?;
    println!("\n5. Timelines");
    for order in [&wan, &lan, &big, &up] {
        print_timeline(order);
    }
    println!("\n6. Rita's products and subscriptions");
    print_products(&desk.rita.get("/api/v1/products").await?);
    print_subscriptions(&desk.rita.get("/api/v1/subscriptions").await?);
    bill(desk).await
}

fn print_web(url: &str, serving: bool) {
    println!("\n8. The web desk");
    if serving {
        println!("   Open {url}/ and sign in as one of these (Ctrl-C stops the server):");
    } else {
        println!(
            "   `l2c demo --serve` keeps this running at http://127.0.0.1:8080/ to sign in as:"
        );
    }
    for (name, what) in [
        (
            "rita",
            "requester of ACME: catalog, orders, products, invoices",
        ),
        ("sam", "approver, sales-managers"),
        ("nina", "approver, network-engineering"),
        ("fred", "engineer, field-engineers"),
        ("fay", "finance"),
        ("ada", "admin"),
    ] {
        println!("   {name:5} password {:17} {what}", demo_password(name));
    }
    println!("   API docs: {url}/api/docs");
}

/// Moves the sandbox clock and returns its new time.
async fn advance(desk: &Desk, by: &str) -> Result<String> {
    let now = desk
        .admin
        .post("/api/v1/sandbox/clock", json!({ "advance": by }))
        .await?;
    Ok(now["now"].as_str().unwrap_or("?").to_string())
}

async fn wan_link(desk: &Desk) -> Result<Value> {
    println!("\n1. Rita (requester, ACME) orders a 100 Mbit/s WAN link FRA-001 <-> MUC-004");
    let wan = place(desk, json!([{"action": "add", "offering": "wan-link",
        "characteristics": {"bandwidth_mbps": 100, "a_end_site": "FRA-001", "b_end_site": "MUC-004"}}])).await?;
    let feasible = "approves technical feasibility";
    act(&desk.nina, "network-engineering", feasible, json!(null)).await?;
    wait_task(&desk.fred, "field-engineers").await?;
    let now = advance(desk, "2days 1h").await?;
    println!("   the CPE waits on site; the sandbox clock moves two days to {now}");
    // The SLA reminder is a timer the workers fire; wait for it so the timeline shows it.
    wait_event(&desk.rita, &wan, "task.reminder").await?;
    let cpe = json!({"cpe_serial": "CPE-7731"});
    act(&desk.fred, "field-engineers", "installs the CPE", cpe).await?;
    wait_final(&desk.rita, &wan).await
}

async fn lan(desk: &Desk) -> Result<Value> {
    println!("\n2. Rita orders a 48-port LAN at FRA-001");
    let lan = place(
        desk,
        json!([{"action": "add", "offering": "lan-setup",
        "characteristics": {"site": "FRA-001", "port_count": 48, "poe": true}}]),
    )
    .await?;
    act(
        &desk.fred,
        "field-engineers",
        "patches the ports",
        json!(null),
    )
    .await?;
    wait_final(&desk.rita, &lan).await
}

async fn rejected(desk: &Desk) -> Result<Value> {
    println!("\n3. Rita orders a 10 Gbit/s link; its monthly value needs commercial approval");
    let big = place(desk, json!([{"action": "add", "offering": "wan-link",
        "characteristics": {"bandwidth_mbps": 10000, "a_end_site": "FRA-001", "b_end_site": "BER-002"}}])).await?;
    let task = wait_task(&desk.sam, "sales-managers").await?;
    let reason = "No budget for 10 Gbit/s this quarter; please re-quote at 1 Gbit/s";
    let path = format!("/api/v1/tasks/{task}/reject");
    desk.sam.post(&path, json!({ "reason": reason })).await?;
    println!("   Sam (sales-managers) rejects: {reason}");
    wait_final(&desk.rita, &big).await
}

async fn upgrade(desk: &Desk, wan: &Value) -> Result<Value> {
    let product = wan["items"][0]["product"].clone();
    let now = advance(desk, "15days").await?;
    println!(
        "\n4. Two weeks on ({}), Rita upgrades the running link {} to 1 Gbit/s",
        now.get(..10).unwrap_or("?"),
        short(&product)
    );
    let up = place(
        desk,
        json!([{"action": "modify", "offering": "bandwidth-upgrade", "product": product,
        "characteristics": {"bandwidth_mbps": 1000}}]),
    )
    .await?;
    let capacity = "approves the capacity (a tier jump of 5x or more)";
    act(&desk.nina, "network-engineering", capacity, json!(null)).await?;
    wait_final(&desk.rita, &up).await
}

async fn place(desk: &Desk, items: Value) -> Result<Value> {
    let body = json!({"billing_account": "ACME-EUR", "items": items});
    let order = desk.rita.post("/api/v1/orders", body).await?;
    println!(
        "   order {} placed: {} one-time, {} monthly {}",
        short(&order["id"]),
        order["one_time_total"].as_str().unwrap_or("?"),
        order["monthly_total"].as_str().unwrap_or("?"),
        order["currency"].as_str().unwrap_or("")
    );
    Ok(order)
}

/// Waits for a task in `group`'s queue and returns its id.
/// Polls GET `path` until `check` holds (30 s at most) and returns the body.
async fn poll(who: &As, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Result<Value> {
    let started = Instant::now();
    loop {
        let body = who.get(path).await?;
        if check(&body) {
            return Ok(body);
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("{what} did not happen within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for a task in `group`'s queue and returns its id.
async fn wait_task(who: &As, group: &str) -> Result<String> {
    let path = format!("/api/v1/tasks?group={group}");
    let what = format!("a task in {group}");
    let tasks = poll(who, &path, &what, |t| t.get(0).is_some()).await?;
    Ok(tasks[0]["id"].as_str().unwrap_or_default().to_string())
}

async fn act(who: &As, group: &str, what: &str, data: Value) -> Result<()> {
    let task = wait_task(who, group).await?;
    let t = who.get(&format!("/api/v1/tasks/{task}")).await?;
    let (path, body) = if t["kind"] == "approval" {
        (format!("/api/v1/tasks/{task}/approve"), json!({}))
    } else {
        (
            format!("/api/v1/tasks/{task}/complete"),
            json!({ "data": data }),
        )
    };
    who.post(&path, body).await?;
    println!("   {group} {what} ({})", t["stage"].as_str().unwrap_or("?"));
    Ok(())
}

async fn wait_final(who: &As, order: &Value) -> Result<Value> {
    let path = format!(
        "/api/v1/orders/{}",
        order["id"].as_str().unwrap_or_default()
    );
    let finals = ["completed", "rejected", "failed", "partial", "cancelled"];
    let o = poll(who, &path, "the order's end", |o| {
        finals.contains(&o["state"].as_str().unwrap_or_default())
    })
    .await?;
    println!(
        "   order {} is {}",
        short(&o["id"]),
        o["state"].as_str().unwrap_or("?")
    );
    Ok(o)
}

/// Waits until the order's timeline has an `event`.
async fn wait_event(who: &As, order: &Value, event: &str) -> Result<()> {
    let path = format!(
        "/api/v1/orders/{}",
        order["id"].as_str().unwrap_or_default()
    );
    poll(who, &path, event, |o| {
        o["timeline"]
            .as_array()
            .is_some_and(|t| t.iter().any(|e| e["event"] == event))
    })
    .await?;
    Ok(())
}

fn short(id: &Value) -> String {
    let s = id.as_str().unwrap_or("?");
    s.chars()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

fn print_timeline(order: &Value) {
    println!(
        "\n   order {} ({}):",
        short(&order["id"]),
        order["state"].as_str().unwrap_or("?")
    );
    for e in order["timeline"].as_array().into_iter().flatten() {
        let event = e["event"].as_str().unwrap_or("?");
        if event == "step.started" {
            continue;
        }
        let at = e["at"].as_str().unwrap_or("?");
        let when = at.get(5..19).unwrap_or(at).replace('T', " ");
        let mut line = format!(
            "   {when}  {:9} {:22}",
            e["source"].as_str().unwrap_or(""),
            event
        );
        if let Some(stage) = e["stage"].as_str() {
            line.push_str(&format!(" {stage}"));
        }
        if let Some(actor) = e["actor"].as_str().filter(|a| !a.starts_with("worker-")) {
            line.push_str(&format!(" by {actor}"));
        }
        if let Some(reason) = e["data"]["reason"].as_str() {
            line.push_str(&format!(": {reason}"));
        }
        println!("{}", line.trim_end());
    }
}

fn print_products(products: &Value) {
    for p in products.as_array().into_iter().flatten() {
        println!(
            "   product {} {} v{} {} {}",
            short(&p["id"]),
            p["offering"].as_str().unwrap_or("?"),
            p["version"],
            p["status"].as_str().unwrap_or("?"),
            p["characteristics"]
        );
    }
}

fn print_subscriptions(subs: &Value) {
    for s in subs.as_array().into_iter().flatten() {
        println!(
            "   subscription of {} ({}) since {}:",
            short(&s["product"]),
            s["offering"].as_str().unwrap_or("?"),
            s["start_date"].as_str().unwrap_or("?")
        );
        for c in s["charges"].as_array().into_iter().flatten() {
            let to = c["effective_to"]
                .as_str()
                .map(|t| format!(" to {t}"))
                .unwrap_or_default();
            println!(
                "     {:28} {:>10} {} {}{}",
                c["name"].as_str().unwrap_or("?"),
                c["amount"].as_str().unwrap_or("?"),
                c["period"].as_str().unwrap_or("once"),
                c["effective_from"]
                    .as_str()
                    .map(|f| format!("from {f}"))
                    .unwrap_or_default(),
                to
            );
        }
    }
}

/// Finance runs billing on the first of the next month and prints the invoice.
async fn bill(desk: &Desk) -> Result<()> {
    let clock = desk.admin.get("/api/v1/sandbox/clock").await?;
    let today = clock["now"]
        .as_str()
        .and_then(|t| t.get(..10))
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .context("the sandbox clock's date")?;
    let first = today
        .with_day(1)
        .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
        .context("the next month")?;
    // A run bills a date no later than each account's today: the sandbox clock moves there.
    let morning = format!("{first}T06:00:00Z");
    desk.admin
        .post("/api/v1/sandbox/clock", json!({ "to": morning }))
        .await?;
    println!("\n7. On {first} (the sandbox clock moves there) finance (fay) runs billing");
    let run = desk
        .fay
        .post("/api/v1/billing-runs", json!({ "date": first.to_string() }))
        .await?;
    println!(
        "   run {}: {} account(s), {} invoice(s), {} line(s)",
        short(&run["id"]),
        run["accounts"],
        run["invoices"],
        run["lines"]
    );
    let invoices = desk.rita.get("/api/v1/invoices").await?;
    for i in invoices.as_array().into_iter().flatten() {
        let id = i["id"].as_str().unwrap_or_default();
        print_invoice(&desk.rita.get(&format!("/api/v1/invoices/{id}")).await?);
        println!("   as a Peppol BIS 3.0 e-invoice: GET /api/v1/invoices/{id}/ubl");
        println!("   as a PDF to read and print:    GET /api/v1/invoices/{id}/pdf");
    }
    Ok(())
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn print_invoice(detail: &Value) {
    let doc = &detail["document"];
    println!(
        "\n   Invoice {}  issued {}  due {}  to {} ({})",
        text(detail, "/number"),
        text(detail, "/issue_date"),
        text(detail, "/due_date"),
        text(doc, "/buyer/name"),
        text(doc, "/buyer_reference")
    );
    for l in doc["invoice"]["lines"].as_array().into_iter().flatten() {
        let last_day = l["period"]["end"]
            .as_str()
            .and_then(|e| chrono::NaiveDate::parse_from_str(e, "%Y-%m-%d").ok())
            .and_then(|e| e.pred_opt());
        let period = match (l["period"]["start"].as_str(), last_day) {
            (Some(s), Some(e)) => format!("{s}..{e}"),
            _ => "once".to_string(),
        };
        // The description ends with the product's id; its last 8 characters tell them apart.
        let description = l["description"].as_str().unwrap_or("?");
        let short_description = match description.rsplit_once(' ') {
            Some((head, id)) if id.len() > 9 => {
                format!("{head} {})", &id[id.len().saturating_sub(9)..id.len() - 1])
            }
            _ => description.to_string(),
        };
        println!(
            "     {:50} {:22} {:>3} x {:>8} = {:>8}",
            short_description,
            period,
            l["quantity"].as_str().unwrap_or("?"),
            text(l, "/unit_price/amount"),
            text(l, "/net/amount")
        );
    }
    for t in doc["invoice"]["tax_subtotals"]
        .as_array()
        .into_iter()
        .flatten()
    {
        println!(
            "     VAT {} {}% on {:>9} = {:>9}",
            text(t, "/rate/category"),
            text(t, "/rate/percent"),
            text(t, "/taxable/amount"),
            text(t, "/tax/amount")
        );
    }
    let totals = &doc["invoice"]["totals"];
    println!(
        "     net {}  VAT {}  payable {} {}",
        text(totals, "/tax_exclusive/amount"),
        text(totals, "/tax_total/amount"),
        text(totals, "/payable/amount"),
        text(detail, "/currency")
    );
}
