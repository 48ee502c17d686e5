//! The open-loop arrival schedule: request `i` is due `i / rate` seconds after
//! the phase starts, whatever happened to the requests before it. Latency is
//! measured from this due time, so a slow server cannot slow the arrivals down
//! and hide its own queueing (no coordinated omission).

use std::time::Duration;

/// Evenly spaced arrivals at a constant rate (requests per second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    rate: f64,
}

impl Schedule {
    /// A schedule of `rate` requests per second; `None` unless the rate is a
    /// positive finite number.
    pub fn new(rate: f64) -> Option<Self> {
        (rate.is_finite() && rate > 0.0).then_some(Self { rate })
    }

    /// The rate, requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// When request `i` (from 0) is due, counted from the start of the phase.
    pub fn due(&self, i: u64) -> Duration {
        Duration::from_secs_f64(i as f64 / self.rate)
    }

    /// How many requests fall due in `[0, span)`: the requests a phase of that
    /// length sends (200/s for 60 s is exactly 12,000).
    pub fn count(&self, span: Duration) -> u64 {
        // The epsilon keeps an exact product (200 * 60) from rounding up to one more.
        (span.as_secs_f64() * self.rate - 1e-9).ceil().max(0.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_evenly_spaced_at_the_rate() {
        let s = Schedule::new(200.0).unwrap();
        assert_eq!(s.due(0), Duration::ZERO);
        assert_eq!(s.due(1), Duration::from_millis(5));
        assert_eq!(s.due(200), Duration::from_secs(1));
        let gaps: Vec<Duration> = (1..1000).map(|i| s.due(i) - s.due(i - 1)).collect();
        for g in gaps {
            let us = g.as_micros();
            assert!((4999..=5001).contains(&us), "gap of {us} us at 200/s");
        }
    }

    #[test]
    fn count_is_the_requests_due_within_the_span() {
        let s = Schedule::new(200.0).unwrap();
        assert_eq!(s.count(Duration::from_secs(60)), 12_000);
        assert_eq!(s.count(Duration::from_secs(5)), 1_000);
        assert_eq!(s.count(Duration::ZERO), 0);
        // 7 req/s for 1.5 s: due at 0, 1/7, ..., 10/7 s (< 1.5 s): 11 requests.
        let s = Schedule::new(7.0).unwrap();
        assert_eq!(s.count(Duration::from_millis(1500)), 11);
        assert!(s.due(10) < Duration::from_millis(1500));
        assert!(s.due(11) >= Duration::from_millis(1500));
        // Warm-up then measurement split the same stream without overlap.
        let s = Schedule::new(150.0).unwrap();
        let warm = s.count(Duration::from_secs(5));
        let total = s.count(Duration::from_secs(65));
        assert_eq!((warm, total - warm), (750, 9_000));
    }

    #[test]
    fn nonsense_rates_are_refused() {
        for r in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Schedule::new(r).is_none(), "{r}");
        }
    }
}
