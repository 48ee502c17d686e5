//! Multinomial (softmax) logistic regression with an L2 penalty, fitted by
//! L-BFGS. The objective is scikit-learn's (1.2+, lbfgs solver): the mean loss
//! plus `1/(2 C N) * ||W||^2`, the intercept not penalised, so the same `C`
//! means the same model and sklearn's `tol` the same stopping point. Rows carry
//! soft targets `(class, weight)` so exact duplicate documents are fitted once
//! with their counts: the same loss, a third less work on the dev data.
//!
//! The loss and its gradient live in [`super::softmax_loss`], the minimiser in
//! [`super::lbfgs`].

use rayon::prelude::*;

use super::lbfgs::{self, Settings, Step, Stop};
use super::softmax_loss::{self, SoftmaxLoss};
use super::sparse::Csr;

pub use super::softmax_loss::Targets;

/// Optimisation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Inverse regularisation strength (sklearn's `C`).
    pub c: f64,
    /// Iteration cap.
    pub max_iter: usize,
    /// Converged when the largest gradient component is at most this (sklearn's `tol`).
    pub gtol: f64,
    /// L-BFGS history length (scipy's `maxcor`).
    pub memory: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            c: 10.0,
            max_iter: 300,
            gtol: 1e-4,
            memory: 10,
        }
    }
}

/// A fitted model.
#[derive(Debug, Clone)]
pub struct Model {
    /// Features.
    pub n_features: usize,
    /// Classes.
    pub n_classes: usize,
    /// Parameters: `n_features` rows of `stride_for(n_classes)` class weights,
    /// then one row of intercepts (see [`softmax_loss`]).
    pub theta: Vec<f32>,
    /// L-BFGS iterations run.
    pub iterations: usize,
    /// Whether the gradient tolerance was reached.
    pub converged: bool,
    /// Why the fit stopped.
    pub stop: Stop,
    /// Final objective value.
    pub objective: f64,
}

impl Model {
    /// Class probabilities of one (sparse, column-sorted) row.
    pub fn probabilities(&self, row: &[(u32, f32)]) -> Vec<f64> {
        let cols: Vec<u32> = row.iter().map(|e| e.0).collect();
        let vals: Vec<f32> = row.iter().map(|e| e.1).collect();
        probabilities(&self.theta, self.n_features, self.n_classes, &cols, &vals)
    }
}

/// Class probabilities of one row under parameters `theta` (laid out as in
/// [`Model::theta`]); also used on iterates during a fit.
pub fn probabilities(
    theta: &[f32],
    n_features: usize,
    n_classes: usize,
    cols: &[u32],
    vals: &[f32],
) -> Vec<f64> {
    let mut z = vec![0.0f32; softmax_loss::stride_for(n_classes)];
    softmax_loss::logits(theta, n_features, cols, vals, &mut z);
    let mut p = vec![0.0f64; n_classes];
    softmax_loss::softmax(&z[..n_classes], &mut p);
    p
}

/// Class probabilities of every row of `x`, in parallel.
pub fn predict_all(theta: &[f32], n_classes: usize, x: &Csr) -> Vec<Vec<f64>> {
    (0..x.n_rows())
        .into_par_iter()
        .map(|i| {
            let (cols, vals) = x.row(i);
            probabilities(theta, x.n_cols, n_classes, cols, vals)
        })
        .collect()
}

/// Length of the parameter vector for `n_features` and `n_classes`.
pub fn dim(n_features: usize, n_classes: usize) -> usize {
    (n_features + 1) * softmax_loss::stride_for(n_classes)
}

/// Fits by L-BFGS from `warm` when given (a parameter vector of the same
/// shape), else from zero. `monitor` sees every iterate and may stop the fit.
pub fn fit(
    x: &Csr,
    targets: &Targets,
    n_classes: usize,
    cfg: &Config,
    warm: Option<Vec<f32>>,
    monitor: &mut dyn FnMut(&Step<'_>) -> bool,
) -> Model {
    let mut loss = SoftmaxLoss::new(x, targets, n_classes, cfg.c);
    let dim = loss.dim();
    let x0 = warm
        .filter(|w| w.len() == dim)
        .unwrap_or_else(|| vec![0.0; dim]);
    let settings = Settings {
        max_iter: cfg.max_iter,
        gtol: cfg.gtol,
        ftol: 64.0 * f64::EPSILON,
        memory: cfg.memory,
    };
    let m = lbfgs::minimize(&mut loss, x0, &settings, monitor);
    Model {
        n_features: x.n_cols,
        n_classes,
        theta: m.x,
        iterations: m.iterations,
        converged: m.converged,
        stop: m.stop,
        objective: m.value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes, one feature, intercept: the 2-class softmax with tied
    /// logits is a logistic regression on z1 - z0; check first-order optimality
    /// and that the fitted probabilities are the empirical ones when C is huge.
    #[test]
    fn recovers_empirical_rates_and_gradient_vanishes() {
        // Feature on: 3 docs of class 1, 1 of class 0 -> p(1) -> 3/4.
        // Feature off (empty row): 1 of class 1, 3 of class 0 -> p(1) -> 1/4 via the intercept.
        let x = Csr::from_rows(&[vec![(0, 1.0)], vec![]], 1);
        let targets: Targets = vec![vec![(1, 3.0), (0, 1.0)], vec![(1, 1.0), (0, 3.0)]];
        let cfg = Config {
            c: 1e6,
            max_iter: 500,
            gtol: 1e-6,
            memory: 5,
        };
        let m = fit(&x, &targets, 2, &cfg, None, &mut |_| true);
        assert!(m.converged, "{m:?}");
        let on = m.probabilities(&[(0, 1.0)]);
        let off = m.probabilities(&[]);
        assert!((on[1] - 0.75).abs() < 1e-4, "{on:?}");
        assert!((off[1] - 0.25).abs() < 1e-4, "{off:?}");
    }

    #[test]
    fn stronger_penalty_shrinks_weights_and_warm_start_agrees() {
        let x = Csr::from_rows(
            &[vec![(0, 1.0)], vec![(1, 1.0)], vec![(0, 0.6), (1, 0.8)]],
            2,
        );
        let targets: Targets = vec![vec![(0, 2.0)], vec![(1, 2.0)], vec![(2, 1.0)]];
        let weak = Config {
            c: 100.0,
            max_iter: 500,
            gtol: 1e-4,
            memory: 7,
        };
        let strong = Config {
            c: 0.1,
            ..weak.clone()
        };
        let a = fit(&x, &targets, 3, &weak, None, &mut |_| true);
        let b = fit(&x, &targets, 3, &strong, None, &mut |_| true);
        let norm = |m: &Model| m.theta[..16].iter().map(|v| (v * v) as f64).sum::<f64>();
        assert!(norm(&b) < norm(&a) / 10.0);
        let c = fit(&x, &targets, 3, &weak, Some(b.theta.clone()), &mut |_| true);
        assert!(c.converged, "{c:?}");
        assert!(a.converged && b.converged, "{a:?} {b:?}");
        for row in [&[(0, 1.0)][..], &[(1, 1.0)], &[(0, 0.6), (1, 0.8)]] {
            let (pa, pc) = (a.probabilities(row), c.probabilities(row));
            for (u, v) in pa.iter().zip(&pc) {
                assert!(
                    (u - v).abs() < 1e-3,
                    "convex: the same optimum from any start: {pa:?} vs {pc:?}"
                );
            }
        }
        let p = a.probabilities(&[(0, 1.0)]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12 && p[0] > 0.5);
    }
}
