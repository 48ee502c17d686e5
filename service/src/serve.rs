//! The `serve`, `keys` and `tenants` subcommands: run the HTTP service, and
//! bootstrap tenants and API keys from the command line (a tenant's first
//! admin key cannot come from the API, which needs a key).

use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use tokio::net::TcpListener;

use crate::batcher::Batcher;
use crate::config::ModelConfig;
use crate::datadir::{DataDir, DataDirError};
use crate::engine::{Engine, EngineConfig, EngineError, RoutingConfig};
use crate::http::{self, AppState, HttpConfig};
use crate::index::IndexConfig;
use crate::operator_client::{OperatorClient, RemoteArgs};
use crate::record::{Jurisdiction, KeyRole, Record, RecordError, Tenant};

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
    Batcher(#[from] crate::batcher::BatchError),
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
    http::serve(listener, http::app(state), shutdown, grace)
        .await
        .map_err(io)?;
    engine.memory().record().close().await;
    Ok(())
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

/// `appeal-triage keys ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum KeysCommand {
    /// Creates an API key and prints it once (it is stored hashed).
    Create {
        /// Tenant the key acts for.
        #[arg(long)]
        tenant: String,
        /// `portal`, `supervisor` or `admin`.
        #[arg(long)]
        role: String,
        /// Who holds it.
        #[arg(long)]
        label: Option<String>,
        /// System of record URL (default: SQLite in the data directory).
        #[arg(long, env = "APPEAL_TRIAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// The running service, when it holds the data directory.
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Lists a tenant's keys (never their secrets).
    List {
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// System of record URL (default: SQLite in the data directory).
        #[arg(long, env = "APPEAL_TRIAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Revokes a key.
    Revoke {
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Key id.
        #[arg(long)]
        id: String,
        /// System of record URL (default: SQLite in the data directory).
        #[arg(long, env = "APPEAL_TRIAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
}

/// Runs a keys command; returns what to print.
pub async fn keys(model: &ModelConfig, cmd: KeysCommand) -> Result<String, ServeError> {
    match cmd {
        KeysCommand::Create {
            tenant,
            role,
            label,
            database_url,
            remote,
        } => {
            let role = KeyRole::from_str(&role).map_err(ServeError::Invalid)?;
            let (id, secret) = match open_record(model, database_url.as_deref()).await {
                Ok((record, _lock)) => {
                    let (key, secret) = record
                        .create_api_key(&tenant, role, label.as_deref(), "cli")
                        .await?;
                    record.close().await;
                    (key.id, secret)
                }
                Err(ServeError::DataDir(DataDirError::InUse(dir))) => {
                    let why = format!("{} is held by a running service", dir.display());
                    OperatorClient::new(&remote, &why)?
                        .create_key(&tenant, role, label.as_deref())
                        .await?
                }
                Err(e) => return Err(e),
            };
            Ok(format!(
                "{secret}\n# key id {id} ({role} of tenant {tenant}): shown once, store it now\n"
            ))
        }
        KeysCommand::List {
            tenant,
            database_url,
        } => {
            let (record, _lock) = open_record(model, database_url.as_deref()).await?;
            let keys = record.api_keys(&tenant).await?;
            record.close().await;
            Ok(keys
                .iter()
                .map(|k| serde_json::to_string(k).unwrap_or_default() + "\n")
                .collect())
        }
        KeysCommand::Revoke {
            tenant,
            id,
            database_url,
        } => {
            let (record, _lock) = open_record(model, database_url.as_deref()).await?;
            let done = record.revoke_api_key(&tenant, &id, "cli").await?;
            record.close().await;
            if done {
                Ok(format!("revoked {id}\n"))
            } else {
                Err(ServeError::Invalid(format!(
                    "tenant {tenant} has no active key {id}"
                )))
            }
        }
    }
}

/// `appeal-triage tenants ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum TenantsCommand {
    /// Creates or updates a tenant.
    Put {
        /// Tenant id (URL-safe).
        #[arg(long)]
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Deadline rules: `ua`, `ru` or `kz`.
        #[arg(long, default_value = "ua")]
        jurisdiction: String,
        /// Conformal miscoverage level.
        #[arg(long, default_value_t = 0.1)]
        alpha: f64,
        /// Confidence at or above which appeals are routed without review.
        #[arg(long, default_value_t = 0.9)]
        auto_threshold: f64,
        /// System of record URL (default: SQLite in the data directory).
        #[arg(long, env = "APPEAL_TRIAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// The running service, when it holds the data directory.
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// Runs a tenants command; returns what to print.
pub async fn tenants(model: &ModelConfig, cmd: TenantsCommand) -> Result<String, ServeError> {
    match cmd {
        TenantsCommand::Put {
            id,
            name,
            jurisdiction,
            alpha,
            auto_threshold,
            database_url,
            remote,
        } => {
            let jurisdiction =
                Jurisdiction::from_str(&jurisdiction).map_err(ServeError::Invalid)?;
            if !(alpha > 0.0 && alpha < 1.0 && (0.0..=1.0).contains(&auto_threshold)) {
                return Err(ServeError::Invalid(
                    "alpha must be in (0, 1) and auto-threshold in [0, 1]".into(),
                ));
            }
            let tenant = Tenant {
                id: id.clone(),
                name,
                jurisdiction,
                alpha,
                auto_threshold,
            };
            match open_record(model, database_url.as_deref()).await {
                Ok((record, _lock)) => {
                    record.upsert_tenant(&tenant).await?;
                    record.close().await;
                }
                Err(ServeError::DataDir(DataDirError::InUse(dir))) => {
                    let why = format!("{} is held by a running service", dir.display());
                    OperatorClient::new(&remote, &why)?
                        .put_tenant(&tenant)
                        .await?;
                }
                Err(e) => return Err(e),
            }
            Ok(format!("tenant {id} stored\n"))
        }
    }
}
