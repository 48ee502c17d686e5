//! Baselines run beside the engine on the same split: `majority`,
//! `tfidf_text`, `tfidf_text_district`, and, when the data has a category
//! (`--category-cols`), `category_lookup` and `tfidf_text_district_category`,
//! and with coordinates the place baseline `nearest_same_category`. Each tunes what it has on a time-ordered
//! validation slice of train only, so they are fair and honest comparisons.

pub mod calibrate;
pub mod category;
pub mod lbfgs;
pub mod logreg;
pub mod majority;
pub mod nearest;
pub mod softmax_loss;
pub mod sparse;
pub mod text;
pub mod tfidf;

use serde::Serialize;

use crate::router::{LabelledAppeal, Router};

/// Settings shared by the baselines (`run` flags).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineConfig {
    /// Values of C tried on the validation slice (`--c-grid`).
    pub c_grid: Vec<f64>,
    /// Minimum document frequency of a term (`--min-df`).
    pub min_df: usize,
    /// L-BFGS iteration cap per fit (`--max-iter`).
    pub max_iter: usize,
    /// A validation fit stops once this many iterations bring no better
    /// validation top-1 (`--patience`; 0: every fit runs to the tolerance).
    pub patience: usize,
    /// Validation top-1 is computed every this many iterations.
    pub check_every: usize,
    /// Share of train (the latest by time) held out for tuning.
    pub validation_fraction: f64,
    /// Precision the auto-routing threshold must reach on validation.
    pub target_precision: f64,
    /// Conformal miscoverage level.
    pub conformal_alpha: f64,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            c_grid: vec![3.0, 10.0, 30.0],
            min_df: 2,
            max_iter: 300,
            patience: 50,
            check_every: 10,
            validation_fraction: 0.1,
            target_precision: 0.9,
            conformal_alpha: 0.1,
        }
    }
}

/// The baselines, unfitted, in report order; the two that read the
/// category only `with_category`, the place baseline only `with_coordinates`.
pub fn all(
    cfg: &BaselineConfig,
    with_category: bool,
    with_coordinates: bool,
) -> Vec<Box<dyn Router>> {
    let mut out: Vec<Box<dyn Router>> = vec![
        Box::new(majority::Majority::new(cfg.clone())),
        Box::new(text::TfidfLogReg::new(cfg.clone(), text::Variant::Text)),
        Box::new(text::TfidfLogReg::new(
            cfg.clone(),
            text::Variant::TextDistrict,
        )),
    ];
    if with_category {
        out.push(Box::new(category::CategoryLookup::new(cfg.clone())));
        out.push(Box::new(text::TfidfLogReg::new(
            cfg.clone(),
            text::Variant::TextDistrictCategory,
        )));
    }
    if with_coordinates {
        out.push(Box::new(nearest::NearestSameCategory::new(cfg.clone())));
    }
    out
}

/// Train rows sorted by time (stable), whatever order the caller passed.
pub(crate) fn time_ordered(train: &[LabelledAppeal]) -> Vec<&LabelledAppeal> {
    let mut v: Vec<&LabelledAppeal> = train.iter().collect();
    v.sort_by_key(|r| r.created_at);
    v
}

/// Index splitting `n` time-ordered rows into fit (before) and validation
/// (from it on): the last `fraction`, at least one row each side when n >= 2.
pub(crate) fn validation_cut(n: usize, fraction: f64) -> usize {
    if n < 2 {
        return n;
    }
    let n_val = ((n as f64 * fraction).floor() as usize).clamp(1, n - 1);
    n - n_val
}
