//! Metrics per calendar month of the test part: whether calibration and the
//! prediction sets' promise hold as the months move away from the training
//! data (a single pooled number hides a slide from 0.92 to 0.85).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{automation, calibration, conformal, ratio};
use crate::outcome::Outcome;

/// Metrics of one month.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Month {
    /// `YYYY-MM` (UTC), or `unknown`.
    pub month: String,
    /// Examples.
    pub n: usize,
    /// Top-1 accuracy.
    pub top1: f64,
    /// Expected calibration error (15 bins).
    pub ece: f64,
    /// Share whose truth is in the prediction set.
    pub conformal_coverage: f64,
    /// Mean prediction-set size.
    pub mean_set_size: f64,
    /// Share routed automatically.
    pub auto_share: f64,
    /// Top-1 accuracy of the automatically routed; `null` if none.
    pub auto_precision: Option<f64>,
}

/// One [`Month`] per month present, in time order.
pub fn by_month(outcomes: &[Outcome]) -> Vec<Month> {
    let mut groups: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        groups
            .entry(o.month.as_deref().unwrap_or(super::breakdown::UNKNOWN))
            .or_default()
            .push(o);
    }
    groups
        .into_iter()
        .map(|(month, v)| Month {
            month: month.to_string(),
            n: v.len(),
            top1: ratio(v.iter().filter(|o| o.hit_at(1)).count(), v.len()),
            ece: calibration::reliability(&v, calibration::BINS).ece,
            conformal_coverage: conformal::coverage(&v),
            mean_set_size: conformal::mean_set_size(&v),
            auto_share: ratio(v.iter().filter(|o| o.auto).count(), v.len()),
            auto_precision: automation::auto_precision(&v),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::fixture::six;

    #[test]
    fn months_in_order_with_their_own_coverage() {
        let mut v = six();
        for (i, o) in v.iter_mut().enumerate() {
            o.month = Some(if i < 3 { "2021-02" } else { "2021-01" }.into());
        }
        let m = by_month(&v);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].month, "2021-01");
        assert_eq!(m[0].n + m[1].n, 6);
        // Truth in set: #1, #2, #3 (February); #5 of #4-#6 (January).
        assert!((m[1].conformal_coverage - 1.0).abs() < 1e-12);
        assert!((m[0].conformal_coverage - 1.0 / 3.0).abs() < 1e-12);
    }
}
