//! `appeal-triage demo`: the service on the real model with a demo tenant whose
//! history is imported from the shared St Petersburg export (or the bundled
//! synthetic sample), a few fresh appeals waiting in the review queue, new API
//! keys, and the HTTP service on the same path as `serve`.
//!
//! The steps: open the engine (locks the data directory), bind the address
//! (fails fast on a taken port), create/update the tenant, import the history
//! (resumable: a restart skips what is stored), add the departments the data
//! names, refit the routing model, submit the fresh appeals, create keys,
//! report ([`DemoInfo`]) and serve until the shutdown signal.
//! `demo --embeddings` keeps the original first look at the model
//! ([`embeddings`]).

pub mod embeddings;
mod fresh;
pub mod history;
mod info;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Args;

use crate::config::ModelConfig;
use crate::engine::{Engine, EngineError};
use crate::import::ImportError;
use crate::index::IndexError;
use crate::record::{now_ms, Jurisdiction, KeyRole, RecordError, Tenant};
use crate::serve::{self, ServeArgs, ServeError};

pub use fresh::FRESH;
pub use history::HistorySource;
pub use info::{base_url, example_body, DemoInfo};

/// Flags of `appeal-triage demo` (each with an `APPEAL_TRIAGE_*` env twin),
/// plus every flag of `serve`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Only embed a few appeals in four languages and print how they relate
    /// (no data directory, no service).
    #[arg(long)]
    pub embeddings: bool,
    /// Tenant the demo creates or updates (jurisdiction ru, alpha 0.1, auto threshold 0.9).
    #[arg(long, env = "APPEAL_TRIAGE_DEMO_TENANT", default_value = "demo")]
    pub tenant: String,
    /// History to import (CSV or JSON Lines with the shared export's columns).
    /// Default: ../shared/data/spb-appeals-dev.csv if it exists, else the
    /// bundled synthetic sample (fixtures/demo/sample.csv).
    #[arg(long, env = "APPEAL_TRIAGE_DEMO_HISTORY")]
    pub history: Option<PathBuf>,
    /// Import only the first N rows of the history (default: all). The import
    /// is resumable: a later start with a larger N (or none) adds the rest.
    #[arg(long, env = "APPEAL_TRIAGE_DEMO_HISTORY_LIMIT")]
    pub history_limit: Option<u64>,
    /// Fresh appeals submitted at each start so the review queue has work (at most 8).
    #[arg(long, env = "APPEAL_TRIAGE_DEMO_APPEALS", default_value_t = 5)]
    pub appeals: usize,
    /// Serving flags, as for `serve`.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Errors of the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Opening the engine or serving failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// The engine failed (refit, submission).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The system of record failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The vector index failed (building or flushing after the import).
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The history could not be imported.
    #[error("history {0}: {1}")]
    History(String, ImportError),
    /// A file could not be written or read.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// A bad argument.
    #[error("{0}")]
    Invalid(String),
}

/// How the demo ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoOutcome {
    /// It served until the shutdown signal.
    Served,
    /// The signal came during the import: stopped between batches, nothing
    /// served; the next start resumes the import.
    InterruptedImport,
}

/// Runs the demo until `shutdown` resolves: prepares the tenant, calls
/// `on_ready` with the addresses and keys once the service is about to accept
/// requests, and serves. Progress goes to stderr (bars only on a terminal).
pub async fn run(
    model: &ModelConfig,
    args: DemoArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(&DemoInfo) + Send,
) -> Result<DemoOutcome, DemoError> {
    if args.appeals > FRESH.len() {
        return Err(DemoError::Invalid(format!(
            "--appeals {}: the demo has {} fresh appeals",
            args.appeals,
            FRESH.len()
        )));
    }
    let source = history::locate(args.history.as_deref(), &model.data_dir)?;
    history::check(&source)?;
    // The signal stops the import between batches, or the service.
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            stop.store(true, Ordering::Relaxed);
            let _ = tx.send(true);
        });
    }

    eprintln!("opening the engine on {} ...", model.data_dir.display());
    let engine = Engine::open(&args.serve.engine_config(model))
        .await
        .map_err(ServeError::from)?;
    let listener = serve::bind(args.serve.http.listen).await?;
    let addr = listener
        .local_addr()
        .map_err(|e| DemoError::Invalid(format!("bound address: {e}")))?;
    let record = engine.memory().record().clone();
    let tenant = args.tenant.clone();
    record
        .upsert_tenant(&Tenant {
            id: tenant.clone(),
            name: "Demo: St Petersburg city portal".into(),
            jurisdiction: Jurisdiction::Ru,
            alpha: 0.1,
            auto_threshold: 0.9,
        })
        .await?;

    eprintln!("importing history from {} ...", source.label);
    let imported = history::import(
        &engine,
        &tenant,
        &source,
        args.history_limit,
        model.max_text_bytes,
        &stop,
    )
    .await?;
    let stats = &imported.stats;
    if stop.load(Ordering::Relaxed) {
        eprintln!(
            "interrupted during the import ({} imported): start the demo again to resume",
            stats.imported
        );
        record.close().await;
        return Ok(DemoOutcome::InterruptedImport);
    }
    let mut summary = vec![format!(
        "history: {} ({} rows read: {} imported now, {} already there, {} duplicates, {} rejected{}) in {:.1} s",
        source.label,
        stats.read,
        stats.imported,
        stats.already_present,
        stats.duplicates,
        stats.rejected,
        if imported.rejected_by_reason.is_empty() {
            String::new()
        } else {
            format!(" {:?}", imported.rejected_by_reason)
        },
        stats.elapsed.as_secs_f64(),
    )];
    let (in_data, added) = history::sync_departments(&record, &tenant).await?;
    summary.push(format!(
        "departments: {in_data} named in the history ({added} added to the catalogue)"
    ));

    if stats.imported > 0 {
        engine.invalidate(&tenant);
    }
    let current = engine.state(&tenant).await?.model();
    let model_line = if stats.imported > 0 || current.version == 0 {
        eprintln!("refitting the routing model ...");
        let t = std::time::Instant::now();
        let m = engine.refit(&tenant).await?;
        format!(
            "routing model: v{} fitted on {} confirmed cases in {:.1} s",
            m.version,
            m.fitted_on,
            t.elapsed().as_secs_f64()
        )
    } else {
        format!(
            "routing model: v{} (fitted on {} cases; nothing new to learn)",
            current.version, current.fitted_on
        )
    };
    summary.push(model_line);

    let prefix = format!("demo-fresh-{}", now_ms());
    let results = engine
        .submit_batch(&tenant, fresh::appeals(args.appeals, &prefix), "demo")
        .await?;
    for r in results {
        let s = r?;
        summary.push(format!(
            "appeal {} {}: {} ({:.2})",
            s.appeal_id,
            s.status.as_str(),
            s.decision.department.as_deref().unwrap_or("no department"),
            s.decision.confidence
        ));
    }

    let label = format!("demo start {prefix}");
    let mut keys = Vec::new();
    for role in [KeyRole::Admin, KeyRole::Supervisor, KeyRole::Portal] {
        keys.push(
            record
                .create_api_key(&tenant, role, Some(&label), "demo")
                .await?
                .1,
        );
    }
    let [admin_key, supervisor_key, portal_key] =
        <[String; 3]>::try_from(keys).expect("three keys created");
    let info = DemoInfo {
        base_url: base_url(addr),
        tenant,
        admin_key,
        supervisor_key,
        portal_key,
        submit_body: example_body(),
        summary,
    };
    on_ready(&info);
    let stopped = async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    serve::serve_engine(engine, model, args.serve.http, listener, stopped).await?;
    Ok(DemoOutcome::Served)
}
