//! Limits on failed sign-ins: after `limit` failures within `window` for one key (a user
//! name, a client address), further attempts for that key are refused until the oldest
//! failure leaves the window. Kept in memory per process: a node restart forgets it, which
//! costs an attacker a restart per five guesses.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many keys are kept before stale ones are swept.
const SWEEP_AT: usize = 10_000;

/// Failures per key within a sliding window.
pub struct Throttle {
    limit: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    /// `limit` failures per `window`.
    pub fn new(limit: usize, window: Duration) -> Throttle {
        Throttle {
            limit,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The sign-in limit: 5 failures per minute.
    pub fn sign_ins() -> Throttle {
        Throttle::new(5, Duration::from_secs(60))
    }

    /// How long until `key` may try again, if it is blocked now.
    pub fn blocked(&self, key: &str, now: Instant) -> Option<Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let times = map.get_mut(key)?;
        self.expire(times, now);
        if times.len() < self.limit {
            return None;
        }
        let oldest = *times.front()?;
        Some(self.window.saturating_sub(now.duration_since(oldest)))
    }

    /// Records a failure of `key` at `now`.
    pub fn failed(&self, key: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= SWEEP_AT {
            map.retain(|_, times| {
                self.expire(times, now);
                !times.is_empty()
            });
        }
        let times = map.entry(key.to_string()).or_default();
        self.expire(times, now);
        times.push_back(now);
        while times.len() > self.limit {
            times.pop_front();
        }
    }

    /// Forgets `key`'s failures (a successful sign-in for a user name).
    pub fn forget(&self, key: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(key);
    }

    fn expire(&self, times: &mut VecDeque<Instant>, now: Instant) {
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_oldest_failure_ages_out() {
        let t = Throttle::new(3, Duration::from_secs(60));
        let start = Instant::now();
        for i in 0..3 {
            assert_eq!(t.blocked("nina", start), None, "attempt {i} is allowed");
            t.failed("nina", start + Duration::from_secs(i));
        }
        let later = start + Duration::from_secs(10);
        assert_eq!(t.blocked("nina", later), Some(Duration::from_secs(50)));
        assert_eq!(
            t.blocked("fred", later),
            None,
            "other keys are not affected"
        );
        assert_eq!(t.blocked("nina", start + Duration::from_secs(60)), None);
    }

    #[test]
    fn forgetting_a_key_clears_its_failures() {
        let t = Throttle::new(1, Duration::from_secs(60));
        let now = Instant::now();
        t.failed("rita", now);
        assert!(t.blocked("rita", now).is_some());
        t.forget("rita");
        assert_eq!(t.blocked("rita", now), None);
    }
}
