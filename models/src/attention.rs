//! Multi-head self-attention over packed windows, as a candle custom op.
//!
//! The input is the fused `[tokens, 3 * hidden]` Q|K|V projection of windows
//! stacked without padding; each window attends only to itself. Work items are
//! (window, head) pairs spread over the rayon pool, so a batch of short texts and
//! one long text both keep every core busy. No mask is needed: there is no padding.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, Layout, Shape};
use rayon::prelude::*;

/// The custom op: softmax(Q Kᵀ / sqrt(d)) V per window and head.
pub struct PackedAttention {
    lens: Arc<Vec<usize>>,
    heads: usize,
    hidden: usize,
}

impl PackedAttention {
    /// `lens`: tokens of each packed window, in order.
    pub fn new(lens: Arc<Vec<usize>>, heads: usize, hidden: usize) -> Self {
        Self {
            lens,
            heads,
            hidden,
        }
    }
}

/// Dot product written with eight independent lanes so it vectorises.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] = x[i].mul_add(y[i], acc[i]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Attention of one head of one window. `qkv` holds the window's rows.
fn head_attention(qkv: &[f32], len: usize, hidden: usize, head: usize, d: usize) -> Vec<f32> {
    let stride = 3 * hidden;
    let col = |row: usize, part: usize| {
        let start = row * stride + part * hidden + head * d;
        &qkv[start..start + d]
    };
    // Gather K and V of this head contiguously: better locality in the loops below.
    let mut k = Vec::with_capacity(len * d);
    let mut v = Vec::with_capacity(len * d);
    for j in 0..len {
        k.extend_from_slice(col(j, 1));
        v.extend_from_slice(col(j, 2));
    }
    let scale = 1.0 / (d as f32).sqrt();
    let mut out = vec![0f32; len * d];
    let mut scores = vec![0f32; len];
    for (i, o) in out.chunks_exact_mut(d).enumerate() {
        let q = col(i, 0);
        let mut max = f32::NEG_INFINITY;
        for (s, kj) in scores.iter_mut().zip(k.chunks_exact(d)) {
            *s = dot(q, kj) * scale;
            max = max.max(*s);
        }
        let mut sum = 0f32;
        for s in scores.iter_mut() {
            *s = (*s - max).exp();
            sum += *s;
        }
        let inv = 1.0 / sum;
        for (s, vj) in scores.iter().zip(v.chunks_exact(d)) {
            let p = s * inv;
            for (oi, vi) in o.iter_mut().zip(vj) {
                *oi = p.mul_add(*vi, *oi);
            }
        }
    }
    out
}

impl CustomOp1 for PackedAttention {
    fn name(&self) -> &'static str {
        "packed-attention"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (h, heads) = (self.hidden, self.heads);
        let d = h / heads;
        let total: usize = self.lens.iter().sum();
        let data = match storage {
            CpuStorage::F32(v) => v,
            _ => candle_core::bail!("packed-attention expects f32"),
        };
        let data = match layout.contiguous_offsets() {
            Some((a, b)) => &data[a..b],
            None => candle_core::bail!("packed-attention expects a contiguous input"),
        };
        if layout.dims() != [total, 3 * h] {
            candle_core::bail!(
                "packed-attention: input {:?}, expected [{total}, {}]",
                layout.dims(),
                3 * h
            );
        }
        let mut starts = Vec::with_capacity(self.lens.len());
        let mut acc = 0;
        for &len in self.lens.iter() {
            starts.push(acc);
            acc += len;
        }
        let items: Vec<(usize, usize)> = (0..self.lens.len())
            .flat_map(|w| (0..heads).map(move |hd| (w, hd)))
            .collect();
        let parts: Vec<Vec<f32>> = items
            .par_iter()
            .map(|&(w, hd)| {
                let (s, len) = (starts[w], self.lens[w]);
                head_attention(&data[s * 3 * h..(s + len) * 3 * h], len, h, hd, d)
            })
            .collect();
        let mut out = vec![0f32; total * h];
        for (&(w, hd), part) in items.iter().zip(&parts) {
            let s = starts[w];
            for (i, row) in part.chunks_exact(d).enumerate() {
                let at = (s + i) * h + hd * d;
                out[at..at + d].copy_from_slice(row);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((total, h))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor, D};

    /// Reference: plain candle ops on one padded-free window.
    fn reference(qkv: &Tensor, heads: usize, hidden: usize) -> Tensor {
        let len = qkv.dim(0).unwrap();
        let d = hidden / heads;
        let split = |i: usize| {
            qkv.narrow(1, i * hidden, hidden)
                .unwrap()
                .reshape((len, heads, d))
                .unwrap()
                .transpose(0, 1)
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let (q, k, v) = (split(0), split(1), split(2));
        let s = (q.matmul(&k.t().unwrap()).unwrap() / (d as f64).sqrt()).unwrap();
        let p = candle_nn::ops::softmax(&s, D::Minus1).unwrap();
        p.matmul(&v)
            .unwrap()
            .transpose(0, 1)
            .unwrap()
            .reshape((len, hidden))
            .unwrap()
    }

    #[test]
    fn matches_candle_ops_per_window() {
        let (heads, hidden) = (4, 64);
        let lens = vec![5usize, 1, 17];
        let total: usize = lens.iter().sum();
        let qkv = Tensor::randn(0f32, 1.0, (total, 3 * hidden), &Device::Cpu).unwrap();
        let op = PackedAttention::new(Arc::new(lens.clone()), heads, hidden);
        let got = qkv.apply_op1_no_bwd(&op).unwrap();
        let mut start = 0;
        for len in lens {
            let want = reference(&qkv.narrow(0, start, len).unwrap(), heads, hidden);
            let diff = (got.narrow(0, start, len).unwrap() - want)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(diff < 1e-5, "window at {start}: max diff {diff}");
            start += len;
        }
    }

    #[test]
    fn rejects_wrong_shape() {
        let qkv = Tensor::zeros((7, 10), candle_core::DType::F32, &Device::Cpu).unwrap();
        let op = PackedAttention::new(Arc::new(vec![7]), 4, 64);
        assert!(qkv.apply_op1_no_bwd(&op).is_err());
    }
}
