//! [`Invoicing`], what runs and finance operations take, and the moment and scope of a run.

use crate::settings::BillingSettings;
use chrono::{DateTime, NaiveDate, Utc};
use l2c_engine::clock::Clock;
use l2c_engine::db::Db;
use std::sync::Arc;

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
