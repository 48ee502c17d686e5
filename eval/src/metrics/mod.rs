//! Metrics over [`Outcome`]s, one module per concern, and [`summarise`] which
//! computes all of them for the report.

pub mod accuracy;
pub mod automation;
pub mod breakdown;
pub mod calibration;
pub mod classification;
pub mod conformal;
pub mod coverage;
pub mod latency;
pub mod monthly;

use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;

/// Every metric of one router on one (pooled) test set. Field names are the
/// stable `report.json` schema (see docs/eval.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metrics {
    /// Test examples.
    pub n_test: usize,
    /// Share whose first choice is right.
    pub top1: f64,
    /// Share with the truth among the first three.
    pub top3: f64,
    /// Unweighted mean of per-department F1 (sklearn's `average="macro"`).
    pub macro_f1: f64,
    /// Expected calibration error, 15 equal-width bins.
    pub ece: f64,
    /// Share the router would route automatically.
    pub auto_share: f64,
    /// Top-1 accuracy among the automatically routed; `null` if none.
    pub auto_precision: Option<f64>,
    /// Share whose truth is in the conformal set.
    pub conformal_coverage: f64,
    /// Mean conformal set size.
    pub mean_set_size: f64,
    /// Per-`predict` latency.
    pub latency_ms: latency::Latency,
    /// Per-department scores, by support descending.
    pub per_department: Vec<classification::DepartmentScore>,
    /// Confusion matrix over all departments seen.
    pub confusion: classification::Confusion,
    /// Reliability diagram data.
    pub calibration: calibration::Calibration,
    /// Coverage vs precision over the confidence threshold.
    pub coverage_precision: coverage::CoverageCurve,
    /// Breakdown by detected language (`unknown` when not reported).
    pub by_language: Vec<breakdown::Group>,
    /// Breakdown by district (`unknown` when missing).
    pub by_district: Vec<breakdown::Group>,
    /// Calibration, coverage and accuracy per calendar month of the test part.
    #[serde(default)]
    pub by_month: Vec<monthly::Month>,
}

/// Computes every metric; `target_precision` picks the confidence threshold.
pub fn summarise(outcomes: &[Outcome], target_precision: f64) -> Metrics {
    let classes = classification::per_department(outcomes);
    let calib = calibration::reliability(outcomes, calibration::BINS);
    Metrics {
        n_test: outcomes.len(),
        top1: accuracy::top_k(outcomes, 1),
        top3: accuracy::top_k(outcomes, 3),
        macro_f1: classification::macro_f1(&classes),
        ece: calib.ece,
        auto_share: automation::auto_share(outcomes),
        auto_precision: automation::auto_precision(outcomes),
        conformal_coverage: conformal::coverage(outcomes),
        mean_set_size: conformal::mean_set_size(outcomes),
        latency_ms: latency::Latency::of(outcomes),
        confusion: classification::confusion(outcomes),
        per_department: classes,
        calibration: calib,
        coverage_precision: coverage::curve(outcomes, target_precision),
        by_language: breakdown::by(outcomes, |o| o.language.as_deref()),
        by_district: breakdown::by(outcomes, |o| o.district.as_deref()),
        by_month: monthly::by_month(outcomes),
    }
}

/// `num / den`, or 0 for an empty denominator (metrics of an empty set are 0).
pub(crate) fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}
