//! `l2c report monthly`: the Monthly Operating Report of a month, as text, JSON, CSV or a
//! stand-alone HTML page, on standard output.

use crate::server_cmd::DbArgs;
use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use l2c::report::{self, output, Context};

/// The report commands.
#[derive(Subcommand)]
pub enum ReportCommand {
    /// The Monthly Operating Report (docs/report.md).
    Monthly {
        /// The month, YYYY-MM (default: the current one, live).
        #[arg(long)]
        month: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: ReportFormat,
        /// Measure a closed month again and replace what was frozen.
        #[arg(long)]
        recompute: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// How to print the report.
#[derive(Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    /// Aligned text for a terminal.
    Text,
    /// The API's JSON.
    Json,
    /// One row per KPI.
    Csv,
    /// One stand-alone HTML page (the web desk's report, stylesheet inline), e.g. to mail.
    Html,
}

/// Runs a report command.
pub async fn execute(command: ReportCommand) -> Result<()> {
    let ReportCommand::Monthly {
        month,
        format,
        recompute,
        db,
    } = command;
    let app = db.open(false).await?;
    let ctx = Context::of(&app);
    let month = ctx.month(month.as_deref())?;
    let report = report::monthly(&ctx, month, recompute).await?;
    let text = match format {
        ReportFormat::Text => output::text(&report),
        ReportFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        ReportFormat::Csv => output::csv(&report)?,
        ReportFormat::Html => l2c::web::report::standalone(&report)?,
    };
    print!("{text}");
    Ok(())
}
