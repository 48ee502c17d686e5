//! Embedding throughput and latency on real appeals.
//!
//! `cargo bench -p triage-models` embeds the first 2,000 texts of
//! `../shared/data/spb-appeals-dev.csv` as passages at batch 1, 8 and 32
//! (length-sorted batches) for each weight format and prints a table: texts/s,
//! tokens/s, p50/p95/p99 latency per batch, model load time and peak RSS.
//!
//! Env: `BENCH_MODEL_DIR` (default `data/models/multilingual-e5-small`),
//! `BENCH_DATA` (the CSV), `BENCH_N` (texts, default 2000), `BENCH_FORMATS`
//! (default `q4,f32`), `BENCH_BATCHES` (default `1,8,32`).

use std::path::PathBuf;
use std::time::Instant;

use triage_models::{Embedder, EmbedderOptions, Role, WeightFormat};

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let model_dir = PathBuf::from(env_or(
        "BENCH_MODEL_DIR",
        &workspace()
            .join("data/models/multilingual-e5-small")
            .to_string_lossy(),
    ));
    let data = PathBuf::from(env_or(
        "BENCH_DATA",
        &workspace()
            .join("../shared/data/spb-appeals-dev.csv")
            .to_string_lossy(),
    ));
    let n: usize = env_or("BENCH_N", "2000").parse().expect("BENCH_N");
    let formats: Vec<WeightFormat> = env_or("BENCH_FORMATS", "q4,f32")
        .split(',')
        .map(|f| f.parse().expect("BENCH_FORMATS"))
        .collect();
    let batches: Vec<usize> = env_or("BENCH_BATCHES", "1,8,32")
        .split(',')
        .map(|b| b.parse().expect("BENCH_BATCHES"))
        .collect();

    let mut reader = csv::Reader::from_path(&data)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", data.display()));
    let text_col = reader
        .headers()
        .expect("CSV header")
        .iter()
        .position(|h| h == "text")
        .expect("a text column");
    let texts: Vec<String> = reader
        .records()
        .filter_map(|r| r.ok())
        .map(|r| r[text_col].to_string())
        .filter(|t| !t.trim().is_empty())
        .take(n)
        .collect();

    println!("texts: {} from {}", texts.len(), data.display());
    println!("| format | batch | texts/s | tokens/s | p50 ms/batch | p95 ms/batch | p99 ms/batch | load ms |");
    println!("|---|---|---|---|---|---|---|---|");
    for format in formats {
        let t = Instant::now();
        let embedder = Embedder::load(
            &model_dir,
            EmbedderOptions {
                weight_format: format,
                ..EmbedderOptions::default()
            },
        )
        .expect("model loads (run `appeal-triage model install`)");
        let load_ms = t.elapsed().as_secs_f64() * 1e3;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let counts = embedder
            .token_counts(&refs, Role::Passage)
            .expect("tokenize");
        let tokens: usize = counts.iter().sum();
        // Length-sorted so each batch holds texts of similar length (as a server
        // queue sorted by length would); packing makes padding moot anyway.
        let mut order: Vec<usize> = (0..refs.len()).collect();
        order.sort_by_key(|&i| counts[i]);
        // Warm-up: first-touch of weights and thread pools.
        embedder
            .embed(&refs[..8.min(refs.len())], Role::Passage)
            .unwrap();
        for &b in &batches {
            let mut lat = Vec::new();
            let start = Instant::now();
            for chunk in order.chunks(b) {
                let batch: Vec<&str> = chunk.iter().map(|&i| refs[i]).collect();
                let t = Instant::now();
                embedder.embed(&batch, Role::Passage).unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let secs = start.elapsed().as_secs_f64();
            lat.sort_by(f64::total_cmp);
            println!(
                "| {format} | {b} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {load_ms:.0} |",
                refs.len() as f64 / secs,
                tokens as f64 / secs,
                percentile(&lat, 0.5),
                percentile(&lat, 0.95),
                percentile(&lat, 0.99),
            );
        }
        println!(
            "{format}: {tokens} tokens; RSS now {} MiB, peak {} MiB",
            rss_kib("VmRSS:") / 1024,
            rss_kib("VmHWM:") / 1024
        );
        drop(embedder);
    }
}
