//! AVX2 + FMA kernel (`vpmaddubsw` + `vpmaddwd`), the activation quantiser shared by the x86
//! kernels, and the 256-bit GELU.

use std::arch::x86_64::*;

use super::{Job, Tile, CELL_BYTES, ERF_ALPHA, ERF_BETA, QK};

/// Rows per register tile.
const R_TILE: usize = 2;

/// Whether this CPU supports the kernel.
pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// Quantises 32-element blocks of `x` into `q`, `d` and `corr`, with exactly the arithmetic of
/// [`super::quantize_block_scalar`].
///
/// # Safety
/// The CPU must support AVX2 and FMA; `x.len() == q.len() == 32 * d.len() == 32 * corr.len()`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn quantize_rows(x: &[f32], q: &mut [i8], d: &mut [f32], corr: &mut [i32]) {
    let sign = _mm256_set1_ps(-0.0);
    let lim = _mm256_set1_ps(127.0);
    let nlim = _mm256_set1_ps(-127.0);
    let perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (((xb, qb), db), cb) in x
        .chunks_exact(QK)
        .zip(q.chunks_exact_mut(QK))
        .zip(d.iter_mut())
        .zip(corr.iter_mut())
    {
        // SAFETY: `xb` and `qb` hold 32 elements, so the four 8-float loads and the 32-byte store
        // are in bounds; unaligned accesses are used throughout.
        unsafe {
            let p = xb.as_ptr();
            let v = [
                _mm256_loadu_ps(p),
                _mm256_loadu_ps(p.add(8)),
                _mm256_loadu_ps(p.add(16)),
                _mm256_loadu_ps(p.add(24)),
            ];
            let a = _mm256_max_ps(
                _mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])),
            );
            let m4 = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
            let m2 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            let m1 = _mm_max_ss(m2, _mm_shuffle_ps::<1>(m2, m2));
            let amax = _mm_cvtss_f32(m1);
            let dd = amax / 127.0;
            let id = if dd != 0.0 { 1.0 / dd } else { 0.0 };
            let idv = _mm256_set1_ps(id);
            let qi = v.map(|vi| {
                let r = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                    _mm256_mul_ps(vi, idv),
                );
                _mm256_cvtps_epi32(_mm256_max_ps(_mm256_min_ps(r, lim), nlim))
            });
            let p01 = _mm256_packs_epi32(qi[0], qi[1]);
            let p23 = _mm256_packs_epi32(qi[2], qi[3]);
            let bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), perm);
            _mm256_storeu_si256(qb.as_mut_ptr().cast(), bytes);
            let s = _mm256_add_epi32(
                _mm256_add_epi32(qi[0], qi[1]),
                _mm256_add_epi32(qi[2], qi[3]),
            );
            let s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s));
            let s2 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
            let s1 = _mm_add_epi32(s2, _mm_shuffle_epi32::<1>(s2));
            *db = dd;
            *cb = -8 * _mm_cvtsi128_si32(s1);
        }
    }
}

/// GELU of 8 lanes with exactly the arithmetic of [`super::gelu_scalar`].
#[target_feature(enable = "avx2,fma")]
pub(super) fn gelu256(v: __m256) -> __m256 {
    let x = _mm256_mul_ps(v, _mm256_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
    let x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(4.0)), _mm256_set1_ps(-4.0));
    let x2 = _mm256_mul_ps(x, x);
    let mut p = _mm256_set1_ps(ERF_ALPHA[0]);
    for &a in &ERF_ALPHA[1..] {
        p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(a));
    }
    let p = _mm256_mul_ps(x, p);
    let mut q = _mm256_set1_ps(ERF_BETA[0]);
    for &b in &ERF_BETA[1..] {
        q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(b));
    }
    let erf = _mm256_div_ps(p, q);
    let h = _mm256_mul_ps(v, _mm256_set1_ps(0.5));
    _mm256_fmadd_ps(h, erf, h)
}

/// Computes rows `r0..r1`, column groups `g0..g1` of the output.
///
/// # Safety
/// AVX2 and FMA must be available, the ranges must lie within the job's shapes, and no other
/// thread may write the same rectangle concurrently.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn rect(job: &Job<'_>, r0: usize, r1: usize, g0: usize, g1: usize) {
    for g in g0..g1 {
        let mut r = r0;
        while r < r1 {
            let rr = (r1 - r).min(R_TILE);
            // SAFETY: `r < m` and `g < groups`; the tile covers rows `r..r+rr` and group `g`,
            // which lie inside the caller's rectangle.
            unsafe {
                let t = job.tile(r, g);
                match rr {
                    2 => tile::<2, 2>(&t),
                    _ => tile::<1, 2>(&t),
                }
            }
            r += rr;
        }
    }
}

/// Register tile of `R` rows × `H` 8-column halves (two per group).
///
/// # Safety
/// AVX2 and FMA must be available and `t` must describe `R` valid rows and `H / 2` valid groups.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile<const R: usize, const H: usize>(t: &Tile) {
    let m4 = _mm256_set1_epi8(0x0F);
    let ones = _mm256_set1_epi16(1);
    let mut acc = [[_mm256_setzero_ps(); H]; R];
    for b in 0..t.nb {
        // SAFETY: `b < nb`, so the weight cell, the activation block (32 bytes at `b * 32` of each
        // of the `R` rows) and the scale/correction entries are all in bounds.
        unsafe {
            let mut a16 = [[_mm256_setzero_si256(); H]; R];
            let wb = t.w.add(b * CELL_BYTES);
            let xb = t.xq.add(b * QK);
            for s in 0..4 {
                for h in 0..H {
                    let v = _mm256_loadu_si256(
                        wb.add((h / 2) * t.ldw + 64 + s * 64 + (h % 2) * 32).cast(),
                    );
                    let lo = _mm256_and_si256(v, m4);
                    let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), m4);
                    for (r, a) in a16.iter_mut().enumerate() {
                        let xr = xb.add(r * t.ldx);
                        let xl = _mm256_set1_epi32(xr.add(4 * s).cast::<i32>().read_unaligned());
                        let xh =
                            _mm256_set1_epi32(xr.add(16 + 4 * s).cast::<i32>().read_unaligned());
                        a[h] = _mm256_add_epi16(a[h], _mm256_maddubs_epi16(lo, xl));
                        a[h] = _mm256_add_epi16(a[h], _mm256_maddubs_epi16(hi, xh));
                    }
                }
            }
            for h in 0..H {
                let dw = _mm256_loadu_ps(wb.add((h / 2) * t.ldw + (h % 2) * 32).cast());
                for r in 0..R {
                    let corr = _mm256_set1_epi32(*t.xc.add(r * t.ldb + b));
                    let isum = _mm256_add_epi32(_mm256_madd_epi16(a16[r][h], ones), corr);
                    let s = _mm256_mul_ps(dw, _mm256_set1_ps(*t.xd.add(r * t.ldb + b)));
                    acc[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), s, acc[r][h]);
                }
            }
        }
    }
    for (r, accr) in acc.iter().enumerate() {
        for (h, &a) in accr.iter().enumerate() {
            let c0 = h * 8;
            if c0 >= t.ncols {
                break;
            }
            let nv = (t.ncols - c0).min(8);
            // SAFETY: only the `nv` valid columns of the bias and of output row `r` are read or
            // written (a full vector only when all 8 are valid).
            unsafe {
                let mut v = a;
                let yp = t.y.add(r * t.ldy + c0);
                if nv == 8 {
                    if !t.bias.is_null() {
                        v = _mm256_add_ps(v, _mm256_loadu_ps(t.bias.add(c0)));
                    }
                    if t.gelu {
                        v = gelu256(v);
                    }
                    _mm256_storeu_ps(yp, v);
                } else {
                    let mut tmp = [0f32; 8];
                    if !t.bias.is_null() {
                        std::ptr::copy_nonoverlapping(t.bias.add(c0), tmp.as_mut_ptr(), nv);
                        v = _mm256_add_ps(v, _mm256_loadu_ps(tmp.as_ptr()));
                    }
                    if t.gelu {
                        v = gelu256(v);
                    }
                    _mm256_storeu_ps(tmp.as_mut_ptr(), v);
                    std::ptr::copy_nonoverlapping(tmp.as_ptr(), yp, nv);
                }
            }
        }
    }
}
