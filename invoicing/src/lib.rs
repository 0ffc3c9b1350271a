//! l2c-invoicing: what turns delivered items into money. Billing activation makes an item a
//! subscription; billing runs bill every account whose period is due on a date with one
//! invoice (or credit note) carrying what rating finds — the period's charges in advance plus
//! adjustments for anything that changed after earlier periods were billed. Runs are
//! idempotent per (account, period) by a unique key, resumable, and can be dry runs that
//! write nothing. The crate owns the subscription, run, invoice and schedule tables.
//!
//! The crate's door is [`Invoicing`], the context its operations take (database, billing
//! settings, clock); schedules also take the engine that fires them.
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
//!   lines as stored.
//! - [`export`]: CSV, JSON and UBL, streamed.
//! - [`schedule`]: cron schedules fired by the engine's timers.
//! - [`settings`]: the `[billing]` settings.

pub mod activation;
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
pub mod write;

use crate::settings::BillingSettings;
use chrono::{DateTime, NaiveDate, Utc};
use l2c_engine::clock::Clock;
use l2c_engine::db::Db;
use std::sync::Arc;

pub use run::{run, DryRun, RunOutcome, RunRequest};

/// The moment a run bills for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AsOf {
    /// This date is every account's local date (`l2c billing run --date`).
    Date(NaiveDate),
    /// Each account's local date at this instant in its own time zone (scheduled runs).
    Instant(DateTime<Utc>),
}

impl AsOf {
    /// How a run records it: the date, or the instant in RFC 3339.
    pub fn key(&self) -> String {
        match self {
            AsOf::Date(d) => d.to_string(),
            AsOf::Instant(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    /// The moment a run recorded with [`AsOf::key`].
    pub fn from_key(key: &str) -> Option<AsOf> {
        match key.parse::<NaiveDate>() {
            Ok(date) => Some(AsOf::Date(date)),
            Err(_) => key.parse::<DateTime<Utc>>().ok().map(AsOf::Instant),
        }
    }
}

/// Which accounts a run looks at, and as of when.
#[derive(Clone, Debug)]
pub struct RunScope {
    /// The moment.
    pub as_of: AsOf,
    /// Only accounts in these time zones (a schedule firing at one zone's local time).
    pub zones: Option<Vec<String>>,
}

/// What runs and finance operations need: the database, the billing settings and the clock.
#[derive(Clone)]
pub struct Invoicing {
    /// The database.
    pub db: Db,
    /// Seller, default VAT, rounding, page size.
    pub settings: Arc<BillingSettings>,
    /// The clock (the sandbox's in tests and demos).
    pub clock: Arc<dyn Clock>,
}

/// The crate's embedded migrations for `backend` (`migrations/<backend>/invoicing/`; the
/// application applies them together with every other crate's).
pub fn migrations(backend: l2c_engine::db::Backend) -> Vec<sqlx::migrate::Migration> {
    let migrator = match backend {
        l2c_engine::db::Backend::Sqlite => sqlx::migrate!("../migrations/sqlite/invoicing"),
        l2c_engine::db::Backend::Postgres => sqlx::migrate!("../migrations/postgres/invoicing"),
    };
    migrator.iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::AsOf;

    #[test]
    fn a_run_reads_back_the_moment_it_recorded() {
        for key in ["2026-03-01", "2026-03-01T02:00:00Z"] {
            let as_of = AsOf::from_key(key).expect(key);
            assert_eq!(as_of.key(), key);
        }
        assert!(matches!(AsOf::from_key("2026-03-01"), Some(AsOf::Date(_))));
        assert!(AsOf::from_key("yesterday").is_none());
    }
}
