//! l2c: the command-line entry point. See `l2c --help` and README.md.

mod catalog_cmd;
mod demo;
mod workflow_cmd;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// l2c — lead-to-cash order provisioning: catalog, workflows, orders and billing.
#[derive(Parser)]
#[command(name = "l2c", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect and check the product catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Walk through quoting an order and invoicing it, with exact money.
    Demo,
    /// Check and draw workflow definitions.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Check a catalog file (the shipped catalog by default) and print a summary.
    Check {
        /// The catalog file to check.
        file: Option<PathBuf>,
    },
    /// List offerings with their prices and service definitions.
    Show {
        /// Show this catalog file instead of the shipped one.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Show only this offering (every version of it).
        #[arg(long)]
        offering: Option<String>,
    },
}

#[derive(Subcommand)]
enum WorkflowCommand {
    /// Check a directory of workflow definitions (and its groups.toml) and print a summary.
    Check {
        /// The directory with the definitions and groups.toml.
        #[arg(default_value = "workflows")]
        dir: PathBuf,
    },
    /// Draw one workflow definition.
    Show {
        /// The workflow's name (its file name without .toml).
        name: String,
        /// The directory with the definitions and groups.toml.
        #[arg(long, default_value = "workflows")]
        dir: PathBuf,
        /// How to draw it.
        #[arg(long, value_enum, default_value_t = workflow_cmd::Format::Text)]
        format: workflow_cmd::Format,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Catalog(CatalogCommand::Check { file }) => catalog_cmd::check(file.as_deref()),
        Command::Catalog(CatalogCommand::Show { file, offering }) => {
            catalog_cmd::show(file.as_deref(), offering.as_deref())
        }
        Command::Demo => demo::run(),
        Command::Workflow(WorkflowCommand::Check { dir }) => workflow_cmd::check(&dir),
        Command::Workflow(WorkflowCommand::Show { name, dir, format }) => {
            workflow_cmd::show(&dir, &name, format)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
