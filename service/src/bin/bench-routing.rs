//! Latency of one routing decision, embedding excluded, over a large case memory.
//!
//! ```text
//! bench-case-memory search --points 1000000            # builds target/bench-case-memory-1000000
//! bench-routing --dir target/bench-case-memory-1000000 [--queries 500] [--model-dir DIR] [--uniform]
//! ```
//! Opens the synthetic index (20 tenants, 18 districts, 60 departments,
//! clustered 384-d vectors) with a fresh record, refits one tenant's head and
//! calibration (timed), then routes new appeal vectors of that tenant (near
//! the stored topics; `--uniform`: uniform noise)
//! through `Engine::route_vector` — neighbours, same-district neighbours,
//! duplicate window, evidence from the record, head, calibration, urgency and
//! deadlines — and prints p50/p95/p99 and RSS. Build with `--release`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use appeal_triage::engine::{Engine, RoutingConfig};
use appeal_triage::index::{EmbeddedIndex, VectorIndex};
use appeal_triage::memory::CaseMemory;
use appeal_triage::record::{Jurisdiction, Place, Record, Tenant};
use triage_domain::RouteInput;
use triage_models::{Embedder, EmbedderOptions};

#[path = "common/bench_support.rs"]
mod bench_support;
use bench_support::{arg, percentile, rss_mb};
#[path = "common/bench_synthetic.rs"]
mod bench_synthetic;
use bench_synthetic::{centres, perturbed, Rng, SEED};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(arg(&args, "--dir").context("--dir INDEX_DIR is required")?);
    let queries: usize = arg(&args, "--queries").unwrap_or("500".into()).parse()?;
    let model_dir = PathBuf::from(
        arg(&args, "--model-dir").unwrap_or("data/models/multilingual-e5-small".into()),
    );
    let t = Instant::now();
    let index: Arc<dyn VectorIndex> = Arc::new(EmbeddedIndex::open_existing(&dir)?);
    let snapshot = index.snapshot().await?;
    let open = t.elapsed();
    let scratch = PathBuf::from("target/bench-routing-record");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    std::fs::create_dir_all(&scratch)?;
    let record = Record::open(&format!("sqlite:{}/record.db", scratch.display())).await?;
    for i in 0..20 {
        record
            .upsert_tenant(&Tenant {
                id: format!("t{i:02}"),
                name: format!("tenant {i}"),
                jurisdiction: Jurisdiction::Ru,
                alpha: 0.1,
                auto_threshold: 0.9,
            })
            .await?;
    }
    let embedder = Embedder::load(&model_dir, EmbedderOptions::default())?;
    let memory = Arc::new(CaseMemory::new(record, index, Arc::new(embedder)));
    let engine = Arc::new(Engine::with_memory(memory, RoutingConfig::default(), None));
    let tenant = engine
        .memory()
        .record()
        .tenant("t00")
        .await?
        .context("tenant")?;
    let t = Instant::now();
    let model = engine
        .refit("t00")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let refit = t.elapsed();
    // New appeals look like the stored ones: drawn near the same topic
    // centres as `bench-case-memory search` stored (same centre seed, another
    // draw seed). `--uniform` draws uniform noise instead, which is near no
    // topic and makes the graph walks longest (the figure before session 5).
    let uniform = args.iter().any(|a| a == "--uniform");
    let centres = centres(&mut Rng(SEED), 384);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut times = Vec::with_capacity(queries);
    for q in 0..queries + 20 {
        let v = if uniform {
            let mut v: Vec<f32> = (0..384).map(|_| rng.unit()).collect();
            triage_models::l2_normalize(&mut v);
            v
        } else {
            perturbed(&mut rng, &centres)
        };
        let input = RouteInput {
            tenant: "t00".into(),
            text: "На дороге яма, прошу отремонтировать".into(),
            place: Place {
                district: Some(format!("district-{}", q % 18)),
                // Hashed into the lexical model's crossings like a real one.
                municipality: Some(format!("municipality-{}", q % 107)),
                ..Place::default()
            },
            received_at: 1_640_000_000_000,
            channel: None,
            applicant_category: None,
            category: Vec::new(),
        };
        let t = Instant::now();
        let d = engine
            .route_vector(&tenant, &input, &v, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if q >= 20 {
            times.push(t.elapsed());
        }
        assert!(d.department.is_some());
    }
    times.sort();
    println!(
        "routing bench: {} points in the index, tenant t00 ({} confirmed cases fitted), {queries} decisions",
        snapshot.points, model.fitted_on
    );
    println!("| step | value |");
    println!("|---|---|");
    println!("| open index | {:.2} s |", open.as_secs_f64());
    println!(
        "| refit head + calibration (t00) | {:.1} s |",
        refit.as_secs_f64()
    );
    println!(
        "| decision p50 (embedding excluded) | {:.2} ms |",
        percentile(&times, 0.5)
    );
    println!("| decision p95 | {:.2} ms |", percentile(&times, 0.95));
    println!("| decision p99 | {:.2} ms |", percentile(&times, 0.99));
    println!("| RSS | {:.0} MiB |", rss_mb());
    Ok(())
}
