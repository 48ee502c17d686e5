//! Case-memory benchmarks; prints tables (numbers go to docs/benchmarks.md).
//!
//! ```text
//! bench-case-memory import --csv FILE [--model-dir DIR] [--sample N]
//!     end-to-end import (embed + record + index) vs the embedder alone
//! bench-case-memory search --points N [--dir DIR] [--queries Q] [--tenants T] [--reuse]
//!     synthetic cases (20 tenants unless --tenants, 18 districts, 3 statuses): upsert, optimize,
//!     filtered top-20 latency, RSS, reopen time (`--reuse`: query the index
//!     built before by the same command, without rebuilding)
//! ```
//! Build with `--release`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use appeal_triage::datadir::DataDir;
use appeal_triage::import::{
    self, ColumnMap, ImportOptions, MappingOptions, ReaderLimits, RejectLog,
};
use appeal_triage::index::{CaseFilter, CasePayload, CasePoint, EmbeddedIndex, VectorIndex};
use appeal_triage::memory::CaseMemory;
use appeal_triage::record::{Jurisdiction, Record, Tenant};
use chrono::FixedOffset;
use triage_models::{Embedder, EmbedderOptions, Role};

const DIM: usize = 384;
/// Tenants the synthetic cases are spread over unless `--tenants` says otherwise.
const TENANTS: usize = 20;
const DISTRICTS: usize = 18;
const STATUSES: [&str; 3] = ["imported", "decided", "needs_review"];

#[path = "common/bench_support.rs"]
mod bench_support;
use bench_support::{arg, percentile, rss_mb};

#[path = "common/bench_synthetic.rs"]
mod bench_synthetic;
use bench_synthetic::{centres, perturbed, Rng, SEED};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.get(1).map(String::as_str) {
        Some("search") => rt.block_on(search(&args)),
        Some("import") => rt.block_on(import_bench(&args)),
        _ => anyhow::bail!("usage: bench-case-memory search --points N | import --csv FILE"),
    }
}

async fn search(args: &[String]) -> anyhow::Result<()> {
    let n: usize = arg(args, "--points").unwrap_or("100000".into()).parse()?;
    let queries: usize = arg(args, "--queries").unwrap_or("300".into()).parse()?;
    let tenants: usize = arg(args, "--tenants").map_or(Ok(TENANTS), |t| t.parse())?;
    let dir = PathBuf::from(arg(args, "--dir").unwrap_or(format!("target/bench-case-memory-{n}")));
    // `--reuse`: query an index this command built before (same points, same
    // queries: the random stream is replayed without writing).
    let reuse = args.iter().any(|a| a == "--reuse") && dir.join("edge_config.json").is_file();
    if dir.exists() && !reuse {
        std::fs::remove_dir_all(&dir)?;
    }
    let mut rng = Rng(SEED);
    let centres = centres(&mut rng, DIM);
    let index = EmbeddedIndex::open(&dir, DIM)?;
    let t = Instant::now();
    let mut id = 0u64;
    while (id as usize) < n {
        let batch: Vec<CasePoint> = (0..1000.min(n - id as usize))
            .map(|_| {
                id += 1;
                let r = rng.next();
                CasePoint {
                    id,
                    vector: perturbed(&mut rng, &centres),
                    payload: CasePayload {
                        tenant: format!("t{:02}", r as usize % tenants),
                        department: Some(format!("dept-{}", (r >> 8) as usize % 60)),
                        district: Some(format!("district-{}", (r >> 16) as usize % DISTRICTS)),
                        status: STATUSES[match (r >> 24) % 10 {
                            0..=6 => 0,
                            7 | 8 => 1,
                            _ => 2,
                        }]
                        .to_string(),
                        received_at: 1_600_000_000_000 + (r >> 32) as i64 % 40_000_000_000,
                        model: "bench".into(),
                    },
                }
            })
            .collect();
        if !reuse {
            index.upsert(batch).await?;
        }
    }
    index.flush().await?;
    let upsert = t.elapsed();
    let t = Instant::now();
    if !reuse {
        index.optimize().await?;
        index.flush().await?;
    }
    let optimize = t.elapsed();
    let rss_built = rss_mb();

    let qs: Vec<Vec<f32>> = (0..queries)
        .map(|_| perturbed(&mut rng, &centres))
        .collect();
    let status_filter = |i: usize| CaseFilter {
        statuses: vec!["imported".into(), "decided".into()],
        ..CaseFilter::tenant(format!("t{:02}", i % tenants))
    };
    let district_filter = |i: usize| CaseFilter {
        district: Some(format!("district-{}", i % DISTRICTS)),
        ..CaseFilter::tenant(format!("t{:02}", i % tenants))
    };
    let mut rows = Vec::new();
    for (name, filter) in [
        (
            "tenant + status",
            &status_filter as &dyn Fn(usize) -> CaseFilter,
        ),
        ("tenant + district", &district_filter),
    ] {
        let mut lat = Vec::with_capacity(queries);
        let mut hits = 0;
        for (i, q) in qs.iter().enumerate() {
            let t = Instant::now();
            hits += index.search(q.clone(), filter(i), 20).await?.len();
            lat.push(t.elapsed());
        }
        lat.sort();
        rows.push((
            name,
            percentile(&lat, 0.5),
            percentile(&lat, 0.95),
            hits as f64 / queries as f64,
        ));
    }
    drop(index);

    let t = Instant::now();
    let reopened = EmbeddedIndex::open(&dir, DIM)?;
    let reopen = t.elapsed();
    let t = Instant::now();
    let first = reopened.search(qs[0].clone(), status_filter(0), 20).await?;
    let first_query = t.elapsed();
    let disk = dir_size(&dir);

    println!("case memory search bench: {n} points x {DIM}, {tenants} tenants, {DISTRICTS} districts, top-20, {queries} queries per filter");
    println!("| step | value |");
    println!("|---|---|");
    if reuse {
        println!(
            "| upsert, optimize | reused the index in {} |",
            dir.display()
        );
    } else {
        println!(
            "| upsert (batches of 1000) | {:.1} s ({:.0} points/s) |",
            upsert.as_secs_f64(),
            n as f64 / upsert.as_secs_f64()
        );
        println!("| optimize (HNSW) | {:.1} s |", optimize.as_secs_f64());
    }
    for (name, p50, p95, hits) in &rows {
        println!("| search {name}: p50 / p95 | {p50:.2} ms / {p95:.2} ms (mean hits {hits:.1}) |");
    }
    println!("| RSS after build + queries | {rss_built:.0} MB |");
    println!(
        "| reopen (EmbeddedIndex::open) | {:.2} s |",
        reopen.as_secs_f64()
    );
    println!(
        "| first query after reopen | {:.1} ms ({} hits) |",
        first_query.as_secs_f64() * 1000.0,
        first.len()
    );
    println!("| RSS after reopen (same process) | {:.0} MB |", rss_mb());
    println!("| on disk | {:.0} MB |", disk as f64 / 1e6);
    Ok(())
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => dir_size(&e.path()),
                    _ => e.metadata().map(|m| m.len()).unwrap_or(0),
                })
                .sum()
        })
        .unwrap_or(0)
}

async fn import_bench(args: &[String]) -> anyhow::Result<()> {
    let csv = PathBuf::from(arg(args, "--csv").context("--csv FILE")?);
    let model_dir = PathBuf::from(
        arg(args, "--model-dir").unwrap_or("data/models/multilingual-e5-small".into()),
    );
    let sample: usize = arg(args, "--sample").unwrap_or("3000".into()).parse()?;
    let batch: usize = arg(args, "--batch").unwrap_or("128".into()).parse()?;
    let embedder = Arc::new(Embedder::load(&model_dir, EmbedderOptions::default())?);

    // The embedder alone, on the first `sample` texts, in import-sized batches.
    let mut texts = Vec::new();
    let mut rdr = csv::Reader::from_path(&csv)?;
    let text_col = rdr
        .headers()?
        .iter()
        .position(|h| h == "text")
        .context("text column")?;
    for rec in rdr.records() {
        let rec = rec?;
        texts.push(import::prepare_text(rec.get(text_col).unwrap_or("")));
        if texts.len() == sample {
            break;
        }
    }
    let t = Instant::now();
    for chunk in texts.chunks(batch) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        embedder.embed(&refs, Role::Query)?;
    }
    let embed_rate = texts.len() as f64 / t.elapsed().as_secs_f64();

    // End to end, the whole file, as `appeal-triage import` runs it.
    let dir = tempfile_dir()?;
    let data = DataDir::open(&dir)?;
    let record = Record::open(&data.record_url()).await?;
    record
        .upsert_tenant(&Tenant {
            id: "spb".into(),
            name: "spb".into(),
            jurisdiction: Jurisdiction::Ru,
            alpha: 0.1,
            auto_threshold: 0.9,
        })
        .await?;
    let index: Arc<dyn VectorIndex> =
        Arc::new(EmbeddedIndex::open(&data.index_dir(), embedder.dim())?);
    let memory = CaseMemory::new(record, index.clone(), embedder.clone());
    let (mut source, _) =
        import::open_source(&csv, None, &ColumnMap::default(), ReaderLimits::default())?;
    let opts = ImportOptions {
        mapping: MappingOptions {
            tenant: "spb".into(),
            max_text_bytes: 65_536,
            naive_offset: FixedOffset::east_opt(3 * 3600).expect("offset"),
            aliases: Default::default(),
        },
        batch_size: batch,
        actor: "bench".into(),
    };
    let mut rejects = RejectLog::new(None)?;
    let stats = import::run(
        &memory,
        source.as_mut(),
        &opts,
        &mut rejects,
        &AtomicBool::new(false),
        &mut |_, _| {},
    )
    .await?;
    let t = Instant::now();
    index.optimize().await?;
    index.flush().await?;
    let optimize = t.elapsed();
    println!(
        "case memory import bench: {} ({} rows), batch {batch}",
        csv.display(),
        stats.read
    );
    println!("| step | value |");
    println!("|---|---|");
    println!(
        "| embedder alone, first {} texts | {embed_rate:.1} texts/s |",
        texts.len()
    );
    println!("| import end to end (read + mask + record + embed + index) | {:.1} appeals/s ({} imported, {} duplicates, {} rejected, {:.0} s) |", stats.rate(), stats.imported, stats.duplicates, stats.rejected, stats.elapsed.as_secs_f64());
    println!(
        "| import / embedder | {:.0}% |",
        100.0 * stats.rate() / embed_rate
    );
    println!(
        "| optimize after import | {:.1} s |",
        optimize.as_secs_f64()
    );
    println!("| RSS | {:.0} MB |", rss_mb());
    drop(memory);
    drop(index);
    drop(data);
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("bench-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
