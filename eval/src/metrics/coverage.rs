//! Coverage vs precision over the confidence threshold: keeping only examples
//! with `confidence >= t`, what share is kept (coverage) and how right it is
//! (top-1 precision). The threshold reaching a target precision with the most
//! coverage is what an auto-routing cut-off would be set to.

use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;

/// At most this many curve points are stored (evenly spaced by rank).
pub const MAX_POINTS: usize = 200;

/// One point of the curve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Point {
    /// Confidence threshold (kept: `confidence >= threshold`).
    pub threshold: f64,
    /// Share of examples kept.
    pub coverage: f64,
    /// Top-1 accuracy of the kept examples.
    pub precision: f64,
}

/// The curve and the operating point for the target precision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CoverageCurve {
    /// Precision asked for (`--target-precision`).
    pub target_precision: f64,
    /// Lowest threshold whose precision reaches the target (most coverage);
    /// `null` when no threshold does.
    pub threshold_at_target: Option<f64>,
    /// Coverage at that threshold (0 when unreachable).
    pub coverage_at_target: f64,
    /// Precision at that threshold (`null` when unreachable).
    pub precision_at_target: Option<f64>,
    /// Points by decreasing threshold, one per distinct confidence (thinned to
    /// [`MAX_POINTS`]).
    pub points: Vec<Point>,
}

/// Computes the full curve exactly, then thins the stored points.
pub fn curve(outcomes: &[Outcome], target_precision: f64) -> CoverageCurve {
    let mut sorted: Vec<(f64, bool)> = outcomes
        .iter()
        .map(|o| (o.confidence, o.hit_at(1)))
        .collect();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let n = sorted.len();
    let mut points = Vec::new();
    let mut right = 0usize;
    for (i, &(c, hit)) in sorted.iter().enumerate() {
        right += hit as usize;
        let last_of_tie = i + 1 == n || sorted[i + 1].0 != c;
        if last_of_tie {
            let kept = i + 1;
            points.push(Point {
                threshold: c,
                coverage: kept as f64 / n as f64,
                precision: right as f64 / kept as f64,
            });
        }
    }
    let best = points
        .iter()
        .filter(|p| p.precision >= target_precision)
        .max_by(|a, b| a.coverage.total_cmp(&b.coverage));
    let (threshold_at_target, coverage_at_target, precision_at_target) = match best {
        Some(p) => (Some(p.threshold), p.coverage, Some(p.precision)),
        None => (None, 0.0, None),
    };
    if points.len() > MAX_POINTS {
        let m = points.len();
        points = (0..MAX_POINTS)
            .map(|k| points[k * (m - 1) / (MAX_POINTS - 1)].clone())
            .collect();
    }
    CoverageCurve {
        target_precision,
        threshold_at_target,
        coverage_at_target,
        precision_at_target,
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::fixture::six;

    #[test]
    fn curve_and_target_threshold_by_hand() {
        // By confidence: .90 R, .88 R, .85 R, .62 W, .50 W, .45 W.
        // t=.90: 1/6, 1; .88: 2/6, 1; .85: 3/6, 1; .62: 4/6, 3/4; .50: 5/6, 3/5; .45: 1, 1/2.
        let c = curve(&six(), 0.9);
        assert_eq!(c.points.len(), 6);
        assert_eq!(
            c.points[3],
            Point {
                threshold: 0.62,
                coverage: 4.0 / 6.0,
                precision: 0.75
            }
        );
        assert_eq!(
            (
                c.threshold_at_target,
                c.coverage_at_target,
                c.precision_at_target
            ),
            (Some(0.85), 0.5, Some(1.0))
        );
        let c = curve(&six(), 0.7);
        assert_eq!(c.threshold_at_target, Some(0.62));
        let c = curve(&six(), 1.01);
        assert_eq!((c.threshold_at_target, c.coverage_at_target), (None, 0.0));
    }

    #[test]
    fn ties_form_one_point() {
        let mut v = six();
        for o in &mut v {
            o.confidence = 0.5;
        }
        let c = curve(&v, 0.9);
        assert_eq!(
            c.points,
            vec![Point {
                threshold: 0.5,
                coverage: 1.0,
                precision: 0.5
            }]
        );
    }
}
