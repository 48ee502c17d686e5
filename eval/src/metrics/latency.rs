//! Latency percentiles of `predict` calls.
//!
//! Percentiles are nearest-rank: the p-th percentile of n sorted values is the
//! value at rank `ceil(p/100 * n)` (1-based) — always an observed latency.

use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;

/// Latency summary, milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Mean.
    pub mean: f64,
    /// Slowest call.
    pub max: f64,
}

/// Nearest-rank percentile of sorted values (0 for none).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Latency {
    /// Summarises the outcomes' `latency_ms`.
    pub fn of(outcomes: &[Outcome]) -> Latency {
        let mut v: Vec<f64> = outcomes.iter().map(|o| o.latency_ms).collect();
        v.sort_by(f64::total_cmp);
        let mean = if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        };
        Latency {
            p50: percentile(&v, 50.0),
            p95: percentile(&v, 95.0),
            p99: percentile(&v, 99.0),
            mean,
            max: v.last().copied().unwrap_or(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::fixture::six;

    #[test]
    fn nearest_rank_percentiles_by_hand() {
        // Sorted 1 2 3 4 5 10: p50 rank ceil(3) = 3 -> 3; p95 rank ceil(5.7) = 6 -> 10.
        let l = Latency::of(&six());
        assert_eq!((l.p50, l.p95, l.p99, l.max), (3.0, 10.0, 10.0, 10.0));
        assert!((l.mean - 25.0 / 6.0).abs() < 1e-12);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 25.0), 1.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
