//! Per-key token buckets: each principal and each tenant has a sustained rate and a burst.
//! Excess calls get `RESOURCE_EXHAUSTED` with a `RetryInfo` saying when to come back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most buckets kept; idle ones are dropped beyond it.
const MAX_BUCKETS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// A keyed token-bucket limiter.
#[derive(Debug)]
pub struct RateLimiter {
    rate_per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Allows `rate_per_sec` calls per second per key, with bursts of `burst`.
    pub fn new(rate_per_sec: u64, burst: u64) -> Self {
        Self::with_rate(rate_per_sec as f64, burst)
    }

    /// Allows `per_minute` calls per minute per key, all of them at once if need be.
    pub fn per_minute(per_minute: u64) -> Self {
        Self::with_rate(per_minute as f64 / 60.0, per_minute)
    }

    fn with_rate(rate_per_sec: f64, burst: u64) -> Self {
        Self {
            rate_per_sec,
            burst: burst.max(1) as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how long until one is available.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            // A bucket idle this long has refilled: forgetting it changes nothing.
            let full_after =
                Duration::from_secs_f64(self.burst / self.rate_per_sec.max(f64::MIN_POSITIVE));
            buckets.retain(|_, b| now.duration_since(b.updated) < full_after);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate_per_sec).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.rate_per_sec.max(f64::MIN_POSITIVE);
            Err(Duration::from_secs_f64(wait.min(60.0)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses_with_a_wait() {
        let limiter = RateLimiter::new(10, 3);
        for _ in 0..3 {
            assert!(limiter.check("a").is_ok());
        }
        let wait = limiter.check("a").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(100));
        assert!(limiter.check("b").is_ok(), "keys are independent");
    }

    #[test]
    fn slow_buckets_are_not_forgotten_before_they_refill() {
        let limiter = RateLimiter::per_minute(10);
        for _ in 0..10 {
            assert!(limiter.check("admin").is_ok());
        }
        let wait = limiter.check("admin").unwrap_err();
        // One attempt comes back every six seconds, not the whole burst after ten.
        assert!(wait > Duration::from_secs(5), "{wait:?}");
    }
}
