//! AVX-512 VNNI kernel: one 512-bit `vpdpbusd` multiplies 4 `k` values of 16 output columns.

use std::arch::x86_64::*;

use super::{Job, Tile, CELL_BYTES, ERF_ALPHA, ERF_BETA, QK};

/// Column groups per task-split unit (every tile width divides it).
pub(super) const C_ALIGN: usize = 3;
/// Tile shape (rows, column groups of 16) for rectangles with at least `TALL_MIN_ROWS` rows:
/// taller tiles amortise the nibble unpacking over more rows (measured best with `(4, 3)`
/// within a few percent on Zen 4; the tile has 24 accumulators plus 6 weight registers).
const TALL: (usize, usize) = (6, 2);
/// Tile shape for fewer rows: wide tiles keep enough independent accumulators in flight.
const WIDE: (usize, usize) = (4, 3);
/// See [`TALL`].
const TALL_MIN_ROWS: usize = 6;

/// Register tile shape (rows, column groups) for a rectangle with `rows` rows.
fn tile_shape(rows: usize) -> (usize, usize) {
    if rows >= TALL_MIN_ROWS {
        TALL
    } else {
        WIDE
    }
}

/// Whether this CPU supports the kernel (AVX2/FMA are needed for the shared quantiser).
pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vnni")
        && super::avx2::available()
}

/// GELU of 16 lanes with exactly the arithmetic of [`super::gelu_scalar`].
#[target_feature(enable = "avx512f")]
fn gelu512(v: __m512) -> __m512 {
    let x = _mm512_mul_ps(v, _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
    let x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(4.0)), _mm512_set1_ps(-4.0));
    let x2 = _mm512_mul_ps(x, x);
    let mut p = _mm512_set1_ps(ERF_ALPHA[0]);
    for &a in &ERF_ALPHA[1..] {
        p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(a));
    }
    let p = _mm512_mul_ps(x, p);
    let mut q = _mm512_set1_ps(ERF_BETA[0]);
    for &b in &ERF_BETA[1..] {
        q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(b));
    }
    let erf = _mm512_div_ps(p, q);
    let h = _mm512_mul_ps(v, _mm512_set1_ps(0.5));
    _mm512_fmadd_ps(h, erf, h)
}

/// Calls `tile::<R, C>` for the run-time tile shape (R in 1..=6, C in 1..=3).
macro_rules! dispatch {
    ($rr:expr, $cg:expr, $t:expr) => {
        dispatch!(@r $rr, $cg, $t, 1 2 3 4 5 6)
    };
    (@r $rr:expr, $cg:expr, $t:expr, $($r:literal)*) => {
        match $rr {
            $($r => dispatch!(@c $r, $cg, $t),)*
            _ => unreachable!("row tile out of range"),
        }
    };
    (@c $r:literal, $cg:expr, $t:expr) => {
        match $cg {
            1 => tile::<$r, 1>($t),
            2 => tile::<$r, 2>($t),
            _ => tile::<$r, 3>($t),
        }
    };
}

/// Computes rows `r0..r1`, column groups `g0..g1` of the output.
///
/// # Safety
/// The CPU must support the kernel ([`available`]), the ranges must lie within the job's shapes,
/// and no other thread may write the same rectangle concurrently.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn rect(job: &Job<'_>, r0: usize, r1: usize, g0: usize, g1: usize) {
    let (r_tile, c_tile) = tile_shape(r1 - r0);
    let mut g = g0;
    while g < g1 {
        let cg = (g1 - g).min(c_tile);
        let mut r = r0;
        while r < r1 {
            let rr = (r1 - r).min(r_tile);
            // SAFETY: `r < m` and `g < groups`; the tile covers rows `r..r+rr` and groups
            // `g..g+cg`, which lie inside the caller's rectangle.
            unsafe {
                let t = job.tile(r, g);
                dispatch!(rr, cg, &t);
            }
            r += rr;
        }
        g += cg;
    }
}

/// Register tile of `R` rows × `C` groups of 16 columns.
///
/// # Safety
/// The CPU must support the kernel and `t` must describe `R` valid rows and `C` valid groups.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
unsafe fn tile<const R: usize, const C: usize>(t: &Tile) {
    let m4 = _mm512_set1_epi8(0x0F);
    let mut acc = [[_mm512_setzero_ps(); C]; R];
    for b in 0..t.nb {
        // SAFETY: `b < nb`, so the `C` weight cells, the activation block (32 bytes at `b * 32`
        // of each of the `R` rows) and the scale/correction entries are all in bounds.
        unsafe {
            let mut ia = [[_mm512_setzero_si512(); C]; R];
            for (r, iar) in ia.iter_mut().enumerate() {
                *iar = [_mm512_set1_epi32(*t.xc.add(r * t.ldb + b)); C];
            }
            let wb = t.w.add(b * CELL_BYTES);
            let xb = t.xq.add(b * QK);
            for s in 0..4 {
                for c in 0..C {
                    let v = _mm512_loadu_si512(wb.add(c * t.ldw + 64 + s * 64).cast());
                    let lo = _mm512_and_si512(v, m4);
                    let hi = _mm512_and_si512(_mm512_srli_epi16::<4>(v), m4);
                    for (r, iar) in ia.iter_mut().enumerate() {
                        let xr = xb.add(r * t.ldx);
                        let xl = _mm512_set1_epi32(xr.add(4 * s).cast::<i32>().read_unaligned());
                        let xh =
                            _mm512_set1_epi32(xr.add(16 + 4 * s).cast::<i32>().read_unaligned());
                        iar[c] = _mm512_dpbusd_epi32(iar[c], lo, xl);
                        iar[c] = _mm512_dpbusd_epi32(iar[c], hi, xh);
                    }
                }
            }
            for c in 0..C {
                let dw = _mm512_loadu_ps(wb.add(c * t.ldw).cast());
                for r in 0..R {
                    let s = _mm512_mul_ps(dw, _mm512_set1_ps(*t.xd.add(r * t.ldb + b)));
                    acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[r][c]), s, acc[r][c]);
                }
            }
        }
    }
    for (r, accr) in acc.iter().enumerate() {
        for (c, &a) in accr.iter().enumerate() {
            let c0 = c * 16;
            if c0 >= t.ncols {
                break;
            }
            let nv = (t.ncols - c0).min(16);
            let mask: __mmask16 = if nv == 16 { 0xFFFF } else { (1u16 << nv) - 1 };
            // SAFETY: masked loads and stores touch only the `nv` valid columns of the bias and
            // of output row `r`; masked-off lanes are never accessed.
            unsafe {
                let mut v = a;
                if !t.bias.is_null() {
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, t.bias.add(c0)));
                }
                if t.gelu {
                    v = gelu512(v);
                }
                _mm512_mask_storeu_ps(t.y.add(r * t.ldy + c0), mask, v);
            }
        }
    }
}
