//! Portable scalar kernel: the reference arithmetic that the SIMD kernels reproduce exactly.

use super::{gelu_scalar, Job, CELL_BYTES, GROUP, QK};

/// Computes rows `r0..r1`, column groups `g0..g1` of the output.
///
/// # Safety
/// The ranges must lie within the job's shapes and no other thread may write the same rectangle
/// concurrently (the output is written through `job.y`).
pub(super) unsafe fn rect(job: &Job<'_>, r0: usize, r1: usize, g0: usize, g1: usize) {
    let (n, k, nb) = (job.n(), job.k(), job.nb());
    let w = job.wbytes();
    let c0 = g0 * GROUP;
    let c1 = (g1 * GROUP).min(n);
    for r in r0..r1 {
        let xq = &job.x.q[r * k..(r + 1) * k];
        let xd = &job.x.d[r * nb..(r + 1) * nb];
        let xc = &job.x.corr[r * nb..(r + 1) * nb];
        for col in c0..c1 {
            let (g, c) = (col / GROUP, col % GROUP);
            let mut acc = 0f32;
            for b in 0..nb {
                let cell = &w[(g * nb + b) * CELL_BYTES..][..CELL_BYTES];
                let dw = f32::from_le_bytes(cell[c * 4..c * 4 + 4].try_into().expect("4 bytes"));
                let xb = &xq[b * QK..(b + 1) * QK];
                let mut isum = xc[b];
                for j in 0..16 {
                    let byte = cell[64 + (j / 4) * 64 + c * 4 + j % 4];
                    isum += (byte & 0x0F) as i32 * xb[j] as i32;
                    isum += (byte >> 4) as i32 * xb[j + 16] as i32;
                }
                acc = (isum as f32).mul_add(dw * xd[b], acc);
            }
            if let Some(bias) = job.bias {
                acc += bias[col];
            }
            if job.gelu {
                acc = gelu_scalar(acc);
            }
            // SAFETY: `r < m` and `col < n`, so the index is inside the `[m, n]` output, and the
            // caller guarantees no other thread writes this element.
            unsafe { *job.y.add(r * n + col) = acc };
        }
    }
}
