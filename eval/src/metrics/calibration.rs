//! Expected calibration error and reliability-diagram data.
//!
//! Binning: [`BINS`] = 15 equal-width bins over [0, 1]; bin `i` holds
//! confidences in `[i/15, (i+1)/15)`, the last bin also holds 1.0.
//! ECE = sum over bins of `n_bin / n * |accuracy_bin - mean_confidence_bin|`,
//! accuracy being top-1 (Guo et al. 2017).

use std::borrow::Borrow;

use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;

/// Number of equal-width bins (the common choice since Guo et al.).
pub const BINS: usize = 15;

/// One bin of the reliability diagram.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bin {
    /// Lower edge (inclusive).
    pub lower: f64,
    /// Upper edge (exclusive, except the last bin).
    pub upper: f64,
    /// Examples in it.
    pub count: usize,
    /// Their mean confidence (0 if empty).
    pub mean_confidence: f64,
    /// Their top-1 accuracy (0 if empty).
    pub accuracy: f64,
}

/// ECE and the bins it comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Calibration {
    /// Expected calibration error.
    pub ece: f64,
    /// Every bin, empty ones included.
    pub bins: Vec<Bin>,
}

/// Bins confidences (clamped to [0, 1]) and computes the ECE.
pub fn reliability<O: Borrow<Outcome>>(outcomes: &[O], bins: usize) -> Calibration {
    let mut count = vec![0usize; bins];
    let mut conf = vec![0f64; bins];
    let mut right = vec![0usize; bins];
    for o in outcomes.iter().map(Borrow::borrow) {
        let c = if o.confidence.is_finite() {
            o.confidence.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let b = ((c * bins as f64) as usize).min(bins - 1);
        count[b] += 1;
        conf[b] += c;
        right[b] += o.hit_at(1) as usize;
    }
    let n = outcomes.len().max(1) as f64;
    let mut ece = 0.0;
    let bins = (0..bins)
        .map(|b| {
            let (mean_confidence, accuracy) = if count[b] > 0 {
                (conf[b] / count[b] as f64, right[b] as f64 / count[b] as f64)
            } else {
                (0.0, 0.0)
            };
            ece += count[b] as f64 / n * (accuracy - mean_confidence).abs();
            Bin {
                lower: b as f64 / bins as f64,
                upper: (b + 1) as f64 / bins as f64,
                count: count[b],
                mean_confidence,
                accuracy,
            }
        })
        .collect();
    Calibration { ece, bins }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::fixture::six;

    #[test]
    fn ece_by_hand() {
        // Confidences .90 .62 .85 .50 .88 .45, right: yes no yes no yes no.
        // Bins (width 1/15): .90 and .88 -> 13 ([.867, .933)): conf .89, acc 1, gap .11, weight 2/6;
        // .62 -> 9: gap .62; .85 -> 12: gap .15; .50 -> 7: gap .50; .45 -> 6: gap .45 (1/6 each).
        // ECE = (2 * .11 + .62 + .15 + .50 + .45) / 6 = 1.94 / 6.
        let c = reliability(&six(), BINS);
        assert!((c.ece - 1.94 / 6.0).abs() < 1e-12, "{}", c.ece);
        assert_eq!(c.bins.len(), 15);
        assert_eq!(c.bins[13].count, 2);
        assert!((c.bins[13].mean_confidence - 0.89).abs() < 1e-12);
        assert_eq!(c.bins[13].accuracy, 1.0);
        let filled: Vec<usize> = c
            .bins
            .iter()
            .enumerate()
            .filter(|b| b.1.count > 0)
            .map(|b| b.0)
            .collect();
        assert_eq!(filled, [6, 7, 9, 12, 13]);
        let mut one = six();
        one[0].confidence = 1.0;
        assert_eq!(
            reliability(&one, BINS).bins[14].count,
            1,
            "1.0 falls in the last bin"
        );
    }
}
