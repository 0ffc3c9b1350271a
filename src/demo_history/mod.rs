//! `l2c demo --months N`: months of history, so the Monthly Operating Report has trends a
//! newcomer can open. Before the demo's walk through the desk, the sandbox clock runs through
//! N whole months, from the first of the next month on (the clock only moves forward). In
//! each month, over the HTTP API as the people involved:
//!
//! - requesters of three more customers order WAN links, LANs, element replacements, bandwidth
//!   upgrades and disconnects of their running products, a few more each month;
//! - approvers approve most tasks and reject a few, some only after their SLA has reminded or
//!   escalated (to the leads, who then decide); field engineers finish their jobs in hours or
//!   days; requesters cancel a few orders;
//! - the simulated network fails a few calls (retried) and has two or three bad mornings a month,
//!   whose exhausted retries become incidents that the admin retries or skips hours later;
//! - finance runs billing on the 1st and the 15th (one customer bills on the 15th).
//!
//! Every choice comes from a seeded generator, so every run makes the same plan; which network
//! calls fail is random, so the counts vary a little from run to run. One line per month is
//! printed, and after the walk the last history month's report ([`print_report`]).
//!
//! The history runs the engine's steps itself, right after each move of the clock and each
//! action, instead of leaving them to background workers: every step then runs at the sandbox
//! time it became due, and the steps that run on a bad morning run on a network that fails.
//! The simulator's failure rate is fixed when an app opens, so the history opens the demo's
//! database twice more, once with each rate, and runs the steps on the one that fits the
//! hour; the served app's network never fails, so the walk after the history (with workers
//! again) runs as it does without one.
//!
//! The parts: [`people`] (the history's customers, requesters and leads), [`plan`] (the
//! seeded plan of a month and the orders it places), [`sim`] (the clock, the engine's steps
//! and a month's run) and [`queues`] (what people do at their queues), all on [`parts`]
//! (constants, customers, agenda types and helpers, which use none of the others).

mod parts;
mod people;
mod plan;
mod queues;
mod sim;

use crate::demo_desk::{self, Desk};
use anyhow::{Context, Result};
use chrono::{Datelike, Months, NaiveDate};
use l2c::app::App;
use l2c::report::{self, month::Month, output};
use l2c::server::Server;
use parts::{add_months, count, month_name};
use sim::Sim;
use std::net::SocketAddr;

/// The most months `--months` takes.
pub(crate) const MAX_MONTHS: u32 = 24;
/// PE routers of the demo's network with history: enough ports for two years of WAN links.
pub(crate) const ROUTERS: u32 = 8;

/// What the history made: its people, for the walk after it, and its months.
pub(crate) struct History {
    /// The demo's people (the walk's and the history's admin and finance).
    pub(crate) desk: Desk,
    first: NaiveDate,
    months: u32,
}

/// Runs `months` months of history on `app` (whose database is at `url`), printing a line per
/// month; creates the demo's people first.
pub(crate) async fn run(app: &App, url: &str, months: u32) -> Result<History> {
    // No workers: the history runs the engine's steps itself (see the module's doc).
    let server = Server::start(app.clone(), SocketAddr::from(([127, 0, 0, 1], 0)), 0).await?;
    println!(
        "l2c demo --months {months}: first {} of history on a fresh SQLite database with a \
         sandbox clock\n",
        count(months, "month")
    );
    let desk = demo_desk::set_up(app, &server.url()).await?;
    let mut sim = Sim::new(app, url, desk).await?;
    let first = first_of_next_month(app.clock.now().date_naive())?;
    sim.introduce(first, months)?;
    for index in 0..months {
        sim.index = index;
        sim.month(add_months(first, index)?).await?;
    }
    sim.close(add_months(first, months)?).await?;
    server.shutdown().await?;
    Ok(History {
        desk: sim.desk,
        first,
        months,
    })
}

/// Prints the report of the history's last month and where to open it.
pub(crate) async fn print_report(app: &App, history: &History, serving: bool) -> Result<()> {
    let last = month_name(add_months(history.first, history.months - 1)?);
    println!(
        "\n9. The Monthly Operating Report of {last}, the last of {} of history",
        count(history.months, "month")
    );
    let ctx = report::Context::of(app);
    let month = Month::parse(&last)?;
    let report = report::monthly(&ctx, month, false).await?;
    for line in output::text(&report).lines() {
        println!("   {line}");
    }
    println!("\n   On the web desk: /report?month={last} (sign in as fay or ada); any month from {} to {last}", month_name(history.first));
    println!("   Over the API: GET /api/v1/reports/monthly?month={last}");
    if !serving {
        println!(
            "   `l2c demo --months {} --serve` keeps it running at http://127.0.0.1:8080/",
            history.months
        );
    }
    Ok(())
}

/// Where the history starts: the clock only moves forward, so the next month's first.
fn first_of_next_month(day: NaiveDate) -> Result<NaiveDate> {
    day.with_day(1)
        .and_then(|d| d.checked_add_months(Months::new(1)))
        .context("the next month")
}
