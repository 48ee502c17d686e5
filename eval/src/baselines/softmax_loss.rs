//! The multinomial logistic loss with an L2 penalty over a sparse design
//! matrix: value and gradient, the inner loop of every baseline fit.
//!
//! `f(W, b) = (1/N) sum_i sum_c t_ic * -ln p_c(x_i) + lambda/2 * ||W||^2`
//!
//! Parameters are laid out by feature: row `j` holds the `stride` class
//! weights of feature `j` (the number of classes rounded up to 8, so each row
//! is whole SIMD vectors; padding stays 0), then `stride` intercepts. Logits
//! and weights are `f32` (the passes are bound by memory traffic), the softmax
//! and the sums of losses `f64`.

use rayon::prelude::*;

use super::lbfgs::{self, Objective};
use super::sparse::Csr;

/// Per row: `(class, weight)` pairs; the weights over all rows sum to N documents.
pub type Targets = Vec<Vec<(u32, f32)>>;

/// Width of a parameter row for `k` classes: `k` rounded up to 8 lanes.
pub fn stride_for(k: usize) -> usize {
    k.div_ceil(8).max(1) * 8
}

/// `z = b + sum_j v_j * w_j` over the row's features (`z.len() == stride`).
pub fn logits(theta: &[f32], n_features: usize, cols: &[u32], vals: &[f32], z: &mut [f32]) {
    let stride = z.len();
    z.copy_from_slice(&theta[n_features * stride..(n_features + 1) * stride]);
    for (&j, &v) in cols.iter().zip(vals) {
        let w = &theta[j as usize * stride..(j as usize + 1) * stride];
        for (zc, wc) in z.chunks_exact_mut(8).zip(w.chunks_exact(8)) {
            for (a, b) in zc.iter_mut().zip(wc) {
                *a = v.mul_add(*b, *a);
            }
        }
    }
}

/// Softmax of the first `k` logits into `p` (f64); returns ln(sum exp).
pub fn softmax(z: &[f32], p: &mut [f64]) -> f64 {
    let max = z.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v)) as f64;
    let mut sum = 0.0;
    for (pc, zc) in p.iter_mut().zip(z) {
        *pc = (*zc as f64 - max).exp();
        sum += *pc;
    }
    for pc in p.iter_mut() {
        *pc /= sum;
    }
    max + sum.ln()
}

/// The objective over one design matrix.
pub struct SoftmaxLoss<'a> {
    x: &'a Csr,
    /// The transpose: the gradient is a race-free parallel loop over features.
    xt: Csr,
    targets: &'a Targets,
    k: usize,
    stride: usize,
    /// Sum of target weights (documents).
    n: f64,
    lambda: f32,
    /// d loss / d logits (divided by N) at the last `value` point, `stride` per row.
    resid: Vec<f32>,
}

impl<'a> SoftmaxLoss<'a> {
    /// The loss of `k` classes with inverse regularisation `c` (sklearn's `C`:
    /// `lambda = 1 / (C N)`).
    pub fn new(x: &'a Csr, targets: &'a Targets, k: usize, c: f64) -> SoftmaxLoss<'a> {
        let n: f64 = targets
            .iter()
            .flatten()
            .map(|&(_, w)| w as f64)
            .sum::<f64>()
            .max(1.0);
        let stride = stride_for(k);
        SoftmaxLoss {
            x,
            xt: x.transpose(),
            targets,
            k,
            stride,
            n,
            lambda: (1.0 / (c * n)) as f32,
            resid: vec![0.0; x.n_rows() * stride],
        }
    }

    /// Length of the parameter vector.
    pub fn dim(&self) -> usize {
        (self.x.n_cols + 1) * self.stride
    }
}

impl Objective for SoftmaxLoss<'_> {
    fn value(&mut self, theta: &[f32]) -> f64 {
        let (k, d, n) = (self.k, self.x.n_cols, self.n);
        let (x, targets) = (self.x, self.targets);
        let data: f64 = self
            .resid
            .par_chunks_mut(self.stride)
            .with_min_len(64)
            .enumerate()
            .map_init(
                || vec![0.0f64; k],
                |p, (i, r)| {
                    let (cols, vals) = x.row(i);
                    logits(theta, d, cols, vals, r);
                    let lse = softmax(&r[..k], p);
                    let t = &targets[i];
                    let mut loss = 0.0;
                    let mut wsum = 0.0;
                    for &(c, w) in t {
                        loss += w as f64 * (lse - r[c as usize] as f64);
                        wsum += w as f64;
                    }
                    for (rc, pc) in r.iter_mut().zip(p.iter()) {
                        *rc = (pc * wsum / n) as f32;
                    }
                    r[k..].iter_mut().for_each(|v| *v = 0.0);
                    for &(c, w) in t {
                        r[c as usize] -= (w as f64 / n) as f32;
                    }
                    loss
                },
            )
            .sum();
        let w = &theta[..d * self.stride];
        let w2 = lbfgs::dot(w, w);
        data / n + 0.5 * self.lambda as f64 * w2
    }

    fn gradient(&mut self, theta: &[f32], grad: &mut [f32]) {
        let (stride, d, lambda) = (self.stride, self.x.n_cols, self.lambda);
        let (gw, gb) = grad.split_at_mut(d * stride);
        let (xt, resid) = (&self.xt, &self.resid);
        gw.par_chunks_mut(stride)
            .with_min_len(256)
            .enumerate()
            .for_each(|(j, g)| {
                let w = &theta[j * stride..(j + 1) * stride];
                for (gc, wc) in g.iter_mut().zip(w) {
                    *gc = lambda * wc;
                }
                let (rows, vals) = xt.row(j);
                for (&i, &v) in rows.iter().zip(vals) {
                    let r = &resid[i as usize * stride..(i as usize + 1) * stride];
                    for (gc, rc) in g.chunks_exact_mut(8).zip(r.chunks_exact(8)) {
                        for (a, b) in gc.iter_mut().zip(rc) {
                            *a = v.mul_add(*b, *a);
                        }
                    }
                }
            });
        let mut sums = vec![0.0f64; stride];
        for r in resid.chunks(stride) {
            for (s, rc) in sums.iter_mut().zip(r) {
                *s += *rc as f64;
            }
        }
        for (g, s) in gb.iter_mut().zip(sums) {
            *g = s as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The analytic gradient agrees with central differences of the value.
    #[test]
    fn gradient_matches_finite_differences() {
        let x = Csr::from_rows(
            &[vec![(0, 0.6), (2, 0.8)], vec![(1, 1.0)], vec![(0, 1.0)]],
            3,
        );
        let targets: Targets = vec![vec![(0, 2.0), (2, 1.0)], vec![(1, 1.0)], vec![(2, 1.0)]];
        let mut loss = SoftmaxLoss::new(&x, &targets, 3, 0.5);
        let dim = loss.dim();
        assert_eq!(
            dim,
            4 * 8,
            "3 classes padded to 8 lanes, 3 features + intercepts"
        );
        let mut theta: Vec<f32> = (0..dim)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 10.0)
            .collect();
        for row in theta.chunks_mut(8) {
            row[3..].iter_mut().for_each(|v| *v = 0.0);
        }
        loss.value(&theta);
        let mut g = vec![0.0; dim];
        loss.gradient(&theta, &mut g);
        for j in 0..4 {
            for c in 0..8 {
                let i = j * 8 + c;
                let h = 1e-2f32;
                let mut t = theta.clone();
                t[i] += h;
                let up = loss.value(&t);
                t[i] -= 2.0 * h;
                let down = loss.value(&t);
                let numeric = (up - down) / (2.0 * h as f64);
                assert!(
                    (numeric - g[i] as f64).abs() < 5e-4 * (1.0 + numeric.abs()),
                    "theta[{i}]: numeric {numeric}, analytic {}",
                    g[i]
                );
                if c >= 3 {
                    assert_eq!(g[i], 0.0, "padding gets no gradient");
                }
            }
        }
    }
}
