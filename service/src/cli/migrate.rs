//! `appeal-triage migrate`: flags, progress lines and the summary; the copy
//! itself is `appeal_triage::migrate::migrate_tenant`.

use anyhow::{bail, Context};
use clap::Args;

use appeal_triage::config::ModelConfig;
use appeal_triage::datadir::DataDir;
use appeal_triage::index::{open_index, Backend, EmbeddedIndex, IndexConfig, VectorIndex};
use appeal_triage::migrate::{migrate_tenant, Progress};

/// Flags of `migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Tenant whose points are copied.
    #[arg(long)]
    tenant: String,
    /// Destination backend; only `server` (from the embedded index) is supported.
    #[arg(long, value_enum, default_value_t = Backend::Server)]
    to: Backend,
    /// Points per batch (one scroll page, one upsert).
    #[arg(long, env = "APPEAL_TRIAGE_MIGRATE_BATCH", default_value_t = 256)]
    batch: usize,
    /// The destination server (QDRANT_URL etc.).
    #[command(flatten)]
    index: IndexConfig,
}

/// Copies the tenant from `<data-dir>/index` into the configured server collection.
pub fn run(cfg: &ModelConfig, args: MigrateArgs) -> anyhow::Result<()> {
    if args.to != Backend::Server {
        bail!(
            "`migrate --to {:?}`: only `--to server` is supported",
            args.to
        );
    }
    let data = DataDir::open(&cfg.data_dir)?;
    let source = EmbeddedIndex::open_existing(&data.index_dir())?;
    let dim = source.dim();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let target_cfg = IndexConfig {
            backend: Backend::Server,
            ..args.index.clone()
        };
        let target = open_index(&target_cfg, &data.index_dir(), dim)
            .await
            .context("opening the destination Qdrant server")?;
        let source: &dyn VectorIndex = &source;
        eprintln!(
            "migrate: tenant `{}` from {} to {}",
            args.tenant,
            data.index_dir().display(),
            target.snapshot().await?.location
        );
        let report = migrate_tenant(
            source,
            target.as_ref(),
            &args.tenant,
            args.batch,
            |p: Progress| {
                let pct = (p.copied * 100).checked_div(p.total).unwrap_or(100);
                eprintln!("migrate: {}/{} points ({pct}%)", p.copied, p.total);
            },
        )
        .await?;
        println!(
            "{}",
            serde_json::json!({
                "tenant": args.tenant,
                "copied": report.copied,
                "batches": report.batches,
                "target_count": report.target_count,
                "verified": true,
            })
        );
        Ok(())
    })
}
