//! CPU matrix multiplication of ggml Q4_0 weights with f32 activations.
//!
//! The linear layers of the encoder compute `y = x · Wᵀ + b`, optionally followed by GELU, where
//! `W` is stored in ggml's Q4_0 format (blocks of 32 weights: an f16 scale `d` and 16 bytes of
//! 4-bit values, `w = (q - 8) * d`).
//!
//! # How it computes
//!
//! * The weights are repacked once ([`PackedQ4::from_q4_0`]) into groups of 16 output columns:
//!   for every group and every 32-wide block of `k` there are 16 f32 scales followed by four
//!   64-byte vectors of nibbles, laid out so that one 512-bit load holds 4 consecutive `k` values
//!   for each of the 16 columns in its low nibbles and the 4 values 16 positions further in its
//!   high nibbles. The weights stay exact; padding columns (when `n` is not a multiple of 16) have
//!   scale 0.
//! * The activations are quantised on the fly to int8 per 32-element block, ggml Q8_0 style:
//!   `dx = max|x| / 127`, `qx = round_ties_even(x / dx)`. This is the only approximation (the
//!   same one ggml and llama.cpp make): the relative error of a dot product is typically a few
//!   1e-3. Scales are kept in f32 (not f16 as in ggml).
//! * Per block the integer dot product `Σ q·qx` (with the unsigned nibble `q` in 0..15 as the `u8`
//!   operand of `vpdpbusd`/`vpmaddubsw`) is corrected by `-8·Σ qx`, which makes it exactly
//!   `Σ (q-8)·qx`, then converted to f32 and accumulated with `fma(isum, dw·dx, acc)`.
//!   All implementations perform exactly the same arithmetic per output, so they agree bit for bit
//!   (for finite inputs), and the result does not depend on the number of threads.
//!
//! # Implementations
//!
//! * `avx512vnni`: 512-bit `vpdpbusd`, register tiles of 6 rows × 32 columns (4 × 48 when there
//!   are fewer than 6 rows), selected at run time.
//! * `avx2`: `vpmaddubsw` + `vpmaddwd`, tile of 2 rows × 16 columns (selected at run time).
//! * `scalar`: portable fallback, compiled everywhere.

#[cfg(target_arch = "x86_64")]
mod avx2;
mod scalar;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod vnni;

use rayon::prelude::*;

/// Weights per Q4_0 block.
pub(crate) const QK: usize = 32;
/// Bytes per raw Q4_0 block (f16 scale + 16 bytes of nibbles).
const RAW_BLOCK_BYTES: usize = 18;
/// Output columns per packed group.
pub(crate) const GROUP: usize = 16;
/// Bytes of one (group, block) cell in the packed layout: 16 f32 scales + 4 × 64 nibble bytes.
pub(crate) const CELL_BYTES: usize = 64 + 4 * 64;
/// 64-byte lines per cell.
const CELL_LINES: usize = CELL_BYTES / 64;

/// Errors reported by the kernels; every size mismatch is reported instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// `k` must be a positive multiple of 32.
    #[error("k = {0} is not a positive multiple of 32")]
    BadK(usize),
    /// The number of output rows `n` must be at least 1.
    #[error("n = {0} must be at least 1")]
    BadN(usize),
    /// The raw Q4_0 buffer does not hold `n * k / 32` blocks of 18 bytes.
    #[error("Q4_0 buffer has {got} bytes, expected {expected}")]
    BadWeightBytes {
        /// Bytes required by `n` and `k`.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// A slice passed to [`matmul_q4`] has the wrong length.
    #[error("{what} has length {got}, expected {expected}")]
    BadLength {
        /// Which argument (`x`, `y` or `bias`).
        what: &'static str,
        /// Length required by the shapes.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// [`PackedQ4::concat_rows`] was given no matrices.
    #[error("concat_rows needs at least one matrix")]
    EmptyConcat,
    /// [`PackedQ4::concat_rows`] was given matrices with different `k`.
    #[error("concat_rows: matrix {index} has k = {got}, expected {expected}")]
    ConcatMismatch {
        /// Index of the offending part.
        index: usize,
        /// `k` of the first part.
        expected: usize,
        /// `k` of this part.
        got: usize,
    },
    /// [`matmul_q4_using`] was asked for a kernel this CPU (or build) does not have.
    #[error("kernel {0:?} is not available on this CPU")]
    UnavailableKernel(String),
    /// A size computation overflowed `usize`.
    #[error("matrix size overflows usize")]
    Overflow,
}

/// One 64-byte aligned line of packed weight storage.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line([u8; 64]);

/// Q4_0 weights repacked once at load time into the layout the kernels want
/// (see the [module documentation](self)).
#[derive(Clone)]
pub struct PackedQ4 {
    n: usize,
    k: usize,
    /// Blocks per row (`k / 32`).
    nb: usize,
    /// Column groups (`ceil(n / 16)`).
    groups: usize,
    /// `groups * nb` cells of `CELL_LINES` lines; cell `(g, b)` is at line `(g * nb + b) * 5`.
    data: Vec<Line>,
}

impl std::fmt::Debug for PackedQ4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedQ4")
            .field("n", &self.n)
            .field("k", &self.k)
            .finish_non_exhaustive()
    }
}

impl PackedQ4 {
    /// Repacks a row-major `[n, k]` Q4_0 matrix.
    ///
    /// `raw` holds `n * (k/32)` blocks of 18 bytes (little-endian f16 scale, then 16 bytes whose
    /// byte `j` holds weight `j` in its low nibble and weight `j + 16` in its high nibble).
    pub fn from_q4_0(raw: &[u8], n: usize, k: usize) -> Result<Self, KernelError> {
        if k == 0 || !k.is_multiple_of(QK) {
            return Err(KernelError::BadK(k));
        }
        if n == 0 {
            return Err(KernelError::BadN(n));
        }
        let nb = k / QK;
        let expected = n
            .checked_mul(nb)
            .and_then(|v| v.checked_mul(RAW_BLOCK_BYTES))
            .ok_or(KernelError::Overflow)?;
        if raw.len() != expected {
            return Err(KernelError::BadWeightBytes {
                expected,
                got: raw.len(),
            });
        }
        let groups = n.div_ceil(GROUP);
        let lines = groups
            .checked_mul(nb)
            .and_then(|v| v.checked_mul(CELL_LINES))
            .ok_or(KernelError::Overflow)?;
        // Padding columns: scale 0 and q = 8 (value 0).
        let mut data = vec![Line([0x88; 64]); lines];
        for g in 0..groups {
            for b in 0..nb {
                let cell = &mut data[(g * nb + b) * CELL_LINES..(g * nb + b + 1) * CELL_LINES];
                cell[0] = Line([0; 64]);
                for c in 0..GROUP {
                    let row = g * GROUP + c;
                    if row >= n {
                        break;
                    }
                    let blk = &raw[(row * nb + b) * RAW_BLOCK_BYTES..][..RAW_BLOCK_BYTES];
                    let d = half::f16::from_le_bytes([blk[0], blk[1]]).to_f32();
                    cell[0].0[c * 4..c * 4 + 4].copy_from_slice(&d.to_le_bytes());
                    for j in 0..16 {
                        cell[1 + j / 4].0[c * 4 + j % 4] = blk[2 + j];
                    }
                }
            }
        }
        Ok(Self {
            n,
            k,
            nb,
            groups,
            data,
        })
    }

    /// Number of output rows `n` of the weight matrix.
    pub fn rows(&self) -> usize {
        self.n
    }

    /// Number of input columns `k` of the weight matrix.
    pub fn cols(&self) -> usize {
        self.k
    }

    /// The packed bytes (`groups * nb * CELL_BYTES` of them).
    fn bytes(&self) -> &[u8] {
        // SAFETY: `Line` is `repr(C)` around `[u8; 64]` with no padding, so the vector's storage is
        // `data.len() * 64` initialised bytes that live as long as `self`.
        unsafe { std::slice::from_raw_parts(self.data.as_ptr().cast::<u8>(), self.data.len() * 64) }
    }

    /// Bytes of the cell of column group `g`, block `b`.
    fn cell(&self, g: usize, b: usize) -> &[u8] {
        &self.bytes()[(g * self.nb + b) * CELL_BYTES..][..CELL_BYTES]
    }

    /// Scale and 16 raw Q4_0 bytes of row `row`, block `b`.
    fn raw_block(&self, row: usize, b: usize) -> (f32, [u8; 16]) {
        let cell = self.cell(row / GROUP, b);
        let c = row % GROUP;
        let d = f32::from_le_bytes(cell[c * 4..c * 4 + 4].try_into().expect("4 bytes"));
        let mut qs = [0u8; 16];
        for (j, q) in qs.iter_mut().enumerate() {
            *q = cell[64 + (j / 4) * 64 + c * 4 + j % 4];
        }
        (d, qs)
    }

    /// Exact f32 dequantisation, row-major `[n, k]`.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.n * self.k];
        for (row, out_row) in out.chunks_exact_mut(self.k).enumerate() {
            for (b, ob) in out_row.chunks_exact_mut(QK).enumerate() {
                let (d, qs) = self.raw_block(row, b);
                for j in 0..16 {
                    ob[j] = ((qs[j] & 0x0F) as f32 - 8.0) * d;
                    ob[j + 16] = ((qs[j] >> 4) as f32 - 8.0) * d;
                }
            }
        }
        out
    }

    /// The matrix back in raw Q4_0 form (scales were f16 to begin with, so this is lossless).
    fn to_q4_0(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.n * self.nb * RAW_BLOCK_BYTES);
        for row in 0..self.n {
            for b in 0..self.nb {
                let (d, qs) = self.raw_block(row, b);
                out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
                out.extend_from_slice(&qs);
            }
        }
        out
    }

    /// Concatenates matrices with equal `k` along `n` (e.g. to fuse Q, K and V projections into
    /// one matmul); output column order is `parts[0]`'s rows, then `parts[1]`'s, and so on.
    pub fn concat_rows(parts: &[&PackedQ4]) -> Result<Self, KernelError> {
        let first = parts.first().ok_or(KernelError::EmptyConcat)?;
        let mut n = 0usize;
        for (index, p) in parts.iter().enumerate() {
            if p.k != first.k {
                return Err(KernelError::ConcatMismatch {
                    index,
                    expected: first.k,
                    got: p.k,
                });
            }
            n = n.checked_add(p.n).ok_or(KernelError::Overflow)?;
        }
        let mut raw = Vec::new();
        for p in parts {
            raw.extend_from_slice(&p.to_q4_0());
        }
        Self::from_q4_0(&raw, n, first.k)
    }
}

/// What to apply to each output after adding the bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epilogue {
    /// Nothing: `y = x · Wᵀ + b`.
    None,
    /// Exact (erf-based) GELU, `0.5·v·(1 + erf(v/√2))`, max abs error < 1e-5 against f64 for
    /// |v| ≤ 10 (a rational erf approximation evaluated in f32).
    Gelu,
}

/// The available implementations, fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Impl {
    /// AVX-512 BW/VL + VNNI.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Vnni,
    /// AVX2 + FMA.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Avx2,
    /// Portable scalar code.
    Scalar,
}

impl Impl {
    /// Name used in logs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Impl::Vnni => "avx512vnni",
            Impl::Avx2 => "avx2",
            Impl::Scalar => "scalar",
        }
    }

    /// Whether this CPU can run the implementation.
    pub(crate) fn is_available(self) -> bool {
        match self {
            Impl::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Impl::Avx2 => avx2::available(),
            #[cfg(target_arch = "x86_64")]
            Impl::Vnni => vnni::available(),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Every implementation this CPU can run.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn all_available() -> Vec<Impl> {
        [Impl::Vnni, Impl::Avx2, Impl::Scalar]
            .into_iter()
            .filter(|i| i.is_available())
            .collect()
    }

    /// The fastest implementation this CPU can run (detected once).
    pub(crate) fn best() -> Impl {
        static BEST: std::sync::OnceLock<Impl> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            [Impl::Vnni, Impl::Avx2]
                .into_iter()
                .find(|i| i.is_available())
                .unwrap_or(Impl::Scalar)
        })
    }
}

/// Which implementation [`matmul_q4`] uses on this CPU: `"avx512vnni"`, `"avx2"` or `"scalar"`.
pub fn kernel_name() -> &'static str {
    Impl::best().name()
}

/// Activations quantised to int8 per 32-element block.
pub(crate) struct QuantX {
    /// Row-major `[m, k]` int8 values.
    pub(crate) q: Vec<i8>,
    /// `[m, nb]` block scales.
    pub(crate) d: Vec<f32>,
    /// `[m, nb]` corrections `-8 · Σ q` of each block.
    pub(crate) corr: Vec<i32>,
}

/// Quantises one 32-element block: returns `(d, -8·Σq)` and writes `q`. The reference
/// arithmetic that the SIMD versions reproduce exactly.
pub(crate) fn quantize_block_scalar(x: &[f32], q: &mut [i8]) -> (f32, i32) {
    let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut sum = 0i32;
    for (qi, &v) in q.iter_mut().zip(x) {
        let r = (v * id).round_ties_even().clamp(-127.0, 127.0) as i32;
        *qi = r as i8;
        sum += r;
    }
    (d, -8 * sum)
}

/// Quantises `rows` rows of `k` values (`x`) into the matching slices.
fn quantize_rows(imp: Impl, x: &[f32], k: usize, q: &mut [i8], d: &mut [f32], corr: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    if imp != Impl::Scalar {
        // SAFETY: `imp` is Vnni or Avx2, which are only selected when `is_available` found AVX2
        // and FMA; all slices have matching lengths (checked by the caller).
        unsafe { avx2::quantize_rows(x, q, d, corr) };
        return;
    }
    let _ = (imp, k);
    for (((xb, qb), db), cb) in x
        .chunks_exact(QK)
        .zip(q.chunks_exact_mut(QK))
        .zip(d.iter_mut())
        .zip(corr.iter_mut())
    {
        (*db, *cb) = quantize_block_scalar(xb, qb);
    }
}

/// Quantises `x` (`[m, k]`), in parallel when it is large.
fn quantize(imp: Impl, x: &[f32], m: usize, k: usize) -> QuantX {
    let nb = k / QK;
    let mut q = vec![0i8; m * k];
    let mut d = vec![0f32; m * nb];
    let mut corr = vec![0i32; m * nb];
    const ROWS_PER_TASK: usize = 64;
    if m * k >= 1 << 16 && rayon::current_num_threads() > 1 {
        x.par_chunks(ROWS_PER_TASK * k)
            .zip(q.par_chunks_mut(ROWS_PER_TASK * k))
            .zip(d.par_chunks_mut(ROWS_PER_TASK * nb))
            .zip(corr.par_chunks_mut(ROWS_PER_TASK * nb))
            .for_each(|(((x, q), d), c)| quantize_rows(imp, x, k, q, d, c));
    } else {
        quantize_rows(imp, x, k, &mut q, &mut d, &mut corr);
    }
    QuantX { q, d, corr }
}

/// Everything a kernel needs to compute a rectangle of outputs.
pub(crate) struct Job<'a> {
    pub(crate) x: &'a QuantX,
    pub(crate) w: &'a PackedQ4,
    pub(crate) bias: Option<&'a [f32]>,
    pub(crate) gelu: bool,
    /// Row-major `[m, n]` output, written through a raw pointer because threads write disjoint
    /// rectangles of it.
    pub(crate) y: *mut f32,
}

// SAFETY: `Job` is only shared between threads that write disjoint output rectangles through
// `y`; everything else is read-only.
unsafe impl Sync for Job<'_> {}

impl Job<'_> {
    pub(crate) fn n(&self) -> usize {
        self.w.n
    }
    pub(crate) fn k(&self) -> usize {
        self.w.k
    }
    pub(crate) fn nb(&self) -> usize {
        self.w.nb
    }
    /// Packed weight bytes.
    pub(crate) fn wbytes(&self) -> &[u8] {
        self.w.bytes()
    }
}

/// Raw pointers describing one register tile (rows `r..r+R`, groups `g..g+C`) for the SIMD
/// kernels.
#[cfg(target_arch = "x86_64")]
pub(crate) struct Tile {
    /// First quantised activation of row `r`.
    pub(crate) xq: *const i8,
    /// Row stride of `xq` (= k).
    pub(crate) ldx: usize,
    /// Block scales of row `r`.
    pub(crate) xd: *const f32,
    /// Block corrections of row `r`.
    pub(crate) xc: *const i32,
    /// Row stride of `xd` and `xc` (= nb).
    pub(crate) ldb: usize,
    /// Blocks per row.
    pub(crate) nb: usize,
    /// First packed cell of group `g`.
    pub(crate) w: *const u8,
    /// Bytes per group (= nb * CELL_BYTES).
    pub(crate) ldw: usize,
    /// Bias of column `g * 16`, or null.
    pub(crate) bias: *const f32,
    /// Apply GELU.
    pub(crate) gelu: bool,
    /// Output element `(r, g * 16)`.
    pub(crate) y: *mut f32,
    /// Row stride of `y` (= n).
    pub(crate) ldy: usize,
    /// Valid output columns from `g * 16` on (may exceed the tile width).
    pub(crate) ncols: usize,
}

#[cfg(target_arch = "x86_64")]
impl Job<'_> {
    /// The tile starting at row `r` and group `g`.
    ///
    /// # Safety
    /// `r < m` and `g < groups`.
    pub(crate) unsafe fn tile(&self, r: usize, g: usize) -> Tile {
        let (n, k, nb) = (self.n(), self.k(), self.nb());
        let col = g * GROUP;
        // SAFETY: `r < m` and `g < groups`, so every offset is inside (or, for the bias, at most
        // one past the end of) its allocation.
        unsafe {
            Tile {
                xq: self.x.q.as_ptr().add(r * k),
                ldx: k,
                xd: self.x.d.as_ptr().add(r * nb),
                xc: self.x.corr.as_ptr().add(r * nb),
                ldb: nb,
                nb,
                w: self.wbytes().as_ptr().add(g * nb * CELL_BYTES),
                ldw: nb * CELL_BYTES,
                bias: self
                    .bias
                    .map_or(std::ptr::null(), |b| b.as_ptr().add(col.min(n))),
                gelu: self.gelu,
                y: self.y.add(r * n + col),
                ldy: n,
                ncols: n - col,
            }
        }
    }
}

/// Computes rows `r0..r1`, column groups `g0..g1` of the output with `imp`.
///
/// # Safety
/// `imp` must be available on this CPU, the ranges must lie within the job's shapes, and no other
/// thread may write the same rectangle concurrently.
unsafe fn run_rect(imp: Impl, job: &Job<'_>, r0: usize, r1: usize, g0: usize, g1: usize) {
    match imp {
        // SAFETY: forwarded from the caller's contract.
        #[cfg(target_arch = "x86_64")]
        Impl::Vnni => unsafe { vnni::rect(job, r0, r1, g0, g1) },
        // SAFETY: forwarded from the caller's contract.
        #[cfg(target_arch = "x86_64")]
        Impl::Avx2 => unsafe { avx2::rect(job, r0, r1, g0, g1) },
        // SAFETY: forwarded from the caller's contract.
        _ => unsafe { scalar::rect(job, r0, r1, g0, g1) },
    }
}

/// Column groups per register tile of an implementation (task boundaries are multiples of it).
fn tile_groups(imp: Impl) -> usize {
    match imp {
        #[cfg(target_arch = "x86_64")]
        Impl::Vnni => vnni::C_ALIGN,
        _ => 1,
    }
}

/// `y[m, n] = epilogue(x[m, k] · Wᵀ + bias)`, x and y row-major f32.
///
/// The activations are quantised to int8 per 32-element block (see the
/// [module documentation](self)); the weights are used exactly. Work is split over the threads of
/// the current rayon pool when it is big enough; the output does not depend on the thread count.
/// Non-finite activations give unspecified (but memory-safe) results.
pub fn matmul_q4(
    x: &[f32],
    m: usize,
    w: &PackedQ4,
    bias: Option<&[f32]>,
    epilogue: Epilogue,
    y: &mut [f32],
) -> Result<(), KernelError> {
    matmul_with(Impl::best(), x, m, w, bias, epilogue, y)
}

/// [`matmul_q4`] with a named implementation (`"avx512vnni"`, `"avx2"` or `"scalar"`), for
/// benchmarks and cross-checks; errors if this CPU cannot run it.
pub fn matmul_q4_using(
    kernel: &str,
    x: &[f32],
    m: usize,
    w: &PackedQ4,
    bias: Option<&[f32]>,
    epilogue: Epilogue,
    y: &mut [f32],
) -> Result<(), KernelError> {
    let imp = [Impl::Vnni, Impl::Avx2, Impl::Scalar]
        .into_iter()
        .find(|i| i.name() == kernel && i.is_available())
        .ok_or_else(|| KernelError::UnavailableKernel(kernel.to_string()))?;
    matmul_with(imp, x, m, w, bias, epilogue, y)
}

/// [`matmul_q4`] with a chosen implementation (the scalar one if it is not available).
pub(crate) fn matmul_with(
    imp: Impl,
    x: &[f32],
    m: usize,
    w: &PackedQ4,
    bias: Option<&[f32]>,
    epilogue: Epilogue,
    y: &mut [f32],
) -> Result<(), KernelError> {
    let (n, k) = (w.n, w.k);
    let xlen = m.checked_mul(k).ok_or(KernelError::Overflow)?;
    let ylen = m.checked_mul(n).ok_or(KernelError::Overflow)?;
    if x.len() != xlen {
        return Err(KernelError::BadLength {
            what: "x",
            expected: xlen,
            got: x.len(),
        });
    }
    if y.len() != ylen {
        return Err(KernelError::BadLength {
            what: "y",
            expected: ylen,
            got: y.len(),
        });
    }
    if let Some(b) = bias {
        if b.len() != n {
            return Err(KernelError::BadLength {
                what: "bias",
                expected: n,
                got: b.len(),
            });
        }
    }
    let imp = if imp.is_available() {
        imp
    } else {
        Impl::Scalar
    };
    if m == 0 {
        return Ok(());
    }
    let xq = quantize(imp, x, m, k);
    let job = Job {
        x: &xq,
        w,
        bias,
        gelu: epilogue == Epilogue::Gelu,
        y: y.as_mut_ptr(),
    };
    let groups = w.groups;
    let threads = rayon::current_num_threads();
    // Below ~0.5M multiply-adds (tens of microseconds) threading costs more than it gains.
    let macs = m.saturating_mul(n).saturating_mul(k);
    if threads <= 1 || macs < 1 << 19 {
        // SAFETY: `imp` is available, the rectangle is the whole output, and we hold `&mut y`.
        unsafe { run_rect(imp, &job, 0, m, 0, groups) };
        return Ok(());
    }
    // Row chunks of 64 (a multiple of every kernel's row tile) when m is large, then enough column
    // chunks (multiples of the kernel's column tile) for ~4 tasks per thread.
    let rows_per = if m <= 96 { m } else { 64 };
    let row_tasks = m.div_ceil(rows_per);
    let tg = tile_groups(imp);
    let col_tiles = groups.div_ceil(tg);
    let col_tasks = (4 * threads).div_ceil(row_tasks).clamp(1, col_tiles);
    let groups_per = col_tiles.div_ceil(col_tasks) * tg;
    let col_tasks = groups.div_ceil(groups_per);
    (0..row_tasks * col_tasks).into_par_iter().for_each(|t| {
        let (ri, ci) = (t / col_tasks, t % col_tasks);
        let r0 = ri * rows_per;
        let r1 = (r0 + rows_per).min(m);
        let g0 = ci * groups_per;
        let g1 = (g0 + groups_per).min(groups);
        // SAFETY: `imp` is available; tasks cover disjoint rectangles inside the output, which we
        // borrow mutably for the duration of this call.
        unsafe { run_rect(imp, &job, r0, r1, g0, g1) };
    });
    Ok(())
}

/// Coefficients of the rational erf approximation (Eigen's `generic_fast_erf_float`):
/// `erf(x) ≈ x·P(x²)/Q(x²)` for `x` clamped to [-4, 4].
#[allow(clippy::excessive_precision)]
pub(crate) const ERF_ALPHA: [f32; 7] = [
    -2.72614225801306e-10,
    2.77068142495902e-08,
    -2.10102402082508e-06,
    -5.69250639462346e-05,
    -7.34990630326855e-04,
    -2.95459980854025e-03,
    -1.60960333262415e-02,
];
/// Denominator coefficients, highest degree first.
#[allow(clippy::excessive_precision)]
pub(crate) const ERF_BETA: [f32; 5] = [
    -1.45660718464996e-05,
    -2.13374055278905e-04,
    -1.68282697438203e-03,
    -7.37332916720468e-03,
    -1.42647390514189e-02,
];

/// Scalar GELU with the same arithmetic as the SIMD versions.
pub(crate) fn gelu_scalar(v: f32) -> f32 {
    let x = (v * std::f32::consts::FRAC_1_SQRT_2).clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = ERF_ALPHA[0];
    for &a in &ERF_ALPHA[1..] {
        p = x2.mul_add(p, a);
    }
    let p = x * p;
    let mut q = ERF_BETA[0];
    for &b in &ERF_BETA[1..] {
        q = x2.mul_add(q, b);
    }
    let erf = p / q;
    let h = 0.5 * v;
    h.mul_add(erf, h)
}
