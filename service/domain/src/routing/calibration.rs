//! Calibration of the combined scores and split-conformal prediction sets.
//!
//! Raw combined scores are over- or under-confident depending on how many
//! signals agree; one fitted temperature (`softmax(score / T)`) fixes most of it
//! at the cost of one number. Prediction sets use split conformal prediction
//! with the "1 - p(true)" nonconformity score on recent confirmed cases: the
//! smallest sets on average with the guaranteed `1 - alpha` coverage when the
//! recent cases are exchangeable with new ones.
//!
//! They are not once the months change: measured on St Petersburg's later
//! months, sets promising 90% covered 86%. So the level the quantile is read
//! at adapts online (adaptive conformal inference, Gibbs and Candès 2021):
//! after every confirmed case, `alpha_t += gamma * (alpha - miss)`, where
//! `miss` is 1 when the truth was outside the set the appeal got. Misses
//! above the promised rate lower `alpha_t` and widen the sets, and the long-run
//! miss rate converges to `alpha` whatever the drift. [`AdaptiveAlpha`] holds
//! that state; the calibration keeps its sorted nonconformity scores so any
//! level can be read.

use serde::{Deserialize, Serialize};

use super::weights::LearnedWeights;

/// A fitted calibration: temperature plus the conformal threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Divides the combined log scores before the softmax.
    pub temperature: f64,
    /// Conformal quantile of `1 - p(true)`; `None` with too few calibration cases.
    pub conformal_q: Option<f64>,
    /// Miscoverage level the quantile was computed for.
    pub alpha: f64,
    /// Number of cases behind the fit.
    pub n: usize,
    /// Lowest confidence at which auto-routing reaches the target precision on
    /// the calibration cases (see [`Calibration::with_auto_threshold`]);
    /// `None`: too few cases, or the target is out of reach.
    #[serde(default)]
    pub auto_threshold: Option<f64>,
    /// Signal weights learned on the same held-out cases (see
    /// [`super::weights`]); `None`: the configured weights apply.
    #[serde(default)]
    pub weights: Option<LearnedWeights>,
    /// The calibration cases' nonconformity scores `1 - p(true)`, ascending,
    /// so the quantile can be read at the adaptive level (empty in models
    /// stored by earlier builds: `conformal_q` then applies as it is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<f64>,
    /// The calibration cases' outcomes in time order: the confidence of the
    /// top candidate and whether it was right (set with the auto-routing
    /// threshold). They start the window of recent outcomes
    /// ([`super::recent::RecentOutcomes`]) before live confirmations fill it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<(f32, bool)>,
}

impl Default for Calibration {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            conformal_q: None,
            alpha: 0.1,
            n: 0,
            auto_threshold: None,
            weights: None,
            scores: Vec::new(),
            outcomes: Vec::new(),
        }
    }
}

/// The adaptive miscoverage level of a tenant's prediction sets (see the
/// module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveAlpha {
    /// The promised miscoverage.
    pub target: f64,
    /// Step size: how fast the level follows the misses.
    pub gamma: f64,
    /// The level in force.
    pub level: f64,
}

impl AdaptiveAlpha {
    /// Starts at the promised level.
    pub fn new(target: f64, gamma: f64) -> Self {
        Self {
            target,
            gamma,
            level: target,
        }
    }

    /// Learns from one confirmed case: whether its set held the truth. The
    /// level is kept within [-1, 1] (below 0 every set is every candidate;
    /// the bound only stops an endless run of misses from taking forever to
    /// undo).
    pub fn update(&mut self, covered: bool) {
        let miss = if covered { 0.0 } else { 1.0 };
        self.level = (self.level + self.gamma * (self.target - miss)).clamp(-1.0, 1.0);
    }
}

/// A prediction set and how it was formed.
#[derive(Debug, Clone, PartialEq)]
pub struct ConformalSet {
    /// Indices into the candidate list, best first.
    pub members: Vec<usize>,
    /// True when it came from a fitted conformal quantile (else: cumulative mass).
    pub conformal: bool,
}

/// Softmax of `scores / temperature`.
pub fn softmax_t(scores: &[f64], temperature: f64) -> Vec<f64> {
    let t = temperature.max(1e-6);
    let m = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut p: Vec<f64> = scores.iter().map(|s| ((s - m) / t).exp()).collect();
    let sum: f64 = p.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        p.iter_mut().for_each(|v| *v /= sum);
    }
    p
}

/// Wilson score lower bound of a proportion `k / n` at `z` standard errors.
fn wilson_lower(k: usize, n: usize, z: f64) -> f64 {
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = z * z;
    (p + z2 / (2.0 * n) - z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt()) / (1.0 + z2 / n)
}

/// The lowest confidence `t` such that, among `outcomes` (confidence, right)
/// with confidence >= `t`, the Wilson lower bound of precision at `z`
/// standard errors reaches `target`, over at least `min_cases` of them;
/// `None` when no such `t` exists. Sorts `outcomes`.
pub(crate) fn precision_threshold(
    outcomes: &mut [(f64, bool)],
    target: f64,
    min_cases: usize,
    z: f64,
) -> Option<f64> {
    outcomes.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut right, mut threshold) = (0usize, None);
    for (k, (conf, ok)) in outcomes.iter().enumerate() {
        right += usize::from(*ok);
        let n = k + 1;
        // Ties: a threshold can only sit between distinct confidences.
        if outcomes.get(n).is_some_and(|next| next.0 == *conf) {
            continue;
        }
        if n >= min_cases && wilson_lower(right, n, z) >= target {
            threshold = Some(*conf);
        }
    }
    threshold
}

/// Mean negative log-likelihood of the true classes at temperature `t`.
fn nll(cases: &[(Vec<f64>, usize)], t: f64) -> f64 {
    let mut total = 0.0;
    for (scores, y) in cases {
        let p = softmax_t(scores, t);
        total -= p.get(*y).copied().unwrap_or(0.0).max(1e-12).ln();
    }
    total / cases.len().max(1) as f64
}

impl Calibration {
    /// Fits the temperature (golden-section search on log T in [0.02, 50]) and
    /// the conformal quantile on `cases` = (combined scores, index of the truth).
    /// Cases whose truth is not a candidate count as misses for the quantile.
    pub fn fit(cases: &[(Vec<f64>, usize)], alpha: f64) -> Self {
        if cases.is_empty() {
            return Self {
                alpha,
                ..Self::default()
            };
        }
        let (mut lo, mut hi) = (0.02f64.ln(), 50f64.ln());
        let g = (5f64.sqrt() - 1.0) / 2.0;
        for _ in 0..60 {
            let a = hi - g * (hi - lo);
            let b = lo + g * (hi - lo);
            if nll(cases, a.exp()) < nll(cases, b.exp()) {
                hi = b;
            } else {
                lo = a;
            }
        }
        let temperature = ((lo + hi) / 2.0).exp();
        let mut scores: Vec<f64> = cases
            .iter()
            .map(|(s, y)| 1.0 - softmax_t(s, temperature).get(*y).copied().unwrap_or(0.0))
            .collect();
        scores.sort_by(f64::total_cmp);
        let n = scores.len();
        let rank = ((n as f64 + 1.0) * (1.0 - alpha)).ceil() as usize;
        let conformal_q = (rank <= n && rank >= 1).then(|| scores[rank - 1]);
        Self {
            temperature,
            conformal_q,
            alpha,
            n,
            auto_threshold: None,
            weights: None,
            scores,
            outcomes: Vec::new(),
        }
    }

    /// The conformal quantile at miscoverage `level` (the adaptive one): 1
    /// (every candidate) at or below 0, else the `ceil((n + 1)(1 - level))`-th
    /// smallest score, 1 past the last. Without stored scores: `conformal_q`.
    pub fn quantile(&self, level: f64) -> Option<f64> {
        if self.scores.is_empty() {
            return self.conformal_q;
        }
        if level <= 0.0 {
            return Some(1.0);
        }
        let n = self.scores.len();
        let rank = ((n as f64 + 1.0) * (1.0 - level.min(1.0))).ceil() as usize;
        Some(match rank {
            0 => 0.0,
            r if r > n => 1.0,
            r => self.scores[r - 1],
        })
    }

    /// Sets [`Calibration::auto_threshold`]: the lowest confidence `t` such
    /// that, among the calibration cases with confidence >= `t`, precision is
    /// at least `target` with ~98% confidence (the Wilson lower bound, z = 2,
    /// must reach it: the point estimate alone would miss the target half of
    /// the time on new appeals, and at z = 1.28 the month after the
    /// calibration cases still came out 0.001 short on the dev data). Needs
    /// at least `min_cases` such cases.
    pub fn with_auto_threshold(
        mut self,
        cases: &[(Vec<f64>, usize)],
        target: f64,
        min_cases: usize,
    ) -> Self {
        let mut confident: Vec<(f64, bool)> = cases
            .iter()
            .map(|(s, y)| {
                let p = softmax_t(s, self.temperature);
                let best = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b]));
                best.map_or((0.0, false), |b| (p[b], b == *y))
            })
            .collect();
        self.outcomes = confident.iter().map(|&(c, ok)| (c as f32, ok)).collect();
        self.auto_threshold = precision_threshold(&mut confident, target, min_cases, 2.0);
        self
    }

    /// The prediction set for calibrated probabilities `p` (any order).
    ///
    /// With a fitted quantile: every candidate with `1 - p <= q` (never empty: the
    /// best one is always in). Without one (too few cases): the smallest set whose
    /// probability mass reaches `1 - alpha`.
    pub fn prediction_set(&self, p: &[f64]) -> ConformalSet {
        self.set_with(p, self.conformal_q)
    }

    /// The prediction set with the quantile read at the adaptive `level`.
    pub fn prediction_set_at(&self, p: &[f64], level: f64) -> ConformalSet {
        self.set_with(p, self.quantile(level))
    }

    fn set_with(&self, p: &[f64], q: Option<f64>) -> ConformalSet {
        let mut order: Vec<usize> = (0..p.len()).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
        let mut members = Vec::new();
        match q {
            Some(q) => {
                for &i in &order {
                    if 1.0 - p[i] <= q + 1e-12 || members.is_empty() {
                        members.push(i);
                    }
                }
            }
            None => {
                let mut mass = 0.0;
                for &i in &order {
                    members.push(i);
                    mass += p[i];
                    if mass >= 1.0 - self.alpha {
                        break;
                    }
                }
            }
        }
        ConformalSet {
            members,
            conformal: q.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_threshold_reaches_the_target_precision_with_a_margin() {
        // 400 cases: confidence rises with the index; the first 100 are 50% right,
        // the rest all right except every 40th.
        let cases: Vec<(Vec<f64>, usize)> = (0..400)
            .map(|i| {
                let margin = i as f64 / 100.0;
                let right = if i < 100 { i % 2 == 0 } else { i % 40 != 0 };
                (vec![margin, 0.0], if right { 0 } else { 1 })
            })
            .collect();
        let cal = Calibration {
            temperature: 1.0,
            ..Calibration::default()
        }
        .with_auto_threshold(&cases, 0.95, 50);
        let t = cal.auto_threshold.expect("reachable");
        let chosen: Vec<_> = cases
            .iter()
            .filter(|(s, _)| softmax_t(s, 1.0)[0] >= t)
            .collect();
        let precision = chosen.iter().filter(|(_, y)| *y == 0).count() as f64 / chosen.len() as f64;
        assert!(precision >= 0.95, "{precision}");
        assert!(chosen.len() >= 250, "{}", chosen.len());
        // An unreachable target, or too few cases, leaves it unset.
        let none = Calibration::default().with_auto_threshold(&cases, 0.999, 50);
        assert_eq!(none.auto_threshold, None);
        let few = Calibration::default().with_auto_threshold(&cases[..30], 0.5, 50);
        assert_eq!(few.auto_threshold, None);
    }

    #[test]
    fn temperature_shrinks_overconfident_scores() {
        // Scores say 0.99 but the truth is the top class only ~70% of the time.
        let mut cases = Vec::new();
        for i in 0..100 {
            let y = if i % 10 < 7 { 0 } else { 1 };
            cases.push((vec![5.0, 0.0, 0.0], y));
        }
        let c = Calibration::fit(&cases, 0.1);
        let p = softmax_t(&[5.0, 0.0, 0.0], c.temperature);
        assert!((p[0] - 0.7).abs() < 0.02, "{p:?} T={}", c.temperature);
    }

    #[test]
    fn conformal_sets_cover_at_the_requested_level() {
        // Truth is class 0 in 80% of cases, class 1 in 15%, class 2 in 5%.
        let mut cases = Vec::new();
        for i in 0..200 {
            let y = match i % 20 {
                0..=15 => 0,
                16..=18 => 1,
                _ => 2,
            };
            cases.push((vec![2.0, 0.5, 0.0], y));
        }
        let c = Calibration::fit(&cases, 0.1);
        let p = softmax_t(&[2.0, 0.5, 0.0], c.temperature);
        let set = c.prediction_set(&p);
        assert!(set.conformal);
        assert_eq!(set.members, vec![0, 1], "q={:?} p={p:?}", c.conformal_q);
        let c2 = Calibration::fit(&cases, 0.02);
        assert_eq!(c2.prediction_set(&p).members.len(), 3);
    }

    #[test]
    fn too_few_cases_fall_back_to_probability_mass() {
        let c = Calibration::fit(&[(vec![1.0, 0.0], 0)], 0.1);
        assert_eq!(c.conformal_q, None);
        let set = c.prediction_set(&[0.95, 0.05]);
        assert_eq!(set.members, vec![0]);
        assert!(!set.conformal);
        assert_eq!(
            Calibration::default()
                .prediction_set(&[0.5, 0.3, 0.2])
                .members,
            vec![0, 1, 2]
        );
    }

    #[test]
    fn the_adaptive_level_widens_sets_after_misses_and_reads_the_stored_scores() {
        let mut cases = Vec::new();
        for i in 0..200 {
            let y = match i % 20 {
                0..=15 => 0,
                16..=18 => 1,
                _ => 2,
            };
            cases.push((vec![2.0, 0.5, 0.0], y));
        }
        let c = Calibration::fit(&cases, 0.1);
        assert_eq!(c.quantile(0.1), c.conformal_q);
        let p = softmax_t(&[2.0, 0.5, 0.0], c.temperature);
        assert_eq!(c.prediction_set_at(&p, 0.1).members, vec![0, 1]);
        assert_eq!(c.prediction_set_at(&p, 0.0).members.len(), 3);
        assert_eq!(c.prediction_set_at(&p, 0.9).members, vec![0]);
        // Drift: every set misses; the level falls until sets widen.
        let mut a = AdaptiveAlpha::new(0.1, 0.01);
        for _ in 0..5 {
            a.update(false);
        }
        assert!((a.level - (0.1 - 5.0 * 0.9 * 0.01)).abs() < 1e-12);
        assert!(c.prediction_set_at(&p, a.level).members.len() >= 2);
        for _ in 0..20 {
            a.update(false);
        }
        assert!(a.level < 0.0);
        assert_eq!(c.prediction_set_at(&p, a.level).members.len(), 3);
        // Covered cases bring it back up, by gamma * alpha each.
        let before = a.level;
        a.update(true);
        assert!((a.level - before - 0.001).abs() < 1e-12);
        // A model stored without scores keeps its quantile.
        let old = Calibration {
            scores: Vec::new(),
            ..c.clone()
        };
        assert_eq!(old.quantile(0.0), c.conformal_q);
    }
}
