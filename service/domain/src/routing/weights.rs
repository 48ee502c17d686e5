//! Signal weights learned from a tenant's own held-out cases.
//!
//! The scorer adds up `weight * log P(candidate)` over its signals. The
//! defaults ([`super::RoutingParams`]) were tuned on one city's history, and
//! how much each signal deserves depends on the tenant: how repetitive its
//! appeals are (near-duplicates), how often coordinates come with them (same
//! spot), how well the district names the body (place). So at each refit the
//! weights are fitted by maximum likelihood (a conditional logit over the
//! candidates) on the recent confirmed cases held out for calibration: scored
//! with models fitted without them and neighbours received before each one,
//! i.e. exactly what routing knew when they arrived.
//!
//! The fit has one parameter per signal, is convex, and keeps every weight at
//! or above 0 (a signal never counts against what it votes for). Until a tenant has
//! [`WeightFitOptions::min_cases`] held-out cases the defaults stand: on a few
//! hundred cases the learned weights move with the sample.
//!
//! How far to trust each signal also depends on the appeal: a two-word appeal
//! ("Надписи", "Graffiti") gives the text models little to go on and its text
//! neighbours are a crowd of identical one-liners, so the place and the
//! district's own history must count for more than with a paragraph. So the
//! weights are learned per [`TextLength`] class, each pulled toward the shared
//! fit by a ridge (a class with few cases stays close to it).

use serde::{Deserialize, Serialize};

pub use super::signals::{SignalKind, SignalWeights, SIGNALS};

/// Length class of an appeal's text, by words: each class has its own weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextLength {
    /// At most [`TextLength::SHORT_WORDS`] words: a title more than a text.
    Short,
    /// Up to [`TextLength::MEDIUM_WORDS`] words: one sentence.
    Medium,
    /// Longer.
    Long,
}

impl TextLength {
    /// Most words of a short text.
    pub const SHORT_WORDS: usize = 3;
    /// Most words of a medium text.
    pub const MEDIUM_WORDS: usize = 10;

    /// The class of `text` (words are whitespace-separated runs).
    pub fn of(text: &str) -> Self {
        match text.split_whitespace().count() {
            n if n <= Self::SHORT_WORDS => Self::Short,
            n if n <= Self::MEDIUM_WORDS => Self::Medium,
            _ => Self::Long,
        }
    }
}

/// Learned weights: one vector per [`TextLength`] class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LearnedWeights {
    /// Fitted on all held-out cases together (what a class with too few
    /// cases of its own uses).
    pub shared: SignalWeights,
    /// For short texts.
    pub short: SignalWeights,
    /// For medium texts.
    pub medium: SignalWeights,
    /// For long texts.
    pub long: SignalWeights,
}

impl LearnedWeights {
    /// The weights for an appeal of this length class.
    pub fn for_length(&self, length: TextLength) -> &SignalWeights {
        match length {
            TextLength::Short => &self.short,
            TextLength::Medium => &self.medium,
            TextLength::Long => &self.long,
        }
    }

    /// The weights for an appeal with this text.
    pub fn for_text(&self, text: &str) -> &SignalWeights {
        self.for_length(TextLength::of(text))
    }
}

/// One held-out case: its candidates' features and offsets (see
/// [`super::Scored`]) and the index of the confirmed department.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightCase {
    /// Per candidate, the log probability from each signal.
    pub features: Vec<[f64; SIGNALS]>,
    /// Per candidate, the unweighted part of the score.
    pub offset: Vec<f64>,
    /// Index of the truth among the candidates (`None`: not a candidate).
    pub truth: Option<usize>,
    /// Length class of the case's text.
    pub length: TextLength,
}

impl WeightCase {
    /// Combined scores under `weights`.
    pub fn scores(&self, weights: &SignalWeights) -> Vec<f64> {
        self.features
            .iter()
            .zip(&self.offset)
            .map(|(f, o)| o + weights.dot(f))
            .collect()
    }
}

/// How weights are learned.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightFitOptions {
    /// Fewer held-out cases than this (with the truth among the candidates):
    /// keep the configured weights.
    pub min_cases: usize,
    /// Ridge pulling the shared weights toward the configured ones (rescaled
    /// to the data), and each length class's toward the shared ones, in units
    /// of summed log-likelihood: keeps a signal absent from every held-out
    /// case at its configured share instead of undefined.
    pub ridge: f64,
    /// Held-out cases a length class needs for weights of its own (fewer:
    /// it uses the shared ones).
    pub min_class_cases: usize,
    /// Newton iterations at most.
    pub max_iter: usize,
}

impl Default for WeightFitOptions {
    fn default() -> Self {
        Self {
            min_cases: 1000,
            ridge: 5.0,
            min_class_cases: 300,
            max_iter: 100,
        }
    }
}

/// Value, gradient and Hessian of the penalised negative log-likelihood.
struct Objective<'a> {
    cases: &'a [&'a WeightCase],
    ridge: f64,
    prior: [f64; SIGNALS],
}

type Mat = [[f64; SIGNALS]; SIGNALS];

impl Objective<'_> {
    fn eval(&self, w: &[f64; SIGNALS], with_hessian: bool) -> (f64, [f64; SIGNALS], Mat) {
        let mut value = 0.0;
        let mut grad = [0.0; SIGNALS];
        let mut hess = [[0.0; SIGNALS]; SIGNALS];
        let weights = SignalWeights::from_array(*w);
        for case in self.cases {
            let Some(y) = case.truth else { continue };
            let scores = case.scores(&weights);
            let m = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let exps: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
            let z: f64 = exps.iter().sum();
            value += m + z.ln() - scores[y];
            let mut mean = [0.0; SIGNALS];
            for (e, f) in exps.iter().zip(&case.features) {
                let p = e / z;
                for j in 0..SIGNALS {
                    mean[j] += p * f[j];
                }
            }
            for j in 0..SIGNALS {
                grad[j] += mean[j] - case.features[y][j];
            }
            if with_hessian {
                // Covariance of the features under the model's probabilities.
                for (e, f) in exps.iter().zip(&case.features) {
                    let p = e / z;
                    for a in 0..SIGNALS {
                        let da = f[a] - mean[a];
                        for b in 0..SIGNALS {
                            hess[a][b] += p * da * (f[b] - mean[b]);
                        }
                    }
                }
            }
        }
        for j in 0..SIGNALS {
            let d = w[j] - self.prior[j];
            value += 0.5 * self.ridge * d * d;
            grad[j] += self.ridge * d;
            hess[j][j] += self.ridge;
        }
        (value, grad, hess)
    }
}

/// Solves `a x = b` for the indices in `free` (Gaussian elimination with
/// partial pivoting); other entries of `x` are 0. `None` if singular.
fn solve(a: &Mat, b: &[f64; SIGNALS], free: &[usize]) -> Option<[f64; SIGNALS]> {
    let n = free.len();
    let mut m: Vec<Vec<f64>> = free
        .iter()
        .map(|&i| {
            let mut row: Vec<f64> = free.iter().map(|&j| a[i][j]).collect();
            row.push(b[i]);
            row
        })
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&x, &y| m[x][col].abs().total_cmp(&m[y][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        let pivot_row = m[col].clone();
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let factor = row[col] / pivot_row[col];
                for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= factor * p;
                }
            }
        }
    }
    let mut x = [0.0; SIGNALS];
    for (r, &i) in free.iter().enumerate() {
        x[i] = m[r][n] / m[r][r];
    }
    Some(x)
}

/// Fits the signal weights on held-out cases: shared weights starting from
/// (and pulled toward) `configured` rescaled to the data, then one vector per
/// length class pulled toward the shared one. `None` when there are too few
/// usable cases; the configured weights then stand.
pub fn fit(
    cases: &[WeightCase],
    configured: &SignalWeights,
    opts: &WeightFitOptions,
) -> Option<LearnedWeights> {
    let usable: Vec<&WeightCase> = cases
        .iter()
        .filter(|c| c.truth.is_some_and(|y| y < c.features.len()))
        .collect();
    if usable.len() < opts.min_cases.max(1) {
        return None;
    }
    let prior = scale(&usable, configured);
    let shared = newton(&usable, prior, opts);
    let class = |length: TextLength| {
        let own: Vec<&WeightCase> = usable
            .iter()
            .copied()
            .filter(|c| c.length == length)
            .collect();
        let w = if own.len() >= opts.min_class_cases.max(1) {
            newton(&own, shared, opts)
        } else {
            shared
        };
        SignalWeights::from_array(w)
    };
    Some(LearnedWeights {
        shared: SignalWeights::from_array(shared),
        short: class(TextLength::Short),
        medium: class(TextLength::Medium),
        long: class(TextLength::Long),
    })
}

/// The configured weights times the scale that fits the cases best (what
/// the temperature does): the configured weights are only a direction.
fn scale(usable: &[&WeightCase], configured: &SignalWeights) -> [f64; SIGNALS] {
    let base = configured.to_array().map(|w| w.max(0.0));
    // First the overall scale (what the temperature does), with no ridge: the
    // configured weights are only a direction.
    let scale_only = Objective {
        cases: usable,
        ridge: 0.0,
        prior: [0.0; SIGNALS],
    };
    let mut s = 1.0f64;
    for _ in 0..50 {
        let w = base.map(|b| b * s);
        let (_, g, h) = scale_only.eval(&w, true);
        let gs: f64 = (0..SIGNALS).map(|j| g[j] * base[j]).sum();
        let hs: f64 = (0..SIGNALS)
            .flat_map(|a| (0..SIGNALS).map(move |b| (a, b)))
            .map(|(a, b)| base[a] * h[a][b] * base[b])
            .sum();
        if hs <= 1e-12 {
            break;
        }
        let next = (s - gs / hs).clamp(s / 4.0, s * 4.0).max(1e-6);
        let done = (next - s).abs() < 1e-9 * s;
        s = next;
        if done {
            break;
        }
    }
    base.map(|b| b * s)
}

/// Projected Newton on the penalised likelihood, weights >= 0, from `prior`.
fn newton(cases: &[&WeightCase], prior: [f64; SIGNALS], opts: &WeightFitOptions) -> [f64; SIGNALS] {
    let objective = Objective {
        cases,
        ridge: opts.ridge,
        prior,
    };
    // Projected Newton on the weights >= 0.
    let mut w = prior;
    let (mut value, mut grad, mut hess) = objective.eval(&w, true);
    for _ in 0..opts.max_iter {
        let free: Vec<usize> = (0..SIGNALS)
            .filter(|&j| w[j] > 0.0 || grad[j] < 0.0)
            .collect();
        if free.is_empty() {
            break;
        }
        let minus_grad = grad.map(|g| -g);
        let Some(step) = solve(&hess, &minus_grad, &free) else {
            break;
        };
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            let mut next = w;
            for j in &free {
                next[*j] = (w[*j] + t * step[*j]).max(0.0);
            }
            let decrease: f64 = (0..SIGNALS).map(|j| grad[j] * (next[j] - w[j])).sum();
            let (v, _, _) = objective.eval(&next, false);
            if v.is_finite() && v <= value + 1e-4 * decrease {
                accepted = Some((next, v));
                break;
            }
            t /= 2.0;
        }
        let Some((next, v)) = accepted else { break };
        let improvement = value - v;
        w = next;
        value = v;
        if improvement <= 1e-10 * value.abs().max(1.0) {
            break;
        }
        (_, grad, hess) = objective.eval(&w, true);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases where only the lexical signal knows the truth and the place
    /// signal points at the wrong candidate.
    fn cases(n: usize) -> Vec<WeightCase> {
        (0..n)
            .map(|i| {
                let truth = i % 3;
                let features = (0..3)
                    .map(|c| {
                        let mut f = [0.0; SIGNALS];
                        let right = c == truth;
                        // Lexical: right most of the time.
                        let lexical_right = if i % 5 == 0 { !right } else { right };
                        f[SignalKind::Lexical as usize] = if lexical_right { -0.2 } else { -2.0 };
                        // Place: points at the next candidate.
                        f[SignalKind::Place as usize] =
                            if c == (truth + 1) % 3 { -0.1 } else { -6.0 };
                        f
                    })
                    .collect();
                WeightCase {
                    features,
                    offset: vec![0.0; 3],
                    truth: Some(truth),
                    length: TextLength::Long,
                }
            })
            .collect()
    }

    fn accuracy(cases: &[WeightCase], w: &SignalWeights) -> f64 {
        let right = cases
            .iter()
            .filter(|c| {
                let s = c.scores(w);
                let best = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b]));
                best == c.truth
            })
            .count();
        right as f64 / cases.len() as f64
    }

    #[test]
    fn learns_to_trust_the_signal_that_is_right_and_drop_the_one_that_misleads() {
        let configured = SignalWeights::default();
        let data = cases(1200);
        let before = accuracy(&data, &configured);
        let learned = fit(&data, &configured, &WeightFitOptions::default()).expect("enough cases");
        // No short or medium cases: those classes use the shared weights.
        assert_eq!(learned.short, learned.shared);
        assert_eq!(learned.medium, learned.shared);
        let learned = learned.long;
        assert!(
            learned.get(SignalKind::Place) < 0.05 * learned.get(SignalKind::Lexical),
            "{learned:?}"
        );
        assert!(learned.get(SignalKind::Lexical) > 0.0);
        let after = accuracy(&data, &learned);
        assert!(after > before + 0.2, "{before} -> {after}");
        assert!(after >= 0.79, "{after}");
        for w in learned.to_array() {
            assert!(w >= 0.0 && w.is_finite());
        }
    }

    #[test]
    fn too_few_cases_keep_the_configured_weights() {
        let configured = SignalWeights::default();
        assert!(fit(&cases(50), &configured, &WeightFitOptions::default()).is_none());
        let none_usable: Vec<WeightCase> = cases(2000)
            .into_iter()
            .map(|c| WeightCase { truth: None, ..c })
            .collect();
        assert!(fit(&none_usable, &configured, &WeightFitOptions::default()).is_none());
    }

    #[test]
    fn a_signal_absent_from_every_case_keeps_its_configured_share() {
        let configured = SignalWeights::default();
        let learned = fit(&cases(1200), &configured, &WeightFitOptions::default())
            .unwrap()
            .shared;
        // Geo never spoke: it stays at its configured weight times the fitted scale.
        let scale_geo = learned.get(SignalKind::Geo) / configured.get(SignalKind::Geo);
        assert!(scale_geo > 0.0 && scale_geo.is_finite(), "{learned:?}");
        assert!(
            (learned.get(SignalKind::Knn) / configured.get(SignalKind::Knn) - scale_geo).abs()
                < 1e-6
        );
    }

    #[test]
    fn weights_round_trip_through_arrays() {
        let w = SignalWeights::from_array([
            0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3,
        ]);
        assert_eq!(SignalWeights::from_array(w.to_array()), w);
        let f = [1.0; SIGNALS];
        assert!((w.dot(&f) - 9.1).abs() < 1e-12);
    }

    #[test]
    fn each_length_class_learns_which_signal_it_can_trust() {
        // Long texts: the lexical model is right, the place misleads. Short
        // texts: the lexical model is a coin toss, the place is right.
        let mut data = cases(1200);
        for (i, mut c) in cases(900).into_iter().enumerate() {
            let truth = c.truth.unwrap();
            for (k, f) in c.features.iter_mut().enumerate() {
                f[SignalKind::Lexical as usize] = if (i + k) % 3 == 0 { -0.2 } else { -2.0 };
                f[SignalKind::Place as usize] = if k == truth { -0.1 } else { -4.0 };
            }
            c.length = TextLength::Short;
            data.push(c);
        }
        let configured = SignalWeights::default();
        let learned = fit(&data, &configured, &WeightFitOptions::default()).unwrap();
        assert!(
            learned.long.get(SignalKind::Lexical) > 3.0 * learned.long.get(SignalKind::Place),
            "{learned:?}"
        );
        assert!(
            learned.short.get(SignalKind::Place) > 3.0 * learned.short.get(SignalKind::Lexical),
            "{learned:?}"
        );
        // Too few medium cases: the shared weights.
        assert_eq!(learned.medium, learned.shared);
        assert_eq!(learned.for_text("Надписи на стене"), &learned.short);
        assert_eq!(
            learned.for_text("one two three four five six seven eight nine ten eleven"),
            &learned.long
        );
    }

    #[test]
    fn text_length_classes_count_words() {
        assert_eq!(TextLength::of(""), TextLength::Short);
        assert_eq!(
            TextLength::of("  Graffiti \n on  walls "),
            TextLength::Short
        );
        assert_eq!(
            TextLength::of("Не убран снег во дворе дома"),
            TextLength::Medium
        );
        let long = "слово ".repeat(TextLength::MEDIUM_WORDS + 1);
        assert_eq!(TextLength::of(&long), TextLength::Long);
    }
}
