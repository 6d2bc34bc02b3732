//! An optional cap on launch requests per client key, counted in each process
//! so that the hot path stays free of SQL: governor's keyed GCRA limiter, a
//! token bucket per key. Behind a load balancer with N processes a key can
//! make up to N times the cap.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

/// How often keys whose allowance has filled up again are forgotten.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// One GCRA state per client key.
type KeyedLimiter<C> =
    RateLimiter<String, DashMapStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;

pub struct LaunchLimiter<C: Clock = DefaultClock> {
    /// `None` when there is no limit.
    keys: Option<KeyedLimiter<C>>,
}

impl LaunchLimiter {
    /// `per_minute` of 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        Self::with_clock(per_minute, DefaultClock::default())
    }

    /// Keeps the table to the keys used within about a minute, however
    /// many keys have come and gone; runs until the task is aborted.
    pub async fn forget_idle_keys(self: Arc<Self>) {
        if self.keys.is_none() {
            return;
        }
        let mut every = tokio::time::interval(FORGET_EVERY);
        loop {
            every.tick().await;
            self.forget_idle();
        }
    }
}

impl<C: Clock> LaunchLimiter<C> {
    fn with_clock(per_minute: u32, clock: C) -> Self {
        Self {
            keys: NonZeroU32::new(per_minute)
                .map(|cap| RateLimiter::dashmap_with_clock(Quota::per_minute(cap), clock)),
        }
    }

    /// Takes one request from `key`'s allowance; when none is left, says how
    /// long until one is.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        let Some(keys) = &self.keys else {
            return Ok(());
        };
        keys.check_key(&key.to_owned())
            .map_err(|refused| refused.wait_time_from(keys.clock().now()))
    }

    /// Drops the keys whose allowance is full, which a fresh entry would
    /// have as well, and gives their memory back.
    fn forget_idle(&self) {
        if let Some(keys) = &self.keys {
            keys.retain_recent();
            keys.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn a_key_gets_its_allowance_and_then_waits() {
        let clock = FakeRelativeClock::default();
        let limiter = LaunchLimiter::with_clock(60, clock.clone());
        for _ in 0..60 {
            assert!(limiter.take("k").is_ok());
        }
        let wait = limiter.take("k").unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO);
        assert!(limiter.take("other").is_ok(), "keys are counted apart");
        clock.advance(Duration::from_secs(1));
        assert!(limiter.take("k").is_ok(), "one per second comes back");
        assert!(limiter.take("k").is_err());
    }

    #[test]
    fn keys_are_forgotten_once_their_allowance_is_full_again() {
        let clock = FakeRelativeClock::default();
        let limiter = LaunchLimiter::with_clock(60, clock.clone());
        for key in 0..1000 {
            assert!(limiter.take(&key.to_string()).is_ok());
        }
        limiter.take("busy").unwrap();
        clock.advance(Duration::from_millis(500));
        limiter.take("busy").unwrap();
        limiter.take("busy").unwrap();
        limiter.forget_idle();
        let keys = limiter.keys.as_ref().unwrap();
        assert_eq!(keys.len(), 1001, "nobody's allowance is full yet");
        clock.advance(Duration::from_secs(2));
        limiter.forget_idle();
        assert_eq!(
            keys.len(),
            1,
            "only the key still short of its allowance stays"
        );
        assert!(limiter.take("0").is_ok());
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = LaunchLimiter::new(0);
        for _ in 0..10_000 {
            assert!(limiter.take("k").is_ok());
        }
    }
}
