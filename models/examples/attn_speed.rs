//! Scratch timing of the packed attention op (not part of the product).
use candle_core::{Device, Tensor};
use std::sync::Arc;
use std::time::Instant;
use triage_models::attention::PackedAttention;
fn main() {
    for (n, len) in [(1usize, 30usize), (8, 30), (1, 500), (8, 300)] {
        let lens = vec![len; n];
        let qkv = Tensor::randn(0f32, 1.0, (n * len, 3 * 384), &Device::Cpu).unwrap();
        let op = PackedAttention::new(Arc::new(lens), 12, 384);
        let _ = qkv.apply_op1_no_bwd(&op).unwrap();
        let t = Instant::now();
        for _ in 0..10 {
            let _ = qkv.apply_op1_no_bwd(&op).unwrap();
        }
        let ms = t.elapsed().as_secs_f64() * 100.0;
        let flop = 4.0 * (n * len * len * 384) as f64;
        println!(
            "n={n} len={len}: {ms:.3} ms/layer, {:.1} GFLOP/s",
            flop / ms / 1e6
        );
    }
    let x = Tensor::randn(0f32, 1.0, (240, 384), &Device::Cpu).unwrap();
    let w = Tensor::randn(0f32, 1.0, (384, 1536), &Device::Cpu).unwrap();
    let _ = x.matmul(&w).unwrap();
    let t = Instant::now();
    for _ in 0..20 {
        let _ = x.matmul(&w).unwrap();
    }
    let ms = t.elapsed().as_secs_f64() * 50.0;
    println!(
        "f32 matmul 240x384x1536: {ms:.3} ms, {:.1} GFLOP/s",
        2.0 * 240.0 * 384.0 * 1536.0 / ms / 1e6
    );
}
