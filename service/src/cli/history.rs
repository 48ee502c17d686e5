//! The history subcommands of the binary: `import`, `reindex`, `backup`,
//! `restore`. Argument parsing, progress bars and summaries live here; the work
//! is done by the library (`appeal_triage::import`, `appeal_triage::backup`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::FixedOffset;
use clap::{Args, Parser};
use indicatif::{ProgressBar, ProgressStyle};
use triage_models::Embedder;

use appeal_triage::backup;
use appeal_triage::config::ModelConfig;
use appeal_triage::datadir::DataDir;
use appeal_triage::import::{
    self, reindex, ColumnMap, Field, Format, ImportOptions, MappingOptions, ReaderLimits, RejectLog,
};
use appeal_triage::index::config::{open_index, Backend, IndexConfig};
use appeal_triage::memory::CaseMemory;
use appeal_triage::record::{Jurisdiction, Record, Tenant};

/// `import`: bring a CSV or JSON Lines export of past appeals into the case memory.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Tenant the appeals belong to (must exist unless `--create-tenant`).
    #[arg(long, env = "APPEAL_TRIAGE_TENANT")]
    tenant: String,
    /// The export to read (streamed; any size).
    file: PathBuf,
    /// Input format; default from the extension (.csv, .jsonl/.ndjson/.json).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Column (JSON key) of the source id, the idempotency key of a re-run.
    #[arg(long, default_value = "id")]
    id_col: String,
    /// Column of the appeal text.
    #[arg(long, default_value = "text")]
    text_col: String,
    /// Column of the date received (RFC 3339, `YYYY-MM-DD[THH:MM:SS[.f]]`, `YYYY-MM-DD`).
    #[arg(long, default_value = "created_at")]
    date_col: String,
    /// Column of the district ('' to skip).
    #[arg(long, default_value = "district")]
    district_col: String,
    /// Column of the municipality ('' to skip).
    #[arg(long, default_value = "municipality")]
    municipality_col: String,
    /// Column of the latitude ('' to skip).
    #[arg(long, default_value = "lat")]
    lat_col: String,
    /// Column of the longitude ('' to skip).
    #[arg(long, default_value = "lon")]
    lon_col: String,
    /// Column of the department that handled the appeal ('' to skip).
    #[arg(long, default_value = "department")]
    department_col: String,
    /// Column of our appeal status (`imported`, `decided`, …); unset: every row is `imported`.
    #[arg(long)]
    status_col: Option<String>,
    /// `alias,department` CSV: each alias spelling of a department in the
    /// export is imported as that department (cycles and an alias with two
    /// departments are refused before anything is stored).
    #[arg(long)]
    department_aliases: Option<PathBuf>,
    /// Columns of the portal's category, general to specific (at most 4,
    /// comma-separated, e.g. `category,reason`); unset: no category.
    #[arg(long, value_delimiter = ',')]
    category_cols: Vec<String>,
    /// Write every rejected row (row, line, id, code, reason) to this CSV file.
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// UTC offset of dates written without one, e.g. `+03:00` for Moscow time.
    #[arg(long, env = "APPEAL_TRIAGE_IMPORT_NAIVE_OFFSET", default_value = "+00:00", value_parser = parse_offset)]
    naive_offset: FixedOffset,
    /// Appeals committed and embedded together.
    #[arg(long, env = "APPEAL_TRIAGE_IMPORT_BATCH", default_value_t = 128)]
    batch_size: usize,
    /// Longest source record (CSV row, JSON line) in bytes; longer rows are rejected unread.
    #[arg(long, env = "APPEAL_TRIAGE_IMPORT_MAX_RECORD_BYTES", default_value_t = 1 << 20)]
    max_record_bytes: usize,
    /// Create the tenant (named after its id) if it does not exist.
    #[arg(long)]
    create_tenant: bool,
    /// Jurisdiction of a tenant created by `--create-tenant`: ru, ua or kz.
    #[arg(long, default_value = "ru")]
    jurisdiction: String,
    /// Skip building the HNSW search index at the end (search stays exact but slow).
    #[arg(long)]
    no_optimize: bool,
}

fn parse_offset(s: &str) -> Result<FixedOffset, String> {
    FixedOffset::from_str(s).map_err(|e| format!("{s:?} is not a UTC offset like +03:00: {e}"))
}

/// `reindex`: rebuild the vector index from the system of record.
#[derive(Debug, Args)]
pub struct ReindexArgs {
    /// Only re-embed this tenant's appeals into the existing index; without it the
    /// whole index is dropped and rebuilt (the cure for a corrupted index).
    #[arg(long)]
    tenant: Option<String>,
    /// Appeals embedded per batch.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
}

/// `backup`: a consistent copy of the record and the index with a manifest.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Directory to create (must not exist or be empty).
    dir: PathBuf,
}

/// `restore`: put a backup back into the data directory.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup directory.
    dir: PathBuf,
    /// Replace an existing record and index.
    #[arg(long)]
    force: bool,
}

/// A tokio runtime for one subcommand (the binary's `main` is synchronous).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// The index configuration, from `APPEAL_TRIAGE_INDEX` / `QDRANT_*` env vars.
// TODO(lead): take it from the top-level CLI once `IndexConfig` is flattened there.
fn index_config() -> IndexConfig {
    #[derive(Parser)]
    struct OnlyIndex {
        #[command(flatten)]
        index: IndexConfig,
    }
    OnlyIndex::parse_from(["appeal-triage"]).index
}

async fn load_embedder(cfg: &ModelConfig) -> anyhow::Result<Arc<Embedder>> {
    let dir = cfg.model_dir();
    let options = cfg.embedder_options();
    let e = tokio::task::spawn_blocking(move || Embedder::load(&dir, options))
        .await?
        .with_context(|| format!("loading the model from {}", cfg.model_dir().display()))?;
    Ok(Arc::new(e))
}

/// Data directory (locked), record, model and index, with the outbox replayed:
/// what every history command starts from.
async fn open_memory(cfg: &ModelConfig) -> anyhow::Result<(DataDir, CaseMemory)> {
    let data = DataDir::open(&cfg.data_dir)?;
    let record = Record::open(&data.record_url()).await?;
    let embedder = load_embedder(cfg).await?;
    let index = open_index(&index_config(), &data.index_dir(), embedder.dim()).await?;
    let memory = CaseMemory::new(record, index, embedder);
    let replayed = memory.drain_outbox().await?;
    if replayed > 0 {
        eprintln!("replayed {replayed} pending index writes from the outbox");
    }
    Ok((data, memory))
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb
}

/// Runs `import`.
pub async fn import(cfg: &ModelConfig, a: ImportArgs) -> anyhow::Result<()> {
    let mut columns = ColumnMap::default();
    for (field, name) in [
        (Field::Id, Some(a.id_col)),
        (Field::Text, Some(a.text_col)),
        (Field::Date, Some(a.date_col)),
        (Field::District, Some(a.district_col)),
        (Field::Municipality, Some(a.municipality_col)),
        (Field::Lat, Some(a.lat_col)),
        (Field::Lon, Some(a.lon_col)),
        (Field::Department, Some(a.department_col)),
        (Field::Status, a.status_col),
    ] {
        columns.set(field, name);
    }
    if a.category_cols.len() > Field::CATEGORY.len() {
        anyhow::bail!(
            "--category-cols names {} columns; at most {} levels are read",
            a.category_cols.len(),
            Field::CATEGORY.len()
        );
    }
    columns.set_category(&a.category_cols);
    let aliases = match &a.department_aliases {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("--department-aliases {}", p.display()))?;
            triage_domain::aliases::Aliases::parse(&text)
                .with_context(|| format!("--department-aliases {}", p.display()))?
        }
        None => Default::default(),
    };
    let limits = ReaderLimits {
        max_record_bytes: a.max_record_bytes,
        ..ReaderLimits::default()
    };
    // Fail on a bad file or header before loading the model.
    let (mut source, len) = import::open_source(&a.file, a.format, &columns, limits)
        .with_context(|| format!("importing {}", a.file.display()))?;
    for col in source.absent_columns() {
        eprintln!("note: column {col:?} is not in the file; its field stays empty");
    }
    let (_data, memory) = open_memory(cfg).await?;
    let record = memory.record();
    if record.tenant(&a.tenant).await?.is_none() {
        if !a.create_tenant {
            bail!(
                "unknown tenant {:?}: create it first, or pass --create-tenant [--jurisdiction ru|ua|kz]",
                a.tenant
            );
        }
        let jurisdiction = Jurisdiction::from_str(&a.jurisdiction).map_err(anyhow::Error::msg)?;
        record
            .upsert_tenant(&Tenant {
                id: a.tenant.clone(),
                name: a.tenant.clone(),
                jurisdiction,
                alpha: 0.1,
                auto_threshold: 0.9,
            })
            .await?;
    }
    let opts = ImportOptions {
        mapping: MappingOptions {
            tenant: a.tenant.clone(),
            max_text_bytes: cfg.max_text_bytes,
            naive_offset: a.naive_offset,
            aliases,
        },
        batch_size: a.batch_size.clamp(1, cfg.max_batch_texts),
        actor: "import".into(),
    };
    let mut rejects = RejectLog::new(a.rejects.as_deref())
        .with_context(|| format!("creating the rejects file {:?}", a.rejects))?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ninterrupted: finishing the current batch (Ctrl-C again to abort)");
                stop.store(true, Ordering::Relaxed);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }
    let pb = bar(
        len,
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ETA {eta} {msg}",
    );
    let stats = import::run(
        &memory,
        source.as_mut(),
        &opts,
        &mut rejects,
        &stop,
        &mut |s, bytes| {
            pb.set_position(bytes);
            pb.set_message(format!(
                "{} imported, {} skipped, {} rejected, {:.0}/s",
                s.imported,
                s.skipped(),
                s.rejected,
                s.rate()
            ));
        },
    )
    .await?;
    pb.finish_and_clear();
    let index = memory.index();
    if stats.imported > 0 && !a.no_optimize {
        let spin = ProgressBar::new_spinner();
        spin.set_message("building the search index (HNSW)");
        spin.enable_steady_tick(Duration::from_millis(200));
        index.optimize().await?;
        spin.finish_and_clear();
    }
    index.flush().await?;
    let mut err = std::io::stderr().lock();
    rejects.write_summary(&mut err)?;
    writeln!(err, "{stats}")?;
    if stop.load(Ordering::Relaxed) {
        writeln!(err, "stopped early: run the same command again to resume")?;
    }
    println!(
        "{}",
        serde_json::json!({
            "read": stats.read,
            "imported": stats.imported,
            "already_present": stats.already_present,
            "duplicates": stats.duplicates,
            "rejected": stats.rejected,
            "rejected_by_reason": rejects.by_code(),
            "seconds": stats.elapsed.as_secs_f64(),
            "appeals_per_second": stats.rate(),
            "complete": !stop.load(Ordering::Relaxed),
        })
    );
    Ok(())
}

/// Runs `reindex`.
pub async fn reindex(cfg: &ModelConfig, a: ReindexArgs) -> anyhow::Result<()> {
    let index_cfg = index_config();
    let data = DataDir::open(&cfg.data_dir)?;
    let record = Record::open(&data.record_url()).await?;
    let embedder = load_embedder(cfg).await?;
    let dir = data.index_dir();
    // A full rebuild starts from an empty index: the old directory (perhaps
    // unreadable) is set aside and removed only once the new one is complete.
    let aside = dir.with_extension("old");
    if a.tenant.is_none() && index_cfg.backend == Backend::Embedded && dir.exists() {
        if aside.exists() {
            std::fs::remove_dir_all(&aside)?;
        }
        std::fs::rename(&dir, &aside).with_context(|| format!("moving {} aside", dir.display()))?;
    }
    let index = open_index(&index_cfg, &dir, embedder.dim()).await?;
    let memory = CaseMemory::new(record, index, embedder);
    let total = match &a.tenant {
        Some(t) => memory.record().count_appeals(t).await?,
        None => memory.record().count_all_appeals().await?,
    };
    let pb = bar(
        total.max(0) as u64,
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} ETA {eta}",
    );
    let stats = reindex::reindex(&memory, a.tenant.as_deref(), a.batch_size, &mut |n| {
        pb.set_position(n)
    })
    .await?;
    pb.finish_and_clear();
    if stats.indexed > 0 {
        memory.index().optimize().await?;
        memory.index().flush().await?;
    }
    if aside.exists() {
        std::fs::remove_dir_all(&aside)?;
    }
    let counts = reindex::compare_counts(&memory).await?;
    eprintln!(
        "reindexed {} appeals in {:.1} s ({:.1}/s)",
        stats.indexed,
        stats.elapsed.as_secs_f64(),
        stats.indexed as f64 / stats.elapsed.as_secs_f64().max(1e-9)
    );
    let mut mismatched = false;
    for (tenant, appeals, points) in &counts {
        if *appeals as u64 != *points {
            mismatched = true;
            eprintln!("tenant {tenant}: {appeals} appeals in the record, {points} in the index");
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "indexed": stats.indexed,
            "seconds": stats.elapsed.as_secs_f64(),
            "tenants": counts.iter().map(|(t, a, p)| serde_json::json!({"tenant": t, "appeals": a, "points": p})).collect::<Vec<_>>(),
        })
    );
    if mismatched {
        bail!("the index does not match the record; run `appeal-triage reindex` without --tenant");
    }
    Ok(())
}

fn require_embedded() -> anyhow::Result<()> {
    if index_config().backend != Backend::Embedded {
        bail!(
            "backup/restore cover the embedded configuration (SQLite + in-process index); \
             with a Qdrant server, back up PostgreSQL/the record and use Qdrant snapshots, \
             or rebuild the index with `reindex`"
        );
    }
    Ok(())
}

/// Runs `backup`.
pub async fn backup(cfg: &ModelConfig, a: BackupArgs) -> anyhow::Result<()> {
    require_embedded()?;
    let data = DataDir::open(&cfg.data_dir)?;
    let embedder = load_embedder(cfg).await?;
    let manifest = backup::backup(&data, &a.dir, &embedder).await?;
    eprintln!(
        "backed up {} appeals and {} index points ({} files) to {}",
        manifest.total_appeals(),
        manifest.total_points(),
        manifest.files.len(),
        a.dir.display()
    );
    println!("{}", serde_json::to_string(&manifest)?);
    Ok(())
}

/// Runs `restore`.
pub async fn restore(cfg: &ModelConfig, a: RestoreArgs) -> anyhow::Result<()> {
    require_embedded()?;
    let data = DataDir::open(&cfg.data_dir)?;
    let model = model_fingerprint(&cfg.model_dir());
    let manifest = backup::restore(&data, &a.dir, a.force).await?;
    if let Some(fp) = model {
        if fp != manifest.model_fingerprint {
            eprintln!(
                "warning: the backup's vectors were made by model {} but {} is installed; \
                 run `appeal-triage reindex` before serving",
                &manifest.model_fingerprint[..12.min(manifest.model_fingerprint.len())],
                &fp[..12.min(fp.len())]
            );
        }
    }
    eprintln!(
        "restored {} appeals and {} index points into {} (checksums and counts verified)",
        manifest.total_appeals(),
        manifest.total_points(),
        cfg.data_dir.display()
    );
    Ok(())
}

/// The installed model's fingerprint, if a model is installed.
fn model_fingerprint(dir: &Path) -> Option<String> {
    backup::model_fingerprint(dir).ok()
}
