//! Multinomial (softmax) logistic regression with an L2 penalty, fitted by
//! L-BFGS. The objective is scikit-learn's divided by `C * N`:
//!
//! `f(W, b) = (1/N) sum_i sum_c w_ic * -ln p_c(x_i) + 1/(2 C N) * ||W||^2`
//!
//! (same minimiser, so the same `C` means the same model; the intercept `b` is
//! not penalised, as in sklearn's lbfgs solver). Rows carry soft targets
//! `(class, weight)` so exact duplicate documents are fitted once with their
//! counts, which is the same loss and a third less work on the dev data.

use std::collections::VecDeque;

use rayon::prelude::*;

use super::sparse::Csr;

/// Optimisation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Inverse regularisation strength (sklearn's `C`).
    pub c: f64,
    /// Iteration cap.
    pub max_iter: usize,
    /// Converged when the largest gradient component is at most this (sklearn's `tol`).
    pub gtol: f64,
    /// L-BFGS history length.
    pub memory: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            c: 10.0,
            max_iter: 300,
            gtol: 1e-4,
            memory: 7,
        }
    }
}

/// Per row: `(class, weight)` pairs; the weights over all rows sum to N documents.
pub type Targets = Vec<Vec<(u32, f32)>>;

/// A fitted model.
#[derive(Debug, Clone)]
pub struct Model {
    /// Features.
    pub n_features: usize,
    /// Classes.
    pub n_classes: usize,
    /// `n_features * n_classes` weights (row-major by feature), then `n_classes` intercepts.
    pub theta: Vec<f64>,
    /// L-BFGS iterations run.
    pub iterations: usize,
    /// Whether the gradient tolerance was reached.
    pub converged: bool,
    /// Final objective value.
    pub objective: f64,
}

impl Model {
    /// Class probabilities of one (sparse) row.
    pub fn probabilities(&self, row: &[(u32, f32)]) -> Vec<f64> {
        let k = self.n_classes;
        let mut z = self.theta[self.n_features * k..].to_vec();
        for &(j, v) in row {
            let w = &self.theta[j as usize * k..(j as usize + 1) * k];
            for (zc, wc) in z.iter_mut().zip(w) {
                *zc += v as f64 * wc;
            }
        }
        softmax_in_place(&mut z);
        z
    }
}

/// Turns logits into probabilities; returns ln(sum exp) of the input.
fn softmax_in_place(z: &mut [f64]) -> f64 {
    let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in z.iter_mut() {
        *v /= sum;
    }
    max + sum.ln()
}

struct Problem<'a> {
    x: &'a Csr,
    xt: Csr,
    targets: &'a Targets,
    k: usize,
    d: usize,
    n: f64,
    lambda: f64,
}

const CHUNK: usize = 1 << 15;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>())
        .sum()
}

fn dot32(a: &[f32], b: &[f64]) -> f64 {
    a.par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| *x as f64 * y).sum::<f64>())
        .sum()
}

/// `y += alpha * x`.
fn axpy32(alpha: f64, x: &[f32], y: &mut [f64]) {
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(y, x)| {
            for (yi, xi) in y.iter_mut().zip(x) {
                *yi += alpha * *xi as f64;
            }
        });
}

impl Problem<'_> {
    /// Objective at `theta`; leaves d loss / d logits (divided by N) in `resid`.
    fn forward(&self, theta: &[f64], resid: &mut [f64]) -> f64 {
        let (k, d) = (self.k, self.d);
        let data: f64 = resid
            .par_chunks_mut(k)
            .enumerate()
            .map(|(i, r)| {
                r.copy_from_slice(&theta[d * k..]);
                let (cols, vals) = self.x.row(i);
                for (&j, &v) in cols.iter().zip(vals) {
                    let w = &theta[j as usize * k..(j as usize + 1) * k];
                    for (rc, wc) in r.iter_mut().zip(w) {
                        *rc += v as f64 * wc;
                    }
                }
                let t = &self.targets[i];
                let mut loss = 0.0;
                let mut wsum = 0.0;
                let logits: Vec<(u32, f64)> = t.iter().map(|&(c, _)| (c, r[c as usize])).collect();
                let lse = softmax_in_place(r);
                for (&(_, w), &(_, z)) in t.iter().zip(&logits) {
                    loss += w as f64 * (lse - z);
                    wsum += w as f64;
                }
                for p in r.iter_mut() {
                    *p *= wsum;
                }
                for &(c, w) in t {
                    r[c as usize] -= w as f64;
                }
                for p in r.iter_mut() {
                    *p /= self.n;
                }
                loss
            })
            .sum();
        let w2 = dot(&theta[..d * k], &theta[..d * k]);
        data / self.n + 0.5 * self.lambda * w2
    }

    /// Gradient at `theta` from the `resid` its `forward` left.
    fn gradient(&self, theta: &[f64], resid: &[f64], grad: &mut [f64]) {
        let (k, d) = (self.k, self.d);
        let (gw, gb) = grad.split_at_mut(d * k);
        gw.par_chunks_mut(k).enumerate().for_each(|(j, g)| {
            let w = &theta[j * k..(j + 1) * k];
            for (gc, wc) in g.iter_mut().zip(w) {
                *gc = self.lambda * wc;
            }
            let (rows, vals) = self.xt.row(j);
            for (&i, &v) in rows.iter().zip(vals) {
                let r = &resid[i as usize * k..(i as usize + 1) * k];
                for (gc, rc) in g.iter_mut().zip(r) {
                    *gc += v as f64 * rc;
                }
            }
        });
        gb.iter_mut().for_each(|g| *g = 0.0);
        for r in resid.chunks(k) {
            for (g, rc) in gb.iter_mut().zip(r) {
                *g += rc;
            }
        }
    }
}

/// Fits by L-BFGS with a backtracking (Armijo) line search, starting from
/// `warm` when given (same shape; used along the C grid). `progress` sees
/// (iteration, objective, max |gradient|).
pub fn fit(
    x: &Csr,
    targets: &Targets,
    n_classes: usize,
    cfg: &Config,
    warm: Option<Vec<f64>>,
    progress: &dyn Fn(usize, f64, f64),
) -> Model {
    let (d, k) = (x.n_cols, n_classes);
    let n: f64 = targets
        .iter()
        .flatten()
        .map(|&(_, w)| w as f64)
        .sum::<f64>()
        .max(1.0);
    let p = Problem {
        x,
        xt: x.transpose(),
        targets,
        k,
        d,
        n,
        lambda: 1.0 / (cfg.c * n),
    };
    let dim = d * k + k;
    let mut theta = warm
        .filter(|w| w.len() == dim)
        .unwrap_or_else(|| vec![0.0; dim]);
    let mut resid = vec![0.0; x.n_rows() * k];
    let mut f = p.forward(&theta, &mut resid);
    let mut g = vec![0.0; dim];
    p.gradient(&theta, &resid, &mut g);
    let mut hist: VecDeque<(Vec<f32>, Vec<f32>, f64)> = VecDeque::new();
    let mut dir = vec![0.0; dim];
    let mut next = vec![0.0; dim];
    let mut g_next = vec![0.0; dim];
    let (mut iterations, mut converged) = (0, false);
    for it in 0..cfg.max_iter {
        let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        progress(it, f, gmax);
        if gmax <= cfg.gtol {
            converged = true;
            break;
        }
        // Two-loop recursion: dir = -H g.
        dir.copy_from_slice(&g);
        let mut alphas = Vec::with_capacity(hist.len());
        for (s, y, rho) in hist.iter().rev() {
            let a = rho * dot32(s, &dir);
            axpy32(-a, y, &mut dir);
            alphas.push(a);
        }
        if let Some((s, y, _)) = hist.back() {
            let yy: f64 = y.par_iter().map(|v| (*v as f64).powi(2)).sum();
            let sy = dot32(y, &s.iter().map(|v| *v as f64).collect::<Vec<_>>());
            let gamma = sy / yy;
            dir.par_iter_mut().for_each(|v| *v *= gamma);
        }
        for ((s, y, rho), a) in hist.iter().zip(alphas.iter().rev()) {
            let b = rho * dot32(y, &dir);
            axpy32(a - b, s, &mut dir);
        }
        dir.par_iter_mut().for_each(|v| *v = -*v);
        let mut gd = dot(&g, &dir);
        if gd >= 0.0 || !gd.is_finite() {
            hist.clear();
            dir.par_iter_mut().zip(&g).for_each(|(v, gi)| *v = -gi);
            gd = -dot(&g, &g);
        }
        let mut step = if hist.is_empty() {
            (1.0 / (-gd).sqrt()).min(1.0)
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..40 {
            next.par_iter_mut()
                .zip(&theta)
                .zip(&dir)
                .for_each(|((t, th), dv)| *t = th + step * dv);
            let f_next = p.forward(&next, &mut resid);
            if f_next <= f + 1e-4 * step * gd {
                accepted = Some(f_next);
                break;
            }
            step *= 0.5;
        }
        iterations = it + 1;
        let Some(f_next) = accepted else {
            // No decrease possible along the direction: at the precision floor.
            break;
        };
        p.gradient(&next, &resid, &mut g_next);
        let s: Vec<f32> = dir.par_iter().map(|v| (step * v) as f32).collect();
        let y: Vec<f32> = g_next
            .par_iter()
            .zip(&g)
            .map(|(a, b)| (a - b) as f32)
            .collect();
        let sy: f64 = s
            .par_iter()
            .zip(&y)
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum();
        if sy > 1e-12 {
            if hist.len() == cfg.memory {
                hist.pop_front();
            }
            hist.push_back((s, y, 1.0 / sy));
        }
        let decrease = f - f_next;
        std::mem::swap(&mut theta, &mut next);
        std::mem::swap(&mut g, &mut g_next);
        f = f_next;
        if decrease <= 1e-12 * f.abs().max(1.0) {
            break;
        }
    }
    Model {
        n_features: d,
        n_classes: k,
        theta,
        iterations,
        converged,
        objective: f,
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
        let m = fit(&x, &targets, 2, &cfg, None, &|_, _, _| {});
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
            gtol: 1e-6,
            memory: 7,
        };
        let strong = Config {
            c: 0.1,
            ..weak.clone()
        };
        let a = fit(&x, &targets, 3, &weak, None, &|_, _, _| {});
        let b = fit(&x, &targets, 3, &strong, None, &|_, _, _| {});
        let norm = |m: &Model| m.theta[..6].iter().map(|v| v * v).sum::<f64>();
        assert!(norm(&b) < norm(&a) / 10.0);
        let c = fit(&x, &targets, 3, &weak, Some(b.theta.clone()), &|_, _, _| {});
        assert!(c.converged);
        for row in [&[(0, 1.0)][..], &[(1, 1.0)], &[(0, 0.6), (1, 0.8)]] {
            let (pa, pc) = (a.probabilities(row), c.probabilities(row));
            for (u, v) in pa.iter().zip(&pc) {
                assert!(
                    (u - v).abs() < 1e-4,
                    "convex: the same optimum from any start"
                );
            }
        }
        let p = a.probabilities(&[(0, 1.0)]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12 && p[0] > 0.5);
    }
}
