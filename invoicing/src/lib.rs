//! l2c-invoicing: what turns delivered items into money. Billing activation makes an item a
//! subscription; billing runs bill every account whose period is due on a date with one
//! invoice (or credit note) carrying what rating finds — the period's charges in advance plus
//! adjustments for anything that changed after earlier periods were billed. Runs are
//! idempotent per (account, period) by a unique key, resumable, and can be dry runs that
//! write nothing. The crate owns the subscription, run, invoice and schedule tables.
//!
//! The crate's door is [`Invoicing`] ([`context`]), the context its operations take
//! (database, billing settings, clock); schedules also take the engine that fires them.
//!
//! - [`activation`]: the billing step handlers (activate, change, end, and their undoing).
//! - [`subscriptions`]: subscriptions and their charges as stored.
//! - [`load`]: reads a page of accounts with their charges and billing history.
//! - [`draft`]: rates one account into a draft document.
//! - [`write`]: stores drafts, taking gapless numbers when they are issued.
//! - [`run`]: the run itself, page by page, one transaction per page; [`resume`]: manual
//!   runs that stalled (their process died), resumed by any node's scheduler.
//! - [`ops`]: issuing, voiding and crediting documents.
//! - [`read`]: runs, invoices and documents for the API and the exports; [`lines`]: their
//!   lines as stored; [`visible`]: who sees which invoices.
//! - [`export`]: CSV, JSON and UBL, streamed.
//! - [`schedule`]: cron schedules fired by the engine's timers.
//! - [`settings`]: the `[billing]` settings.

pub mod activation;
pub mod context;
pub mod draft;
pub mod export;
pub mod lines;
pub mod load;
pub mod ops;
pub mod read;
pub mod resume;
pub mod run;
pub mod schedule;
pub mod settings;
pub mod subscriptions;
pub mod visible;
pub mod write;

pub use context::{AsOf, Invoicing, RunScope};
pub use run::{run, DryRun, RunOutcome, RunRequest};

/// The crate's embedded migrations for `backend` (`migrations/<backend>/invoicing/`; the
/// application applies them together with every other crate's).
pub fn migrations(backend: l2c_engine::db::Backend) -> Vec<sqlx::migrate::Migration> {
    let migrator = match backend {
        l2c_engine::db::Backend::Sqlite => sqlx::migrate!("../migrations/sqlite/invoicing"),
        l2c_engine::db::Backend::Postgres => sqlx::migrate!("../migrations/postgres/invoicing"),
    };
    migrator.iter().cloned().collect()
}
