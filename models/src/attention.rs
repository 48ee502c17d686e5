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

/// Attention of one head of one window. `qkv` holds the window's rows.
///
/// Both products run on `gemm` reading Q, K and V in place through strides
/// (no copies); the softmax uses the vectorisable `exp` of [`crate::math`].
fn head_attention(qkv: &[f32], len: usize, hidden: usize, head: usize, d: usize) -> Vec<f32> {
    let stride = (3 * hidden) as isize;
    let base = head * d;
    assert!(qkv.len() >= len * 3 * hidden, "window rows present");
    let mut scores = vec![0f32; len * len];
    let mut out = vec![0f32; len * d];
    let scale = 1.0 / (d as f32).sqrt();
    // SAFETY: every pointer + stride combination stays inside `qkv` (checked
    // above: rows 0..len of width 3*hidden, columns base..base+d of each part),
    // `scores` ([len, len]) and `out` ([len, d]); the buffers do not overlap.
    unsafe {
        let q = qkv.as_ptr().add(base);
        let k = qkv.as_ptr().add(hidden + base);
        // S[len, len] = scale * Q[len, d] · Kᵀ[d, len]
        gemm::gemm(
            len,
            len,
            d,
            scores.as_mut_ptr(),
            1,
            len as isize,
            false,
            q,
            1,
            stride,
            k,
            stride,
            1,
            0.0,
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    for row in scores.chunks_exact_mut(len) {
        crate::math::softmax_in_place(row);
    }
    // SAFETY: as above.
    unsafe {
        let v = qkv.as_ptr().add(2 * hidden + base);
        // O[len, d] = P[len, len] · V[len, d]
        gemm::gemm(
            len,
            d,
            len,
            out.as_mut_ptr(),
            1,
            d as isize,
            false,
            scores.as_ptr(),
            1,
            len as isize,
            v,
            1,
            stride,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
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
