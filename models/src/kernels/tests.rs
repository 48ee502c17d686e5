use super::*;

/// Tiny deterministic xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [-1, 1).
    fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

fn random_q4(rng: &mut Rng, n: usize, k: usize) -> Vec<u8> {
    let mut raw = Vec::with_capacity(n * k / 32 * 18);
    for _ in 0..n * k / 32 {
        let d = half::f16::from_f32(0.002 + 0.03 * rng.f32().abs());
        raw.extend_from_slice(&d.to_le_bytes());
        for _ in 0..16 {
            raw.push(rng.next_u64() as u8);
        }
    }
    raw
}

fn random_x(rng: &mut Rng, len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let v = rng.f32() * 2.0;
            // A few outliers, as in real transformer activations.
            if i % 389 == 388 {
                v * 3.0
            } else {
                v
            }
        })
        .collect()
}

/// erf in f64: `erf(x) = 2/√π · e^{-x²} · Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1))` (positive terms only).
fn erf64(x: f64) -> f64 {
    let a = x.abs();
    if a > 6.0 {
        return x.signum();
    }
    let mut term = a;
    let mut sum = a;
    let mut n = 0.0;
    while term > 1e-17 * sum {
        n += 1.0;
        term *= 2.0 * a * a / (2.0 * n + 1.0);
        sum += term;
    }
    (2.0 / std::f64::consts::PI.sqrt() * (-a * a).exp() * sum).copysign(x)
}

fn gelu64(v: f64) -> f64 {
    0.5 * v * (1.0 + erf64(v / std::f64::consts::SQRT_2))
}

/// References in f64: (with unquantised x, with the kernel's int8 quantisation of x).
fn references(
    x: &[f32],
    m: usize,
    w: &PackedQ4,
    bias: Option<&[f32]>,
    ep: Epilogue,
) -> (Vec<f64>, Vec<f64>) {
    let (n, k) = (w.rows(), w.cols());
    let wd = w.dequantize();
    let mut xq = vec![0i8; m * k];
    let mut xd = vec![0f32; m * k / 32];
    for ((xb, qb), d) in x
        .chunks_exact(32)
        .zip(xq.chunks_exact_mut(32))
        .zip(xd.iter_mut())
    {
        *d = quantize_block_scalar(xb, qb).0;
    }
    let post = |v: f64, j: usize| {
        let v = v + bias.map_or(0.0, |b| b[j] as f64);
        match ep {
            Epilogue::None => v,
            Epilogue::Gelu => gelu64(v),
        }
    };
    let mut exact = vec![0f64; m * n];
    let mut quant = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let (mut s, mut sq) = (0f64, 0f64);
            for l in 0..k {
                let wv = wd[j * k + l] as f64;
                s += x[i * k + l] as f64 * wv;
                sq += xq[i * k + l] as f64 * xd[i * k / 32 + l / 32] as f64 * wv;
            }
            exact[i * n + j] = post(s, j);
            quant[i * n + j] = post(sq, j);
        }
    }
    (exact, quant)
}

fn run(
    imp: Impl,
    x: &[f32],
    m: usize,
    w: &PackedQ4,
    bias: Option<&[f32]>,
    ep: Epilogue,
) -> Vec<f32> {
    let mut y = vec![f32::NAN; m * w.rows()];
    matmul_with(imp, x, m, w, bias, ep, &mut y).expect("valid shapes");
    y
}

#[test]
fn matches_reference_all_shapes_and_impls() {
    let impls = Impl::all_available();
    eprintln!("implementations: {impls:?}");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut case = 0usize;
    for &k in &[32usize, 384, 1536] {
        for &n in &[1usize, 5, 16, 384, 1152, 1536] {
            let w = PackedQ4::from_q4_0(&random_q4(&mut rng, n, k), n, k).expect("packs");
            let bias: Vec<f32> = (0..n).map(|_| rng.f32()).collect();
            for &m in &[1usize, 3, 17, 64, 300] {
                case += 1;
                let x = random_x(&mut rng, m * k);
                let with_bias = case.is_multiple_of(2);
                let ep = if case % 4 < 2 {
                    Epilogue::None
                } else {
                    Epilogue::Gelu
                };
                let b = with_bias.then_some(bias.as_slice());
                let (exact, quant) = references(&x, m, &w, b, ep);
                let y = run(Impl::best(), &x, m, &w, b, ep);
                let scale = quant.iter().fold(1e-30f64, |a, v| a.max(v.abs()));
                let max_diff = y
                    .iter()
                    .zip(&quant)
                    .fold(0f64, |a, (&v, &r)| a.max((v as f64 - r).abs()));
                assert!(
                    max_diff < 1e-3 * scale,
                    "m={m} k={k} n={n}: max diff {max_diff} vs quantised reference (scale {scale})"
                );
                let num: f64 = y
                    .iter()
                    .zip(&exact)
                    .map(|(&v, &r)| (v as f64 - r).powi(2))
                    .sum();
                let den: f64 = exact.iter().map(|r| r * r).sum();
                let rel = (num / den).sqrt();
                assert!(rel < 1e-2, "m={m} k={k} n={n} {ep:?}: relative error {rel}");
                // Every implementation performs the same arithmetic: bit-identical outputs.
                if m <= 64 || n <= 384 {
                    for &imp in &impls {
                        let yi = run(imp, &x, m, &w, b, ep);
                        assert!(
                            yi.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()),
                            "{} differs from {} at m={m} k={k} n={n} {ep:?}",
                            imp.name(),
                            Impl::best().name()
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn deterministic_across_thread_counts() {
    let mut rng = Rng(42);
    for &(m, k, n) in &[
        (30usize, 384usize, 1152usize),
        (300, 1536, 384),
        (7, 64, 50),
    ] {
        let w = PackedQ4::from_q4_0(&random_q4(&mut rng, n, k), n, k).expect("packs");
        let x = random_x(&mut rng, m * k);
        let bias: Vec<f32> = (0..n).map(|_| rng.f32()).collect();
        let mut outs = Vec::new();
        for threads in [1, 2, 3, 5] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let mut y = vec![0f32; m * n];
            pool.install(|| matmul_q4(&x, m, &w, Some(&bias), Epilogue::Gelu, &mut y))
                .expect("valid shapes");
            outs.push(y);
        }
        for o in &outs[1..] {
            assert!(o
                .iter()
                .zip(&outs[0])
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }
}

#[test]
fn gelu_accuracy() {
    let mut worst = 0f64;
    let mut v = -12.0f32;
    while v <= 12.0 {
        let err = (gelu_scalar(v) as f64 - gelu64(v as f64)).abs();
        if v.abs() <= 10.0 {
            worst = worst.max(err);
        }
        assert!(
            err <= 1e-5f64.max(1e-6 * v.abs() as f64),
            "gelu({v}) error {err}"
        );
        v += 1.0 / 1024.0;
    }
    eprintln!("max gelu abs error on [-10, 10]: {worst:e}");
    assert!(worst < 1e-5);
}

#[test]
fn dequantize_is_exact_and_roundtrips() {
    let mut rng = Rng(7);
    let (n, k) = (37, 96);
    let raw = random_q4(&mut rng, n, k);
    let w = PackedQ4::from_q4_0(&raw, n, k).expect("packs");
    assert_eq!((w.rows(), w.cols()), (n, k));
    let deq = w.dequantize();
    for row in 0..n {
        for b in 0..k / 32 {
            let blk = &raw[(row * k / 32 + b) * 18..][..18];
            let d = half::f16::from_le_bytes([blk[0], blk[1]]).to_f32();
            for j in 0..16 {
                let lo = ((blk[2 + j] & 15) as i32 - 8) as f32 * d;
                let hi = ((blk[2 + j] >> 4) as i32 - 8) as f32 * d;
                assert_eq!(deq[row * k + b * 32 + j], lo);
                assert_eq!(deq[row * k + b * 32 + j + 16], hi);
            }
        }
    }
    assert_eq!(w.to_q4_0(), raw);
}

#[test]
fn concat_rows_fuses() {
    let mut rng = Rng(11);
    let k = 64;
    let parts: Vec<PackedQ4> = [5usize, 16, 21]
        .iter()
        .map(|&n| PackedQ4::from_q4_0(&random_q4(&mut rng, n, k), n, k).expect("packs"))
        .collect();
    let refs: Vec<&PackedQ4> = parts.iter().collect();
    let fused = PackedQ4::concat_rows(&refs).expect("concat");
    assert_eq!(fused.rows(), 42);
    let expected: Vec<f32> = parts.iter().flat_map(|p| p.dequantize()).collect();
    assert_eq!(fused.dequantize(), expected);
    let m = 9;
    let x = random_x(&mut rng, m * k);
    let yf = run(Impl::best(), &x, m, &fused, None, Epilogue::None);
    let mut col = 0;
    for p in &parts {
        let yp = run(Impl::best(), &x, m, p, None, Epilogue::None);
        for i in 0..m {
            for j in 0..p.rows() {
                assert_eq!(
                    yf[i * 42 + col + j].to_bits(),
                    yp[i * p.rows() + j].to_bits()
                );
            }
        }
        col += p.rows();
    }
    let other = PackedQ4::from_q4_0(&random_q4(&mut rng, 3, 32), 3, 32).expect("packs");
    assert!(matches!(
        PackedQ4::concat_rows(&[&parts[0], &other]),
        Err(KernelError::ConcatMismatch { index: 1, .. })
    ));
    assert_eq!(
        PackedQ4::concat_rows(&[]).unwrap_err(),
        KernelError::EmptyConcat
    );
}

#[test]
fn bad_sizes_are_errors() {
    let raw = vec![0u8; 4 * 2 * 18];
    assert_eq!(
        PackedQ4::from_q4_0(&raw, 4, 0).unwrap_err(),
        KernelError::BadK(0)
    );
    assert_eq!(
        PackedQ4::from_q4_0(&raw, 4, 48).unwrap_err(),
        KernelError::BadK(48)
    );
    assert_eq!(
        PackedQ4::from_q4_0(&raw, 0, 64).unwrap_err(),
        KernelError::BadN(0)
    );
    assert!(matches!(
        PackedQ4::from_q4_0(&raw[1..], 4, 64),
        Err(KernelError::BadWeightBytes {
            expected: 144,
            got: 143
        })
    ));
    assert!(matches!(
        PackedQ4::from_q4_0(&raw, usize::MAX / 2, 64),
        Err(KernelError::Overflow)
    ));
    let w = PackedQ4::from_q4_0(&raw, 4, 64).expect("packs");
    let x = vec![1f32; 3 * 64];
    let mut y = vec![0f32; 3 * 4];
    for imp in Impl::all_available() {
        let call = |x: &[f32], m: usize, b: Option<&[f32]>, y: &mut [f32]| {
            matmul_with(imp, x, m, &w, b, Epilogue::None, y)
        };
        assert!(matches!(
            call(&x[1..], 3, None, &mut y),
            Err(KernelError::BadLength { what: "x", .. })
        ));
        assert!(matches!(
            call(&x, 3, None, &mut y[1..]),
            Err(KernelError::BadLength { what: "y", .. })
        ));
        assert!(matches!(
            call(&x, 3, Some(&[0.0; 3]), &mut y),
            Err(KernelError::BadLength { what: "bias", .. })
        ));
        assert!(matches!(
            call(&x, usize::MAX, None, &mut y),
            Err(KernelError::Overflow)
        ));
        assert!(call(&[], 0, None, &mut []).is_ok());
        assert!(call(&x, 3, Some(&[0.5; 4]), &mut y).is_ok());
        assert!(y.iter().all(|&v| v == 0.5), "zero weights plus bias");
    }
    assert!(!kernel_name().is_empty());
}
