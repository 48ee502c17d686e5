//! The embedder alone, for `--compare-embedder`: the same model the service
//! runs, in this process, on the same texts, in batches of 32 (the service's
//! batch size), using both cores, before any load is sent. Its texts per
//! second are the ceiling the service's saturation is compared with.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use triage_models::{Embedder, EmbedderOptions, Role};

/// Texts per model call, as the service's batcher sends them.
pub const BATCH: usize = 32;

/// Texts per second of the embedder alone over `texts` (at least one batch,
/// then until `min_time` has passed or the texts run out).
pub fn throughput(model_dir: &Path, texts: &[String], min_time: Duration) -> anyhow::Result<f64> {
    let embedder = Embedder::load(model_dir, EmbedderOptions::default())
        .with_context(|| format!("loading the model from {}", model_dir.display()))?;
    // One warm-up batch (allocations, caches), not counted.
    let warm: Vec<&str> = texts.iter().take(BATCH).map(String::as_str).collect();
    embedder.embed(&warm, Role::Query)?;
    let started = Instant::now();
    let mut done = 0usize;
    for chunk in texts[warm.len().min(texts.len())..].chunks(BATCH) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        embedder.embed(&refs, Role::Query)?;
        done += refs.len();
        if started.elapsed() >= min_time {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(done > 0, "no texts left to measure the embedder on");
    Ok(done as f64 / secs)
}
