//! `l2c audit verify [--order ID]`, `l2c audit export --order ID` and `l2c audit log`: the
//! admin API's audit calls, for an operator at the database.

use crate::server_cmd::DbArgs;
use anyhow::Result;
use clap::Subcommand;
use l2c::audit_trail;
use l2c_orders::audit::{self, Filter};

/// `l2c audit ...`.
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chains (every one, or one order's) and report the first broken link;
    /// exits 1 when one is broken.
    Verify {
        /// Only this order's events and workflow history.
        #[arg(long)]
        order: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print an order's whole trail with its hash chains, as JSON.
    Export {
        /// The order.
        #[arg(long)]
        order: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print the audit log, newest first.
    Log {
        /// Only this subject, e.g. user:nina.
        #[arg(long)]
        subject: Option<String>,
        /// How many entries.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=1000))]
        limit: i64,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Runs an `l2c audit` command; false when a verification found a broken link.
pub async fn run(command: AuditCommand) -> Result<bool> {
    match command {
        AuditCommand::Verify { order, db } => {
            let app = db.open(false).await?;
            let v = audit_trail::verify(&app, order.as_deref()).await?;
            match &v.broken {
                None => println!("ok: every chain holds ({})", v.checked.join(", ")),
                Some(b) => println!(
                    "broken: {} chain {} at row {} (position {}): {}",
                    b.table, b.chain, b.row, b.position, b.problem
                ),
            }
            Ok(v.ok)
        }
        AuditCommand::Export { order, db } => {
            let app = db.open(false).await?;
            let trail = audit_trail::export(&app, &order).await?;
            println!("{}", serde_json::to_string_pretty(&trail)?);
            Ok(true)
        }
        AuditCommand::Log { subject, limit, db } => {
            let app = db.open(false).await?;
            let filter = Filter {
                subject,
                limit,
                ..Filter::default()
            };
            for e in audit::list(&app.db, &filter).await? {
                let change = |v: &Option<serde_json::Value>| {
                    v.as_ref().map_or("-".to_string(), |v| v.to_string())
                };
                println!(
                    "{:>6}  {}  {:<12} {:<24} {:<28} {} -> {}",
                    e.position,
                    e.at.format("%Y-%m-%d %H:%M:%S"),
                    e.actor,
                    e.action,
                    e.subject,
                    change(&e.before),
                    change(&e.after)
                );
            }
            Ok(true)
        }
    }
}
