//! A softmax (multinomial logistic) model over text embeddings.
//!
//! Neighbour votes are noisy when a department has few cases or its cases are
//! spread thin; a linear model over the embedding generalises across them. It is
//! small (classes x dim weights), fits in seconds on the tenant's confirmed
//! history and is refitted in the background, never on the request path.

use serde::{Deserialize, Serialize};

/// Options of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadFitOptions {
    /// Passes over the data.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// Adam learning rate.
    pub learning_rate: f32,
    /// L2 penalty on the weights.
    pub l2: f32,
    /// Seed of the shuffling, for reproducible fits.
    pub seed: u64,
}

impl Default for HeadFitOptions {
    fn default() -> Self {
        Self {
            epochs: 12,
            batch: 256,
            learning_rate: 0.003,
            l2: 1e-4,
            seed: 7,
        }
    }
}

/// A fitted softmax model: `softmax(W · standardise(x) + b)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftmaxHead {
    /// Class labels (department codes), in weight-row order.
    pub classes: Vec<String>,
    /// Districts one-hot encoded after the embedding (empty: embedding only).
    /// Text and district are learned jointly, as a data scientist's first
    /// linear model would; the place signal then adds what is not linear.
    #[serde(default)]
    pub districts: Vec<String>,
    dim: usize,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl SoftmaxHead {
    /// Fits on `xs` (equal-width vectors) labelled by `ys` (indices into `classes`).
    ///
    /// Returns `None` when there is nothing to learn (fewer than two classes or no rows).
    pub fn fit(
        xs: &[&[f32]],
        ys: &[usize],
        classes: Vec<String>,
        opts: &HeadFitOptions,
    ) -> Option<Self> {
        let c = classes.len();
        if xs.is_empty() || c < 2 || xs.len() != ys.len() {
            return None;
        }
        let dim = xs[0].len();
        if xs.iter().any(|x| x.len() != dim) || ys.iter().any(|&y| y >= c) {
            return None;
        }
        let n = xs.len();
        let mut mean = vec![0f32; dim];
        for x in xs {
            for (m, v) in mean.iter_mut().zip(x.iter()) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f32);
        let mut var = vec![0f32; dim];
        for x in xs {
            for ((s, v), m) in var.iter_mut().zip(x.iter()).zip(&mean) {
                *s += (v - m) * (v - m);
            }
        }
        let inv_std: Vec<f32> = var
            .iter()
            .map(|s| 1.0 / ((s / n as f32).sqrt() + 1e-6))
            .collect();
        let mut head = Self {
            classes,
            districts: Vec::new(),
            dim,
            mean,
            inv_std,
            weights: vec![0.0; c * dim],
            bias: vec![0.0; c],
        };
        let z: Vec<Vec<f32>> = xs.iter().map(|x| head.standardise(x)).collect();
        head.train(&z, ys, opts);
        Some(head)
    }

    /// Fits on embeddings plus one-hot districts (the district vocabulary is
    /// the districts seen in `districts`, sorted).
    pub fn fit_with_districts(
        embeddings: &[&[f32]],
        districts: &[Option<&str>],
        ys: &[usize],
        classes: Vec<String>,
        opts: &HeadFitOptions,
    ) -> Option<Self> {
        let mut vocab: Vec<String> = districts.iter().flatten().map(|d| d.to_string()).collect();
        vocab.sort();
        vocab.dedup();
        let probe = Self {
            classes: Vec::new(),
            districts: vocab,
            dim: 0,
            mean: Vec::new(),
            inv_std: Vec::new(),
            weights: Vec::new(),
            bias: Vec::new(),
        };
        let xs: Vec<Vec<f32>> = embeddings
            .iter()
            .zip(districts)
            .map(|(e, d)| probe.input(e, *d))
            .collect();
        let refs: Vec<&[f32]> = xs.iter().map(Vec::as_slice).collect();
        let mut head = Self::fit(&refs, ys, classes, opts)?;
        head.districts = probe.districts;
        Some(head)
    }

    /// The head's input for an embedding and a district: the embedding, then
    /// the district one-hot (all zero for an unknown or missing district).
    pub fn input(&self, embedding: &[f32], district: Option<&str>) -> Vec<f32> {
        let mut x = Vec::with_capacity(embedding.len() + self.districts.len());
        x.extend_from_slice(embedding);
        let at = district.and_then(|d| self.districts.binary_search_by(|v| v.as_str().cmp(d)).ok());
        x.extend((0..self.districts.len()).map(|i| if Some(i) == at { 1.0 } else { 0.0 }));
        x
    }

    /// Input width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    fn standardise(&self, x: &[f32]) -> Vec<f32> {
        x.iter()
            .zip(&self.mean)
            .zip(&self.inv_std)
            .map(|((v, m), s)| (v - m) * s)
            .collect()
    }

    fn logits_into(&self, z: &[f32], out: &mut [f32]) {
        for (k, o) in out.iter_mut().enumerate() {
            let w = &self.weights[k * self.dim..(k + 1) * self.dim];
            *o = self.bias[k] + dot(w, z);
        }
    }

    fn train(&mut self, z: &[Vec<f32>], ys: &[usize], o: &HeadFitOptions) {
        let (c, d, n) = (self.classes.len(), self.dim, z.len());
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = o.seed | 1;
        let (mut mw, mut vw) = (vec![0f32; c * d], vec![0f32; c * d]);
        let (mut mb, mut vb) = (vec![0f32; c], vec![0f32; c]);
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let mut step = 0i32;
        let mut gw = vec![0f32; c * d];
        let mut gb = vec![0f32; c];
        let mut p = vec![0f32; c];
        for _ in 0..o.epochs {
            for i in (1..n).rev() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                order.swap(i, (rng % (i as u64 + 1)) as usize);
            }
            for batch in order.chunks(o.batch.max(1)) {
                gw.iter_mut().for_each(|g| *g = 0.0);
                gb.iter_mut().for_each(|g| *g = 0.0);
                for &i in batch {
                    self.logits_into(&z[i], &mut p);
                    softmax_in_place(&mut p);
                    p[ys[i]] -= 1.0;
                    for (k, &g) in p.iter().enumerate() {
                        if g.abs() < 1e-7 {
                            continue;
                        }
                        gb[k] += g;
                        for (gwv, zv) in gw[k * d..(k + 1) * d].iter_mut().zip(&z[i]) {
                            *gwv += g * zv;
                        }
                    }
                }
                step += 1;
                let inv = 1.0 / batch.len() as f32;
                let (c1, c2) = (1.0 - b1.powi(step), 1.0 - b2.powi(step));
                let lr = o.learning_rate;
                for j in 0..c * d {
                    let g = gw[j] * inv + o.l2 * self.weights[j];
                    mw[j] = b1 * mw[j] + (1.0 - b1) * g;
                    vw[j] = b2 * vw[j] + (1.0 - b2) * g * g;
                    self.weights[j] -= lr * (mw[j] / c1) / ((vw[j] / c2).sqrt() + eps);
                }
                for k in 0..c {
                    let g = gb[k] * inv;
                    mb[k] = b1 * mb[k] + (1.0 - b1) * g;
                    vb[k] = b2 * vb[k] + (1.0 - b2) * g * g;
                    self.bias[k] -= lr * (mb[k] / c1) / ((vb[k] / c2).sqrt() + eps);
                }
            }
        }
    }

    /// Class probabilities for one vector (same order as `classes`).
    pub fn predict(&self, x: &[f32]) -> Vec<f32> {
        let mut out = vec![0f32; self.classes.len()];
        if x.len() != self.dim {
            let u = 1.0 / out.len().max(1) as f32;
            out.iter_mut().for_each(|v| *v = u);
            return out;
        }
        let z = self.standardise(x);
        self.logits_into(&z, &mut out);
        softmax_in_place(&mut out);
        out
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8;
    for i in 0..chunks {
        for l in 0..8 {
            acc[l] += a[i * 8 + l] * b[i * 8 + l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for i in chunks * 8..a.len() {
        s += a[i] * b[i];
    }
    s
}

/// Softmax of `v` in place (max-shifted, so large logits do not overflow).
pub(crate) fn softmax_in_place(v: &mut [f32]) {
    let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - m).exp();
        sum += *x;
    }
    v.iter_mut().for_each(|x| *x /= sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_separable_problem_and_refuses_degenerate_input() {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..300 {
            let k = i % 3;
            let mut v = vec![0.01 * (i % 7) as f32; 8];
            v[k] += 1.0;
            xs.push(v);
            ys.push(k);
        }
        let refs: Vec<&[f32]> = xs.iter().map(|v| v.as_slice()).collect();
        let classes = vec!["a".into(), "b".into(), "c".into()];
        let h = SoftmaxHead::fit(&refs, &ys, classes, &HeadFitOptions::default()).unwrap();
        for (x, &y) in xs.iter().zip(&ys).take(9) {
            let p = h.predict(x);
            let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            assert_eq!(best, y, "{p:?}");
        }
        assert!(
            SoftmaxHead::fit(&refs, &ys, vec!["a".into()], &HeadFitOptions::default()).is_none()
        );
        assert!(SoftmaxHead::fit(
            &[],
            &[],
            vec!["a".into(), "b".into()],
            &HeadFitOptions::default()
        )
        .is_none());
        let p = h.predict(&[1.0; 3]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}
