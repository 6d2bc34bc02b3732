//! An optional cap on launch requests per client key: a token bucket per key,
//! counted in each process so that the hot path stays free of SQL. Behind a
//! load balancer with N processes a key can make up to N times the cap.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys idle this long are forgotten, so the table stays small.
const FORGET_AFTER: Duration = Duration::from_secs(600);

pub struct LaunchLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl LaunchLimiter {
    /// `per_minute` of 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::default(),
        }
    }

    /// Takes one request from `key`'s allowance; when none is left, says how
    /// long until one is.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = crate::sync::lock(&self.buckets);
        if buckets.len() > 10_000 {
            buckets.retain(|_, bucket| now.duration_since(bucket.updated) < FORGET_AFTER);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_allowance_and_then_waits() {
        let limiter = LaunchLimiter::new(60);
        let start = Instant::now();
        for _ in 0..60 {
            assert!(limiter.take("k", start).is_ok());
        }
        let wait = limiter.take("k", start).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO);
        assert!(
            limiter.take("other", start).is_ok(),
            "keys are counted apart"
        );
        assert!(
            limiter.take("k", start + Duration::from_secs(1)).is_ok(),
            "one per second comes back"
        );
        assert!(limiter.take("k", start + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = LaunchLimiter::new(0);
        let now = Instant::now();
        for _ in 0..10_000 {
            assert!(limiter.take("k", now).is_ok());
        }
    }
}
