//! `l2c billing run` and `l2c billing export`: finance's billing runs from the command line.

use crate::server_cmd::DbArgs;
use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use l2c::app::App;
use l2c_invoicing::export::{self, Format};
use l2c_invoicing::{read, run, AsOf, RunOutcome, RunRequest, RunScope};
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum BillingCommand {
    /// Invoice every account whose period is due on a date.
    Run {
        /// Every account's local date to bill for (YYYY-MM-DD); default: today in each
        /// account's own time zone.
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Show what would be invoiced; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Leave the invoices as drafts (issue them later through the API).
        #[arg(long)]
        draft: bool,
        /// Bill a --date that is still in the future for some account, on purpose.
        #[arg(long)]
        ahead: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Export a run's documents.
    Export {
        /// The run id.
        run: String,
        /// csv, json or ubl (a zip of UBL documents).
        #[arg(long, value_parser = parse_format)]
        format: Format,
        /// Only the document with this number.
        #[arg(long)]
        invoice: Option<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
}

fn parse_format(text: &str) -> Result<Format, String> {
    Format::parse(text).map_err(|e| e.to_string())
}

/// Runs a billing command.
pub async fn execute(command: BillingCommand) -> Result<()> {
    match command {
        BillingCommand::Run {
            date,
            dry_run,
            draft,
            ahead,
            db,
        } => {
            let app = db.open(false).await?;
            let as_of = match date {
                Some(d) => AsOf::Date(d),
                None => AsOf::Instant(app.clock.now()),
            };
            let request = RunRequest {
                scope: RunScope { as_of, zones: None },
                dry_run,
                issue: !draft,
                trigger: "manual".into(),
                ahead,
            };
            let outcome = run(&app.invoicing, request).await?;
            print_outcome(&app, outcome).await
        }
        BillingCommand::Export {
            run,
            format,
            invoice,
            output,
            db,
        } => {
            let app = db.open(false).await?;
            export_to(&app, &run, format, invoice.as_deref(), output).await
        }
    }
}

async fn print_outcome(app: &App, outcome: RunOutcome) -> Result<()> {
    match outcome {
        RunOutcome::Dry(dry) => {
            println!(
                "dry run: {} accounts looked at, {} documents with {} lines would be issued \
                 (nothing written)",
                dry.accounts, dry.documents, dry.lines
            );
            print_totals(&dry.totals);
            for (account, why) in &dry.failures {
                println!("  cannot bill {account}: {why}");
            }
            for d in &dry.drafts {
                let t = d.invoice.totals();
                println!(
                    "  {:<20} {} .. {}  {:?}  net {}  VAT {}  due {} {}",
                    d.account,
                    d.period.start(),
                    d.period.last_day(),
                    d.invoice.kind(),
                    t.tax_exclusive.amount(),
                    t.tax_total.amount(),
                    t.payable.amount(),
                    d.invoice.currency().code()
                );
            }
            if dry.documents > dry.drafts.len() {
                println!("  ... and {} more", dry.documents - dry.drafts.len());
            }
        }
        RunOutcome::Stored(id) => {
            let view = read::run(&app.db, &id).await?;
            println!(
                "billing run {id} ({}): {} accounts, {} documents, {} lines, {}",
                view.as_of, view.accounts, view.invoices, view.lines, view.status
            );
            if view.failed > 0 {
                println!(
                    "  {} accounts could not be billed: {}",
                    view.failed,
                    view.error.as_deref().unwrap_or("see the log")
                );
            }
            print_totals(&read::run_totals(&app.db, &id).await?);
        }
    }
    Ok(())
}

fn print_totals(totals: &[read::RunTotal]) {
    for t in totals {
        println!(
            "  {} {:<11} {:>7} documents  net {}  VAT {}  payable {}",
            t.currency, t.kind, t.documents, t.net, t.tax, t.payable
        );
    }
}

async fn export_to(
    app: &App,
    run_id: &str,
    format: Format,
    invoice: Option<&str>,
    output: Option<PathBuf>,
) -> Result<()> {
    // A file is written beside its destination and renamed into place once complete, so a
    // failed export never leaves a truncated file behind.
    let staged = match &output {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            Some(
                tempfile::NamedTempFile::new_in(dir)
                    .with_context(|| format!("cannot write in {}", dir.display()))?,
            )
        }
        None => None,
    };
    let mut out: Box<dyn Write + Send> = match &staged {
        Some(file) => Box::new(std::io::BufWriter::new(file.reopen()?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} lines ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if output.is_none() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut lines = 0;
    match (format.is_per_document(), invoice) {
        // One document by number is its bare file, as the API answers it, not a zip of one.
        (true, Some(number)) => {
            export::prepare(&app.db, run_id, Some(number), format).await?;
            let document = export::run_document(&app.db, run_id, number).await?;
            out.write_all(&export::document_file(&document, format)?)?;
            out.flush()?;
            lines = document.invoice.lines().len() as u64;
        }
        _ => {
            export::export_to(&app.db, run_id, invoice, format, &mut out, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
                lines = done;
            })
            .await?;
        }
    }
    drop(out);
    bar.finish_and_clear();
    if let (Some(path), Some(file)) = (output, staged) {
        file.persist(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        eprintln!("wrote {} ({lines} lines)", path.display());
    }
    Ok(())
}
