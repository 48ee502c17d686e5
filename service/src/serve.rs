//! The `serve` subcommand: open the engine, run the HTTP service, drain and
//! close on SIGTERM / Ctrl-C. (Onboarding from the command line is in
//! [`crate::onboard`].)

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::net::TcpListener;

use crate::config::ModelConfig;
use crate::datadir::DataDir;
use crate::engine::{Engine, EngineConfig, EngineError, RoutingConfig};
use crate::http::{self, AppState, HttpConfig};
use crate::index::IndexConfig;
use crate::memory::batcher::Batcher;
use crate::record::{Record, RecordError};

/// Errors of the serving subcommands.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The engine could not open (data dir, model, record, index).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The record failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The data directory is locked or unusable.
    #[error(transparent)]
    DataDir(#[from] crate::datadir::DataDirError),
    /// Listening or serving failed.
    #[error("serving on {addr}: {source}")]
    Io {
        /// The address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// A bad argument.
    #[error("{0}")]
    Invalid(String),
    /// The embedding batcher could not start.
    #[error(transparent)]
    Batcher(#[from] crate::memory::batcher::BatchError),
}

/// Flags of `appeal-triage serve` (each with an `APPEAL_TRIAGE_*` env twin).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// System of record: `postgres://...`; default SQLite in the data directory.
    #[arg(long, env = "APPEAL_TRIAGE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Vector index.
    #[command(flatten)]
    pub index: IndexConfig,
    /// Routing behaviour.
    #[command(flatten)]
    pub routing: RoutingConfig,
    /// Listening, limits, batching.
    #[command(flatten)]
    pub http: HttpConfig,
}

impl ServeArgs {
    /// The engine configuration these flags describe.
    pub fn engine_config(&self, model: &ModelConfig) -> EngineConfig {
        EngineConfig {
            model: model.clone(),
            index: self.index.clone(),
            database_url: self.database_url.clone(),
            routing: self.routing.clone(),
        }
    }
}

/// Opens the engine, starts the batcher and serves until SIGTERM / Ctrl-C,
/// then drains in-flight requests.
pub async fn serve(model: &ModelConfig, args: ServeArgs) -> Result<(), ServeError> {
    let engine = Engine::open(&args.engine_config(model)).await?;
    let listener = bind(args.http.listen).await?;
    serve_engine(engine, model, args.http, listener, http::shutdown_signal()).await
}

/// Binds the service's address. Separate from [`serve_engine`] so a caller
/// with long preparation (the demo) fails fast on a taken port.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Io {
            addr: addr.to_string(),
            source,
        })
}

/// Serves an opened engine on `listener` until `shutdown` resolves, then drains
/// in-flight requests and closes the record: the one serving path of `serve`
/// and `demo`. Starts the embedding batcher and routes the engine's model
/// calls through it.
pub async fn serve_engine(
    engine: Arc<Engine>,
    model: &ModelConfig,
    config: HttpConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let batcher = Batcher::start(engine.memory().embedder().clone(), config.batcher())?;
    engine.memory().use_batcher(batcher.clone());
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let addr = listener
        .local_addr()
        .map_or_else(|_| config.listen.to_string(), |a| a.to_string());
    let io = |source| ServeError::Io {
        addr: addr.clone(),
        source,
    };
    let spool = model.data_dir.join("spool");
    let state =
        AppState::new(engine.clone(), config, Some(batcher), spool).map_err(ServeError::Invalid)?;
    tracing::info!(addr = %addr, "serving");
    let confirmer = tokio::spawn(confirm_unreturned(engine.clone()));
    let served = http::serve(listener, http::app(state), shutdown, grace).await;
    confirmer.abort();
    served.map_err(io)?;
    engine.memory().record().close().await;
    Ok(())
}

/// How often `serve` looks for auto-routed appeals to confirm by silence.
const CONFIRM_EVERY: Duration = Duration::from_secs(600);

/// Confirms, every [`CONFIRM_EVERY`], each active tenant's auto-routed
/// appeals no department sent back within the configured days
/// ([`Engine::confirm_unreturned`]); a failure is logged and tried again next
/// time.
async fn confirm_unreturned(engine: Arc<Engine>) {
    let days = engine.routing().confirm_auto_after_days;
    if days == 0 {
        return;
    }
    // The first look after one period, not at start: a service starting
    // under load does not begin with a burst of writes.
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + CONFIRM_EVERY, CONFIRM_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Ok(tenants) = engine.memory().record().tenants().await else {
            continue;
        };
        let before = crate::record::now_ms() - i64::from(days) * 86_400_000;
        for t in tenants.iter().filter(|t| t.suspended_at.is_none()) {
            match engine.confirm_unreturned(&t.tenant.id, before).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(tenant = %t.tenant.id, confirmed = n, days, "auto-routed appeals confirmed by silence")
                }
                Err(e) => {
                    tracing::warn!(tenant = %t.tenant.id, error = %e, "confirming auto-routed appeals failed; next time")
                }
            }
        }
    }
}

/// Opens the record the way the service does: the given URL, else the SQLite
/// file of the data directory (locked, so not while the service runs on it).
pub async fn open_record(
    model: &ModelConfig,
    url: Option<&str>,
) -> Result<(Record, Option<DataDir>), ServeError> {
    match url {
        Some(u) => Ok((Record::open(u).await?, None)),
        None => {
            let dir = DataDir::open(&model.data_dir)?;
            let record = Record::open(&dir.record_url()).await?;
            Ok((record, Some(dir)))
        }
    }
}
