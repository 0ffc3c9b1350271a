//! Per-user limits on writes (orders placed or cancelled, task actions): a generic cell rate
//! (governor's GCRA) per user name, kept in memory per node. A user over the limit is refused
//! with [`DeskError::RateLimited`] (429 with `Retry-After`) before anything is written. Reads,
//! sign-ins (throttled on their own) and the health probes are never counted.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use l2c_orders::error::{DeskError, DeskResult};
use std::num::NonZeroU32;

/// How many users' states are kept before idle ones are swept.
const SWEEP_AT: usize = 10_000;

/// The writes each user may make: `per_minute`, in bursts of as many; none when off.
pub struct WriteLimits {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl WriteLimits {
    /// `per_minute` writes per user and minute; 0 turns the limit off.
    pub fn new(per_minute: u32) -> WriteLimits {
        WriteLimits {
            limiter: NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one write of `user`; refused (and not counted) when over the limit.
    pub fn admit(&self, user: &str) -> DeskResult<()> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if limiter.len() >= SWEEP_AT {
            limiter.retain_recent();
        }
        limiter.check_key(&user.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            DeskError::RateLimited {
                user: user.to_string(),
                // Rounded up: a client that waits what it is told is admitted.
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_admitted_then_refused_with_a_wait() {
        let limits = WriteLimits::new(3);
        for _ in 0..3 {
            assert!(limits.admit("ann").is_ok());
        }
        let Err(DeskError::RateLimited {
            user,
            retry_after_secs,
        }) = limits.admit("ann")
        else {
            panic!("the fourth write in a minute is refused");
        };
        assert_eq!(user, "ann");
        // One cell comes back every 20 s.
        assert!((1..=20).contains(&retry_after_secs), "{retry_after_secs}");
        assert!(limits.admit("bob").is_ok(), "limits are per user");
    }

    #[test]
    fn zero_is_off() {
        let limits = WriteLimits::new(0);
        for _ in 0..10_000 {
            assert!(limits.admit("ann").is_ok());
        }
    }
}
