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
    let x = x.clamp(-87.0, 88.0);
    // x = n ln2 + r, |r| <= ln2 / 2
    let n = (x * std::f32::consts::LOG2_E).round();
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
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
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
pub fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for s in row.iter_mut() {
        *s = exp(*s - max);
        sum += *s;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|s| *s *= inv);
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
