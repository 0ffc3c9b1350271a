//! Time for the engine: the system clock in production, a test clock that tests and the sandbox
//! move by hand so SLA escalations, retries and timers can be exercised in milliseconds.

use chrono::{DateTime, Duration, TimeZone, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;

    /// Now, in milliseconds since the Unix epoch (how the database stores time).
    fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

/// The real time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until it is advanced.
#[derive(Debug, Clone)]
pub struct TestClock {
    ms: Arc<AtomicI64>,
}

impl TestClock {
    /// A clock set to `start`.
    pub fn at(start: DateTime<Utc>) -> TestClock {
        TestClock {
            ms: Arc::new(AtomicI64::new(start.timestamp_millis())),
        }
    }

    /// Moves the clock forward (or back, for a negative duration).
    pub fn advance(&self, by: Duration) {
        self.ms.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, to: DateTime<Utc>) {
        self.ms.store(to.timestamp_millis(), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        let ms = self.ms.load(Ordering::SeqCst);
        Utc.timestamp_millis_opt(ms)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// Milliseconds since the epoch as a UTC time (out-of-range values clamp).
pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_clock_moves_only_when_told() {
        let start = Utc
            .with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
            .single()
            .expect("date");
        let clock = TestClock::at(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::hours(4));
        assert_eq!(clock.now(), start + Duration::hours(4));
        assert_eq!(from_ms(clock.now_ms()), clock.now());
    }
}
