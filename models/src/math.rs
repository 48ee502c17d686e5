//! A vectorisable approximation of `exp` (for softmax), and the GELU op.
//!
//! libm's scalar `expf`/`erff` were ~20% of encoder time (softmax and GELU);
//! branch-free polynomial versions let LLVM emit SIMD over whole slices. Errors are
//! far below what the 4-bit weights already imply (see the tests).

use candle_core::{CpuStorage, CustomOp1, Layout, Shape};
use rayon::prelude::*;

/// `e^x` for f32, relative error < 2e-7 over the normal range; 0 below -87.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // 1.5 * 2^23: adding it rounds a float of magnitude < 2^22 to an integer
    // held in the low mantissa bits. Rounding and reading `n` this way keeps
    // every step a plain SIMD float or integer op; `round()` and `n as i32`
    // (saturating, NaN-checked) compiled to scalar code inside the loop.
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    // x = n ln2 + r, |r| <= ln2 / 2
    let m = x * std::f32::consts::LOG2_E + MAGIC;
    let n = m - MAGIC;
    let r = n.mul_add(-0.693_145_75, x);
    let r = n.mul_add(-1.428_606_8e-6, r);
    // Taylor/minimax polynomial for e^r on [-ln2/2, ln2/2].
    let p = 1.987_569_1e-4_f32;
    let p = p.mul_add(r, 1.398_199_9e-3);
    let p = p.mul_add(r, 8.333_452e-3);
    let p = p.mul_add(r, 4.166_579_6e-2);
    let p = p.mul_add(r, 1.666_666_5e-1);
    let p = p.mul_add(r, 0.5);
    let p = p.mul_add(r * r, r) + 1.0;
    // n is in [-126, 127] after the clamp: its bits sit in the low mantissa of `m`.
    let k = (m.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let scale = f32::from_bits((k.wrapping_add(127) as u32) << 23);
    p * scale
}

/// Exact-erf GELU, `x * (1 + erf(x / sqrt 2)) / 2`, in place: the same
/// function the int8 kernel fuses into its matmul ([`crate::kernels`]), so every
/// weight format computes one GELU.
pub fn gelu_in_place(xs: &mut [f32]) {
    const CHUNK: usize = 16 * 1024;
    let f = |c: &mut [f32]| {
        for x in c.iter_mut() {
            *x = crate::kernels::gelu_scalar(*x);
        }
    };
    if xs.len() <= CHUNK {
        f(xs)
    } else {
        xs.par_chunks_mut(CHUNK).for_each(f)
    }
}

/// Softmax of a row in place.
///
/// The exponentials are one map over the row and the max and the sum are kept
/// in 8 lanes: a plain `sum += exp(..)` loop is a strict left-to-right float
/// reduction that LLVM may not reorder, so it stayed scalar, and the softmax of
/// a 250-token text's attention was ~20% of its encoding time.
pub fn softmax_in_place(row: &mut [f32]) {
    let max = lanes_fold(row, f32::NEG_INFINITY, f32::max);
    for s in row.iter_mut() {
        *s = exp(*s - max);
    }
    let sum = lanes_fold(row, 0.0, |a, b| a + b);
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|s| *s *= inv);
}

/// Folds `xs` with `f` in 8 independent lanes (which LLVM keeps in one SIMD
/// register), then folds the lanes.
#[inline(always)]
fn lanes_fold(xs: &[f32], init: f32, f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] = f(acc[i], c[i]);
        }
    }
    let mut out = init;
    for &x in acc.iter().chain(rest) {
        out = f(out, x);
    }
    out
}

/// GELU as a candle op (f32, contiguous input).
pub struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "fast-gelu"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(data), Some((a, b))) = (storage, layout.contiguous_offsets()) else {
            candle_core::bail!("fast-gelu expects a contiguous f32 tensor");
        };
        let mut out = data[a..b].to_vec();
        gelu_in_place(&mut out);
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate() {
        let mut worst = 0f64;
        let mut x = -80.0f32;
        while x < 80.0 {
            let rel = ((exp(x) as f64 - (x as f64).exp()) / (x as f64).exp()).abs();
            worst = worst.max(rel);
            x += 0.0137;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(exp(-200.0), exp(-87.0));
        assert!(exp(-87.0) < 1e-37);
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut row = vec![1.0, 2.0, 3.0, -1e9];
        softmax_in_place(&mut row);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(row[3] < 1e-30 && row[2] > row[1]);
    }
}
