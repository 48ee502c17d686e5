//! Per-key rate limit: `governor`'s keyed GCRA limiter (a token bucket per API
//! key id, refilled continuously), wrapped only to read our config and to say
//! how long the caller should wait (`Retry-After`).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Keys whose buckets are full again are forgotten past this many keys.
const FORGET_AFTER_KEYS: usize = 10_000;

/// Token buckets keyed by API key id; disabled when the rate is 0.
pub struct RateLimiter {
    inner: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl RateLimiter {
    /// `per_sec` requests per second, at most `burst` at once; `per_sec <= 0` disables.
    pub fn new(per_sec: f64, burst: u32) -> Self {
        let inner = (per_sec > 0.0 && per_sec.is_finite())
            .then(|| Quota::with_period(Duration::from_secs_f64(1.0 / per_sec)))
            .flatten()
            .map(|q| {
                let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
                DefaultKeyedRateLimiter::keyed(q.allow_burst(burst))
            });
        Self {
            inner,
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request's worth for `key`; `Err(seconds)` says when the next
    /// one is allowed (at least 1, the unit of `Retry-After`).
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let Some(limiter) = &self.inner else {
            return Ok(());
        };
        if limiter.len() > FORGET_AFTER_KEYS {
            limiter.retain_recent();
        }
        limiter.check_key(&key.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused_per_key_and_off_at_zero() {
        let rl = RateLimiter::new(0.5, 3);
        for _ in 0..3 {
            assert!(rl.check("a").is_ok());
        }
        let wait = rl.check("a").expect_err("the fourth is over the burst");
        assert!((1..=2).contains(&wait), "{wait}");
        assert!(rl.check("b").is_ok(), "keys have separate buckets");
        let off = RateLimiter::new(0.0, 1);
        for _ in 0..100 {
            assert!(off.check("a").is_ok());
        }
    }
}
